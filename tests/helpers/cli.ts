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
