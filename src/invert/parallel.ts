/**
 * Inversion on several CPU cores: the batches of one `invert` run shared out between
 * `worker_threads`, each with its own TensorFlow.js instance (its own wasm module and heap,
 * one thread each) and its own copy of the model. Workers take the next batch as they
 * finish one, and every batch gives exactly the images a serial `invertSerial` gives it (same
 * plan, same per-batch seeds), returned in the serial order.
 *
 * With fewer batches than workers (the README's 8 targets are one batch), each batch is cut
 * into parts, one per worker, that run together and pool their BatchNorm statistics and loss
 * terms every step (exchange.ts): the images are the serial run's up to float rounding (the
 * batch statistics are summed in another order), on all cores.
 *
 * Not for closed-set (`identityLoss: 'arcface'`) inversion, which needs the classifier in
 * every worker, nor for snapshots; `invert` (invert.ts) runs those serially.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { modelArtifacts } from '../model/artifacts.js';
import type { FaceModel } from '../model/types.js';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { workerScript } from '../util/workerScript.js';
import type { InvertConfig } from './config.js';
import { exchangeBuffer, partOf } from './exchange.js';
import { planBatches, type Job } from './plan.js';
import { createRunContext, disposeRunContext, exchangeLength } from './step.js';
import type {
  InvertDivergence,
  InvertedImage,
  InvertMember,
  InvertProgress,
  InvertResult,
  InvertTargets,
} from './types.js';

export interface ParallelInvertOptions {
  /** Worker threads (default: the machine's available parallelism); never more than batches. */
  workers?: number;
  /** Backend each worker selects (default 'wasm'). */
  backend?: BackendPreference;
  /** Progress of each worker's current batch, tagged with the worker's index. */
  onProgress?: (worker: number, p: InvertProgress) => void;
  /** Stops every worker after its current step; the images so far are returned. */
  signal?: AbortSignal;
  /** The compiled worker module (default: `parallelWorker.js` beside this file, or in dist/ when run from source). */
  workerScript?: URL;
  /** Only these batches of the plan (a shard, `shardBatches`); default all. */
  batches?: readonly number[];
  /** Other models the images must satisfy too (an ensemble), rebuilt in every worker. */
  members?: readonly InvertMember[];
}

/**
 * The compiled worker beside this module; when this module runs from its TypeScript source
 * (tests, ts runners), the build's copy in `dist/`, checked to be no older than `src/`
 * (`workerScript`: worker threads need plain JavaScript, and a stale build is refused).
 */
function defaultWorkerScript(): URL {
  return workerScript(import.meta.url, 'parallelWorker');
}

/** What each worker is started with (structured-cloned). */
export interface WorkerInit {
  artifacts: tf.io.ModelArtifacts;
  meta: FaceModel['meta'];
  calibration?: FaceModel['calibration'];
  targets: InvertTargets;
  config: InvertConfig;
  backend: BackendPreference;
  /** The ensemble's other members, as the model above. */
  members: Array<{
    artifacts: tf.io.ModelArtifacts;
    meta: FaceModel['meta'];
    calibration?: FaceModel['calibration'];
    targets: InvertTargets;
    weight: number;
  }>;
}

/** Messages from a worker. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; progress: InvertProgress }
  | { type: 'batch'; batch: number; images: InvertedImage[]; aborted: boolean; diverged?: InvertDivergence }
  | { type: 'error'; message: string };

/** Which part of a batch a worker runs, and the memory the parts exchange through (`exchange.ts`). */
export interface PartSpec {
  index: number;
  parts: number;
  buffer: SharedArrayBuffer;
  length: number;
}

/** Messages to a worker. */
export type ToWorker = { type: 'run'; batch: number; part?: PartSpec } | { type: 'abort' } | { type: 'stop' };

