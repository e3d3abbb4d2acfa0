/**
 * The inversion pipeline that `arcinvert invert` and `arcinvert leakage --invert` share: run the
 * library's `invert()` (serial or on worker threads) with an Ink view on a TTY or plain / JSON
 * lines otherwise, and write the images, sheet and report into the command's staged output
 * (io/staging.ts; the command stages `--out` before any work and commits it at the end).
 * Ctrl-C or SIGTERM finishes the current step and the best images so far are written (the run
 * names the signal; the command exits 130 or 143).
 */
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Option } from 'commander';
import type { FaceModel } from '../model/types.js';
import type { BackendPreference } from '../engine/backend.js';
import type { InvertConfig } from '../invert/config.js';
import { invert } from '../invert/invert.js';
import { planBatches, shardBatches } from '../invert/plan.js';
import type { ShardSpec } from './shard.js';
import { modelFingerprint, targetsFingerprint, writeInvertOutputs, writeSnapshot } from '../invert/outputs.js';
import { ensureDir } from '../io/atomic.js';
import type { StagedOutput } from '../io/staging.js';
import type { TargetSet } from '../invert/targets.js';
import type { InvertMember, InvertResult } from '../invert/types.js';
import type { ArcFaceHead } from '../arcface/head.js';
import type { CliContext } from './context.js';
import { positiveInt } from './options.js';
import { imageLabel } from './ui/format.js';
import { plainReporter, type ProgressReporter } from './ui/plain.js';

/** `--workers <n>` of the commands that invert (default: the machine's available parallelism). */
export function workersOption(): Option {
  return new Option(
    '--workers <n>',
    'worker threads sharing the batches, each with its own engine (fewer batches than workers: each batch is cut into parts that run together)',
  )
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
  /** Where the images, sheet and report go: inside `staged.staging`. */
  dir: string;
  /** The caller's staged output (see io/staging.ts); a second signal removes it and quits. */
  staged: StagedOutput;
  /** Worker threads, and the backend each selects; `backend` is the one this process uses (for the report). */
  workers: number;
  workerBackend: BackendPreference;
  backend: string;
  /** Progress as JSON lines when not on a TTY. */
  json?: boolean;
  /** Title of the terminal view. */
  title: string;
  /** Only this shard's batches (`--shard`); default all. */
  shard?: ShardSpec;
  /** The ensemble's other models (`--model A B …`), and their record for the report. */
  members?: { list: InvertMember[]; record: Array<Record<string, unknown>> };
}

/** The signals that stop an inversion early, and the exit status each gives (128 + its number). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/** An inversion's result, and the signal that stopped it early, if one did. */
export interface InvertRun {
  result: InvertResult;
  signal?: StopSignal;
}

/**
 * Runs `job` (see the module comment), writing into `job.dir`, and returns the result; the
 * caller commits (or abandons) `job.staged`. SIGINT and SIGTERM (what schedulers send before
 * killing a job) both finish the current step and return the best images so far; a second
 * signal quits at once, removing the staging directory (what a write still in flight leaves is
 * removed by the next run), so the previous `--out` is untouched.
 */
export async function invertInto(ctx: CliContext, job: InvertJob): Promise<InvertRun> {
  // The terminal UI shows a live preview of the current best image.
  const config = ctx.interactive && job.config.previewEvery === 0 ? { ...job.config, previewEvery: 10 } : job.config;
  ctx.err(
    `inverting ${job.targets.n} target(s) × ${config.seeds} seed(s), ${config.steps} steps, batch ${config.batchSize}`,
  );
  ctx.err(`config: ${JSON.stringify(config)}`);
  const planned = planBatches(job.targets.n, config.seeds, config.batchSize, config.minBatch).length;
  const batches = job.shard ? shardBatches(planned, job.shard.index, job.shard.count) : undefined;
  if (job.shard && batches)
    ctx.err(
      `shard ${job.shard.index}/${job.shard.count} (${job.shard.from}): ${batches.length === 0 ? 'no batches' : `batches ${batches[0]}–${batches[batches.length - 1]}`} of ${planned}`,
    );
  const ctrl = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const onSignal = (signal: StopSignal): void => {
    if (stoppedBy !== undefined) {
      // Best effort: a file system call still in flight may recreate part of it; whatever is
      // left is a stale staging directory, removed by the next run into the same --out.
      try {
        rmSync(job.staged.staging, { recursive: true, force: true });
      } catch {
        // left for the next run
      }
      process.exit(STOP_SIGNALS[signal]);
    }
    stoppedBy = signal;
    ctrl.abort();
    ctx.err(
      `interrupted (${signal}): finishing the current step and writing the best images so far (a second signal quits at once, writing nothing)`,
    );
  };
  // One handler per signal: process.emit(signal) passes no name.
  const handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map((s) => [s, () => onSignal(s)] as const);
  let reporter: ProgressReporter | undefined;
  try {
    reporter = ctx.interactive
      ? await (await import('./ui/mount.js')).mountInvertView(job.title)
      : plainReporter(ctx.err, { json: job.json, minIntervalMs: 2000 });
    for (const [s, h] of handlers) process.on(s, h);
    const startedAt = new Date().toISOString();
    const result = await invert(job.fm, job.targets, config, {
      head: job.head,
      members: job.members?.list,
      workers: job.workers,
      backend: job.workerBackend,
      signal: ctrl.signal,
      batches,
      onProgress: (p) => reporter?.update(p),
      onSnapshot: config.snapshotEvery > 0 ? (s) => writeSnapshot(job.dir, s) : undefined,
    });
    for (const im of result.images)
      reporter.finish({ label: imageLabel(im.target, im.seed), bestCosine: im.bestCosine });
    const shard = job.shard && batches ? { ...job.shard, batches, plannedBatches: planned } : undefined;
    // The config as asked (the terminal view's preview cadence is display, not part of the run).
    const run = {
      model: job.model,
      modelSha256: modelFingerprint(job.fm.model.getWeights()),
      backbone: job.fm.meta.backbone,
      backend: job.backend,
      config: job.config,
      startedAt,
      shard,
      ...(result.batchParts && { batchParts: result.batchParts }),
      ...(job.members ? { members: membersWithTargets(job.members) } : {}),
    };
    await ensureDir(job.dir);
    await writeInvertOutputs(job.dir, result, job.targets, run, job.fm.meta.normalization);
    return { result, signal: result.aborted ? stoppedBy : undefined };
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
    reporter?.unmount();
  }
}

/** The members' record with each one's targets fingerprinted: they depend on its bridge (or its embedding of the photos). */
function membersWithTargets(members: NonNullable<InvertJob['members']>): Array<Record<string, unknown>> {
  return members.record.map((r, k) => ({ ...r, targetsSha256: targetsFingerprint(members.list[k].targets) }));
}
