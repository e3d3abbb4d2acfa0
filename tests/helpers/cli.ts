/** Runs the CLI in-process with a context that captures its output lines. */
import type { CliContext } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';

/** Exit status and the lines written to stdout / stderr. */
export interface Captured {
  code: number;
  out: string[];
  err: string[];
}

/** `arcinvert ...argv` through `runCli`, non-interactive. */
export async function cli(...argv: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = { out: (l) => out.push(l), err: (l) => err.push(l), interactive: false };
  return { code: await runCli(argv, ctx), out, err };
}

/** A context that keeps every line, for a command run with `runCli` directly (e.g. while signalled). */
export interface CapturingContext extends CliContext {
  lines: { out: string[]; err: string[] };
}

export function capturingContext(): CapturingContext {
  const lines = { out: [] as string[], err: [] as string[] };
  return { out: (l) => lines.out.push(l), err: (l) => lines.err.push(l), interactive: false, lines };
}

/** `train` flags of a tiny IResNet (16 px input, 8-d embedding) that trains in seconds. */
export const TINY_BACKBONE_FLAGS = [
  '--backbone',
  'iresnet18',
  '--input-size',
  '16',
  '--embedding-size',
  '8',
  '--backbone-config',
  '{"layers":[1,1,1,1],"widths":[4,8,8,16]}',
];

/** The tiny backbone with a 2-epoch schedule on batches of 4, on the wasm backend (default learning rate). */
export const TINY_RUN_FLAGS = [
  ...TINY_BACKBONE_FLAGS,
  '--batch-size',
  '4',
  '--epochs',
  '2',
  '--val-fraction',
  '0.25',
  '--backend',
  'wasm',
];

/** `TINY_RUN_FLAGS` at learning rate 0.05. */
export const QUICK_TRAIN_FLAGS = [...TINY_RUN_FLAGS, '--lr', '0.05'];
