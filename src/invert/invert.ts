/**
 * The library's inversion entry point: `invert(model, targets, config, options)` runs on this
 * thread, or shares the batches out between worker threads when `workers` > 1 and nothing
 * needs this thread's model (snapshots, the classifier of the `arcface` identity loss); with
 * fewer batches than workers, each batch is cut into parts that run together. Whole batches
 * give the same images for the same seed, config and backend; batches in parts the same up to
 * float rounding.
 */
import type { FaceModel } from '../model/types.js';
import type { BackendPreference } from '../engine/backend.js';
import type { InvertConfig } from './config.js';
import { invertSerial, type InvertHooks } from './loop.js';
import { batchParts, invertParallel } from './parallel.js';
import { planBatches } from './plan.js';
import type { InvertResult, InvertTargets } from './types.js';

export interface InvertOptions extends InvertHooks {
  /** Worker threads sharing the batches (default 1: this thread only). */
  workers?: number;
  /** Backend each worker selects (default 'wasm'); this thread keeps its own. */
  backend?: BackendPreference;
  /** The compiled worker module (default: see `invertParallel`). */
  workerScript?: URL;
  /** Only these batches of the plan (a shard: `shardBatches`), with the images a full run gives them; default all. */
  batches?: readonly number[];
}

/** Whether `invert` shares this run out between worker threads. */
export function runsInParallel(
  targets: InvertTargets,
  config: InvertConfig,
  workers: number,
  selected?: readonly number[],
): boolean {
  const n = targets.embeddings.length / targets.dim;
  const plan = planBatches(n, config.seeds, config.batchSize, config.minBatch);
  const batches = selected ?? plan.map((_, b) => b);
  // Fewer batches than workers: each batch is cut into parts, one per worker (parallel.ts).
  const shared = batches.length > 1 || batchParts(plan, workers) > 1;
  return workers > 1 && shared && config.snapshotEvery === 0 && config.identityLoss !== 'arcface';
}

/**
 * Inverts `targets` through `fm` (see loop.ts), serially or on `options.workers` threads (see
 * the module comment). Progress from every worker goes to `onProgress`; `signal` stops every
 * batch after its current step, and the best images so far are returned.
 */
export function invert(
  fm: FaceModel,
  targets: InvertTargets,
  config: InvertConfig,
  options: InvertOptions = {},
): Promise<InvertResult> {
  const { workers = 1, backend, workerScript, batches, ...hooks } = options;
  if (!runsInParallel(targets, config, workers, batches))
    return invertSerial(fm, targets, config, { ...hooks, batches });
  return invertParallel(fm, targets, config, {
    members: hooks.members,
    workers,
    backend,
    workerScript,
    batches,
    signal: hooks.signal,
    onProgress: (_worker, p) => hooks.onProgress?.(p),
  });
}
