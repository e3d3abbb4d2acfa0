/**
 * Inversion on several CPU cores: the batches of one `invert` run shared out between
 * `worker_threads`, each with its own TensorFlow.js instance (its own wasm module and heap,
 * one thread each) and its own copy of the model. Workers take the next batch as they
 * finish one, and every batch gives exactly the images a serial `invertSerial` gives it (same
 * plan, same per-batch seeds), returned in the serial order.
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
import { planBatches } from './plan.js';
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

/** Messages to a worker. */
export type ToWorker = { type: 'run'; batch: number } | { type: 'abort' } | { type: 'stop' };

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
  const n = targets.embeddings.length / targets.dim;
  const planned = planBatches(n, config.seeds, config.batchSize, config.minBatch).length;
  const queue = options.batches ?? Array.from({ length: planned }, (_, b) => b);
  if (queue.some((b) => !Number.isInteger(b) || b < 0 || b >= planned))
    throw new ArcinvertError(`batch indices [${queue.join(', ')}] outside the ${planned} planned batches`);
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), queue.length));
  const init: WorkerInit = {
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
  const script = options.workerScript ?? defaultWorkerScript();
  const perBatch = new Map<number, InvertedImage[]>();
  let next = 0;
  let aborted = false;
  // The first batch (in plan order) whose loss went non-finite; no batch is started after one.
  let diverged: InvertDivergence | undefined;
  const pool = Array.from({ length: workers }, () => new Worker(script, { workerData: init }));
  const abortAll = (): void => pool.forEach((w) => w.postMessage({ type: 'abort' } satisfies ToWorker));
  options.signal?.addEventListener('abort', abortAll, { once: true });
  const runWorker = (worker: Worker, index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const give = (): void => {
        const message: ToWorker =
          next < queue.length && !aborted && !diverged ? { type: 'run', batch: queue[next++] } : { type: 'stop' };
        worker.postMessage(message);
        if (message.type === 'stop') resolve();
      };
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') give();
        else if (m.type === 'progress') options.onProgress?.(index, m.progress);
        else if (m.type === 'batch') {
          perBatch.set(m.batch, m.images);
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
  const images = [...perBatch.keys()].sort((a, b) => a - b).flatMap((b) => perBatch.get(b)!);
  return { images, aborted, ...(diverged && { diverged }), seconds: (performance.now() - started) / 1000 };
}
