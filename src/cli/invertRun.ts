/**
 * The inversion pipeline that `arcinvert invert` and `arcinvert leakage --invert` share: stage
 * the output directory, run the library's `invert()` (serial or on worker threads) with an Ink
 * view on a TTY or plain / JSON lines otherwise, write the images, sheet and report, and move
 * them into place all-or-nothing. Ctrl-C finishes the current step and the best images so far
 * are written (the result says `aborted`; the command decides the exit status).
 */
import { availableParallelism } from 'node:os';
import { Option } from 'commander';
import type { FaceModel } from '../model/types.js';
import type { BackendPreference } from '../engine/backend.js';
import type { InvertConfig } from '../invert/config.js';
import { invert } from '../invert/invert.js';
import { stageOutput, writeInvertOutputs, writeSnapshot } from '../invert/outputs.js';
import type { TargetSet } from '../invert/targets.js';
import type { InvertResult } from '../invert/types.js';
import type { ArcFaceHead } from '../arcface/head.js';
import type { CliContext } from './context.js';
import { positiveInt } from './options.js';
import { imageLabel } from './ui/format.js';
import { plainReporter, type ProgressReporter } from './ui/plain.js';

/** `--workers <n>` of the commands that invert (default: the machine's available parallelism). */
export function workersOption(): Option {
  return new Option('--workers <n>', 'worker threads sharing the batches (each with its own engine)')
    .argParser(positiveInt('--workers'))
    .default(availableParallelism());
}

export interface InvertJob {
  fm: FaceModel;
  /** The model directory, for the report. */
  model: string;
  /** The classifier, for the `arcface` identity loss. */
  head?: ArcFaceHead;
  targets: TargetSet;
  config: InvertConfig;
  /** Output directory; refused when not empty unless `overwrite`. */
  out: string;
  overwrite: boolean;
  /** Worker threads, and the backend each selects; `backend` is the one this process uses (for the report). */
  workers: number;
  workerBackend: BackendPreference;
  backend: string;
  /** Progress as JSON lines when not on a TTY. */
  json?: boolean;
  /** Title of the terminal view. */
  title: string;
}

/** Runs `job` (see the module comment) and returns the inversion's result once its outputs are in place. */
export async function invertToDir(ctx: CliContext, job: InvertJob): Promise<InvertResult> {
  // The terminal UI shows a live preview of the current best image.
  const config = ctx.interactive && job.config.previewEvery === 0 ? { ...job.config, previewEvery: 10 } : job.config;
  const staged = await stageOutput(job.out, job.overwrite);
  ctx.err(
    `inverting ${job.targets.n} target(s) × ${config.seeds} seed(s), ${config.steps} steps, batch ${config.batchSize}`,
  );
  ctx.err(`config: ${JSON.stringify(config)}`);
  const ctrl = new AbortController();
  const onSigint = (): void => {
    if (ctrl.signal.aborted) process.exit(130);
    ctrl.abort();
    ctx.err('interrupted: finishing the current step and writing the best images so far (Ctrl-C again to quit now)');
  };
  let reporter: ProgressReporter | undefined;
  try {
    reporter = ctx.interactive
      ? await (await import('./ui/mount.js')).mountInvertView(job.title)
      : plainReporter(ctx.err, { json: job.json, minIntervalMs: 2000 });
    process.on('SIGINT', onSigint);
    const startedAt = new Date().toISOString();
    const result = await invert(job.fm, job.targets, config, {
      head: job.head,
      workers: job.workers,
      backend: job.workerBackend,
      signal: ctrl.signal,
      onProgress: (p) => reporter?.update(p),
      onSnapshot: config.snapshotEvery > 0 ? (s) => writeSnapshot(staged.staging, s) : undefined,
    });
    for (const im of result.images)
      reporter.finish({ label: imageLabel(im.target, im.seed), bestCosine: im.bestCosine });
    const run = { model: job.model, backbone: job.fm.meta.backbone, backend: job.backend, config, startedAt };
    await writeInvertOutputs(staged.staging, result, job.targets, run, job.fm.meta.normalization);
    await staged.commit();
    return result;
  } catch (err) {
    await staged.abandon();
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    reporter?.unmount();
  }
}
