/**
 * Option parsers shared by the commands: each turns a flag's string into a typed value or
 * throws a one-line `ArcinvertError` naming the flag.
 */
import { availableParallelism } from 'node:os';
import { Option } from 'commander';
import { ALIGN_MODES, maybeAlign, type AlignMode, type PreparedImage } from '../align/align.js';
import { BACKEND_PREFERENCES, selectBackend, type BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { requireUsableImages, type ImageSkip } from '../io/image.js';
import type { Embedder } from '../model/embed.js';
import type { FaceModel } from '../model/types.js';
import { EMBED_RUNTIMES, embedderFor, type EmbedRuntime } from '../onnx/runtime.js';
import type { CliContext } from './context.js';

/** `--backend auto|tensorflow|wasm|cpu`, on every command that computes. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'compute backend').choices(BACKEND_PREFERENCES).default('auto');
}

/** Selects the backend, prints the choice once on stderr, and returns its description. */
export async function useBackend(ctx: CliContext, preference: BackendPreference): Promise<string> {
  const info = await selectBackend(preference);
  ctx.err(`backend: ${info.device}`);
  return info.device;
}

/** `--runtime`: what runs the forward passes of a command that only embeds. */
export function runtimeOption(): Option {
  return new Option(
    '--runtime <name>',
    'what runs the forward passes: onnxruntime (native, multi-threaded; auto: where installed), or tfjs on --backend',
  )
    .choices(EMBED_RUNTIMES)
    .default('auto');
}

/** The embedder `--runtime` asks for, its choice printed once on stderr; undefined: tfjs. */
export async function useEmbedder(
  ctx: CliContext,
  fm: FaceModel,
  runtime: EmbedRuntime,
): Promise<Embedder | undefined> {
  const { embedder, why } = await embedderFor(fm, runtime);
  if (embedder) ctx.err(`runtime: onnxruntime (${availableParallelism()} threads)`);
  else ctx.err(`runtime: tfjs${why ? ` (${why})` : ''}`);
  return embedder;
}

/** Parses a positive integer flag. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 1)
      throw new ArcinvertError(`${flag} must be a positive integer, got '${value}'`);
    return n;
  };
}

/** Parses a non-negative integer flag. */
export function nonNegativeInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0)
      throw new ArcinvertError(`${flag} must be a non-negative integer, got '${value}'`);
    return n;
  };
}

/** Parses a finite number flag that satisfies `ok`; the error says it must be `what`. */
export function finiteNumber(flag: string, ok: (n: number) => boolean, what: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || !ok(n))
      throw new ArcinvertError(`${flag} must be ${what}, got '${value}'`);
    return n;
  };
}

/** Parses a finite non-negative number flag. */
export function nonNegativeNumber(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new ArcinvertError(`${flag} must be a number ≥ 0, got '${value}'`);
    return n;
  };
}

/** Lists images skipped under the many-images policy on stderr, one line each. */
export function reportSkipped(ctx: CliContext, skipped: readonly ImageSkip[]): void {
  for (const s of skipped) ctx.err(`skipped ${JSON.stringify(s.source).slice(1, -1)}: ${s.reason}`);
}

/** `requireUsableImages`, saying "no face found" when that is why every photo was skipped. */
export function requireAligned<T>(usable: T[], skipped: readonly ImageSkip[], total: number): T[] {
  if (usable.length === 0 && skipped.length > 0 && skipped.every((s) => s.reason === 'no face found'))
    throw new ArcinvertError(`no face found in any of the ${total} photo(s)`);
  return requireUsableImages(usable, skipped, total);
}

/** `--align auto|yes|no` for commands that read face photos. */
export function alignOption(): Option {
  return new Option('--align <mode>', 'align photos onto the ArcFace template first (auto: unless already 112×112)')
    .choices(ALIGN_MODES)
    .default('auto');
}

/**
 * Prepares photos for a model as `--align` asks (auto: photos of 112×112 or of the model's
 * input size are used as they are), under the many-images policy: each photo that cannot be
 * used (unreadable, undecodable, too small, no face) is reported on stderr with the reason and
 * left out; fails (exit 2) only when none is left.
 */
export async function preparePhotos(
  ctx: CliContext,
  files: string[],
  mode: AlignMode,
  inputSize: [number, number],
): Promise<PreparedImage[]> {
  // A photo at the model's own input size counts as an aligned crop too.
  const { images, skipped } = await maybeAlign(files, mode, { alignedSizes: [[inputSize[1], inputSize[0]]] });
  reportSkipped(ctx, skipped);
  return requireAligned(images, skipped, files.length);
}