/** What every worker of a run starts with. */
async function workerInit(
  fm: FaceModel,
  targets: InvertTargets,
  config: InvertConfig,
  options: ParallelInvertOptions,
): Promise<WorkerInit> {
  return {
    artifacts: await modelArtifacts(fm.model),
    meta: fm.meta,
    calibration: fm.calibration,
    targets,
    config,
    backend: options.backend ?? 'wasm',
    members: await Promise.all(
      (options.members ?? []).map(async (m) => ({
        artifacts: await modelArtifacts(m.fm.model),
        meta: m.fm.meta,
        calibration: m.fm.calibration,
        targets: m.targets,
        weight: m.weight,
      })),
    ),
  };
}

/** `exchangeLength` of a run of `fm` with `config` and `members`, from a context built and freed here. */
function exchangeLengthOf(fm: FaceModel, config: InvertConfig, members: readonly InvertMember[]): number {
  const run = createRunContext(fm, config, members);
  try {
    return exchangeLength(run);
  } finally {
    disposeRunContext(run);
  }
}

/**
 * Progress from the workers, as `(worker, progress)`. A batch in parts is reported once every
 * part has reported the same step: the losses are the batch's in every part, the cosines are
 * pooled over the parts' real images, the preview is the first part's that has one.
 */
function partProgress(
  plan: Job[][],
  parts: number,
  emit: (worker: number, p: InvertProgress) => void,
): (worker: number, part: number, p: InvertProgress) => void {
  if (parts === 1) return (worker, _part, p) => emit(worker, p);
  // Keyed by batch and step: a worker may report its next step before another reports this one.
  const pending = new Map<string, InvertProgress[]>();
  return (worker, part, p) => {
    const key = `${p.batch}:${p.step}`;
    const got = pending.get(key) ?? [];
    got[part] = p;
    pending.set(key, got);
    if (got.filter(Boolean).length < parts) return;
    pending.delete(key);
    const reals = Array.from(
      { length: parts },
      (_, k) => partOf(plan[p.batch], parts, k).filter((j) => !j.filler).length,
    );
    const counted = got.filter((_, k) => reals[k] > 0);
    const weights = reals.filter((r) => r > 0);
    const pool = (f: (q: InvertProgress) => number): number =>
      counted.reduce((acc, q, k) => acc + f(q) * weights[k], 0) / weights.reduce((a, b) => a + b, 0);
    emit(worker, {
      ...got[0],
      cosine: {
        mean: pool((q) => q.cosine.mean),
        min: Math.min(...counted.map((q) => q.cosine.min)),
        max: Math.max(...counted.map((q) => q.cosine.max)),
        bestMean: pool((q) => q.cosine.bestMean),
      },
      preview: got.find((q) => q.preview)?.preview,
    });
  };
}

/**
 * `invertSerial(fm, targets, config)` with the batches shared out between worker threads; see the
 * module comment. `seconds` is the wall time of the whole run.
 * @throws ArcinvertError for `identityLoss: 'arcface'`, or when a worker fails.
 */
export async function invertParallel(
  fm: FaceModel,
  targets: InvertTargets,
  config: InvertConfig,
  options: ParallelInvertOptions = {},
): Promise<InvertResult> {
  if (config.identityLoss === 'arcface') {
    throw new ArcinvertError('parallel inversion does not support identity loss arcface; invert serially');
  }
  const started = performance.now();
  const { plan, batches, parts, units, workers } = planUnits(targets, config, options);
  const init = await workerInit(fm, targets, config, options);
  const script = options.workerScript ?? defaultWorkerScript();
  const length = parts > 1 ? exchangeLengthOf(fm, config, options.members ?? []) : 0;
  const buffers = new Map(batches.map((b) => [b, parts > 1 ? exchangeBuffer(parts, length) : undefined]));
  const progress = partProgress(plan, parts, (worker, p) => options.onProgress?.(worker, p));
  const perUnit = new Map<number, InvertedImage[]>();
  let next = 0;
  let aborted = false;
  // The first batch (in plan order) whose loss went non-finite; no batch is started after one.
  let diverged: InvertDivergence | undefined;
  const pool = Array.from({ length: workers }, () => new Worker(script, { workerData: init }));
  const abortAll = (): void => pool.forEach((w) => w.postMessage({ type: 'abort' } satisfies ToWorker));
  options.signal?.addEventListener('abort', abortAll, { once: true });
  const runWorker = (worker: Worker, index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      let unit = -1;
      const give = (): void => {
        // After an abort or a divergence no batch is started, but every part of a started one
        // is: its parts wait for each other at every step.
        if (next < units.length && units[next].part === 0 && (aborted || diverged)) next = units.length;
        if (next >= units.length) {
          worker.postMessage({ type: 'stop' } satisfies ToWorker);
          return resolve();
        }
        unit = next++;
        const { batch, part } = units[unit];
        const buffer = buffers.get(batch);
        worker.postMessage({
          type: 'run',
          batch,
          ...(buffer && { part: { index: part, parts, buffer, length } }),
        } satisfies ToWorker);
      };
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') give();
        else if (m.type === 'progress') progress(index, units[unit].part, m.progress);
        else if (m.type === 'batch') {
          perUnit.set(unit, m.images);
          aborted ||= m.aborted;
          if (m.diverged && (!diverged || m.diverged.batch < diverged.batch)) diverged = m.diverged;
          give();
        } else reject(new ArcinvertError(`inversion worker ${index}: ${m.message}`));
      });
      worker.on('error', (e) => reject(new ArcinvertError(`inversion worker ${index}: ${e.message}`)));
      worker.on('exit', (code) =>
        code === 0 ? resolve() : reject(new ArcinvertError(`inversion worker ${index} exited with code ${code}`)),
      );
    });
  try {
    await Promise.all(pool.map(runWorker));
  } finally {
    options.signal?.removeEventListener('abort', abortAll);
    await Promise.all(pool.map((w) => w.terminate()));
  }
  const images = [...perUnit.keys()].sort((a, b) => a - b).flatMap((u) => perUnit.get(u)!);
  return {
    images,
    aborted,
    ...(diverged && { diverged }),
    ...(parts > 1 && { batchParts: parts }),
    seconds: (performance.now() - started) / 1000,
  };
}

/** The plan, its selected batches, and what the workers run of them: each batch, or each part of each. */
function planUnits(
  targets: InvertTargets,
  config: InvertConfig,
  options: ParallelInvertOptions,
): {
  plan: Job[][];
  batches: readonly number[];
  parts: number;
  units: Array<{ batch: number; part: number }>;
  workers: number;
} {
  const n = targets.embeddings.length / targets.dim;
  const plan = planBatches(n, config.seeds, config.batchSize, config.minBatch);
  const batches = options.batches ?? plan.map((_, b) => b);
  if (batches.some((b) => !Number.isInteger(b) || b < 0 || b >= plan.length))
    throw new ArcinvertError(`batch indices [${batches.join(', ')}] outside the ${plan.length} planned batches`);
  const wanted = Math.max(1, options.workers ?? availableParallelism());
  const parts = batchParts(plan, wanted);
  const units = batches.flatMap((batch) => Array.from({ length: parts }, (_, part) => ({ batch, part })));
  return { plan, batches, parts, units, workers: Math.min(wanted, units.length) };
}

/**
 * Into how many parts each batch of `plan` is cut on `workers` workers: with fewer batches in
 * the plan than workers, as many as fit (each part at least one image), else 1. Decided by the
 * whole plan, not by a shard's batches, so that a shard gives the images the whole run gives.
 */
export function batchParts(plan: readonly Job[][], workers: number): number {
  if (plan.length === 0 || plan.length >= workers) return 1;
  return Math.max(1, Math.min(Math.floor(workers / plan.length), ...plan.map((b) => b.length)));
}
