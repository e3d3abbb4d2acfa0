/**
 * Data-parallel training on several CPU cores (arcface_torch's DistributedDataParallel, one
 * process per GPU, here one `worker_threads` worker per core, each with its own TensorFlow.js
 * instance). The main thread keeps the model, head, optimiser state and data loader; each step
 * the batch of B images is cut into chunks of B/W images, the main thread computes the forward
 * and backward pass of chunk 0 itself while worker k computes chunk k (so W threads in all),
 * and the main thread sums the gradients in chunk order, clips, runs
 * SGD and updates the BatchNorm moving statistics once per chunk in chunk order.
 *
 * So W workers give the same weights as one process with `microBatch = B/W` (up to the order of
 * float sums): BN normalises each chunk by its own statistics, as each GPU's BN does in
 * arcface_torch. With `microBatch` set as well, each worker splits its chunk further (every
 * piece's BN statistics go back, in order). Dropout (iresnet `dropout > 0`) draws different
 * masks than a serial run.
 *
 * Per step the weights go out once through a SharedArrayBuffer that all workers read, the
 * image chunks and the flat gradients are transferred, not copied.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError, ConfigError } from '../errors.js';
import { modelArtifacts } from '../model/artifacts.js';
import { workerScript } from '../util/workerScript.js';
import type { TrainConfig } from './config.js';
import type { ArcFaceHead, HeadConfig } from '../arcface/head.js';
import { marginFunction, type MarginFn } from '../arcface/margin.js';
import { applyGradients, batchGradients, type DistillBatch, type StepOut, type trainables } from './step.js';

/**
 * Images per worker, B / W.
 * @throws ArcinvertError when W > 1 and B is not a multiple of W, a share is under 2 images
 *   (BatchNorm needs a batch), or `microBatch` exceeds a share.
 */
export function workerShare(cfg: Pick<TrainConfig, 'batchSize' | 'microBatch'>, workers: number): number {
  if (!Number.isInteger(workers) || workers < 1)
    throw new ConfigError(['workers'], (k) => `${k('workers')} must be a positive integer, got ${workers}`);
  if (workers === 1) return cfg.batchSize;
  const share = cfg.batchSize / workers;
  if (!Number.isInteger(share))
    throw new ConfigError(
      ['batchSize', 'workers'],
      (k) => `${k('batchSize')} ${cfg.batchSize} is not a multiple of ${k('workers')} ${workers}`,
    );
  if (share < 2)
    throw new ConfigError(
      ['batchSize'],
      (k) =>
        `${k('batchSize')} ${cfg.batchSize} gives each of ${workers} workers under 2 images (BatchNorm needs a batch)`,
    );
  if (cfg.microBatch > share)
    throw new ConfigError(
      ['microBatch'],
      (k) =>
        `${k('microBatch')} ${cfg.microBatch} exceeds each worker's share of the batch (${cfg.batchSize} / ${workers} = ${share})`,
    );
  return share;
}

/** The most workers, up to `cores`, that `workerShare` accepts for this config (at least 1). */
export function defaultWorkers(cfg: Pick<TrainConfig, 'batchSize' | 'microBatch'>, cores: number): number {
  for (let w = Math.max(1, Math.floor(cores)); w > 1; w--) {
    const share = cfg.batchSize / w;
    if (Number.isInteger(share) && share >= 2 && cfg.microBatch <= share) return w;
  }
  return 1;
}

/** The BatchNormalization layers of a model, in model order. */
export function bnLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
}

/** What each worker is started with (structured-cloned). */
export interface TrainWorkerInit {
  artifacts: tf.io.ModelArtifacts;
  meta: FaceModel['meta'];
  head: HeadConfig;
  config: TrainConfig;
  backend: BackendPreference;
  /** Trainable variable names and shapes, in `trainables` order, laid out flat in `weights`. */
  names: string[];
  shapes: number[][];
  /** The BN layer names, in model order. */
  bn: string[];
  weights: SharedArrayBuffer;
}

/** Messages to a worker. */
export type ToTrainWorker =
  | {
      type: 'step';
      images: Float32Array;
      shape: [number, number, number, number];
      labels: Int32Array;
      total: number;
      distill?: { targets: Float32Array; dim: number; weight: number };
    }
  | { type: 'stop' };

/** Messages from a worker. */
export type FromTrainWorker =
  | { type: 'ready' }
  /** `loss`: the chunk's weighted loss; `grads`: flat, in `names` order; `bn`: per piece, per BN layer, mean then variance. */
  | { type: 'grads'; loss: number; grads: Float32Array; bn: Float32Array; pieces: number }
  | { type: 'error'; message: string };

export interface ParallelTrainOptions {
  workers: number;
  /** Backend each worker selects (default: the main thread's current backend). */
  backend?: BackendPreference;
  /** The compiled worker module (default: `trainWorker.js` beside this file, or in dist/ when run from source). */
  workerScript?: URL;
}

/**
 * The compiled worker beside this module; when this module runs from its TypeScript source
 * (tests, ts runners), the build's copy in `dist/`, checked to be no older than `src/`
 * (`workerScript`: worker threads need plain JavaScript, and a stale build is refused).
 */
function defaultWorkerScript(): URL {
  return workerScript(import.meta.url, 'trainWorker');
}

/** First line of an error's message, so that the CLI prints one line (errors from a worker may come from another realm). */
function firstLine(e: unknown): string {
  const message =
    typeof e === 'object' && e !== null && typeof (e as Error).message === 'string' ? (e as Error).message : String(e);
  return message.split('\n')[0];
}

/**
 * A pool of training workers bound to one model and head; `step` replaces `trainStep`.
 * `dispose()` stops the workers (the caller's tensors are untouched).
 */
export class ParallelTrainer {
  private readonly pending = new Map<number, { resolve: (m: FromTrainWorker) => void; reject: (e: Error) => void }>();
  private failure: ArcinvertError | null = null;
  private readonly margin: MarginFn;

  private constructor(
    private readonly fm: FaceModel,
    private readonly head: ArcFaceHead,
    private readonly p: ReturnType<typeof trainables>,
    private readonly cfg: TrainConfig,
    private readonly pool: Worker[],
    private readonly weights: Float32Array,
    readonly share: number,
  ) {
    this.margin = marginFunction(cfg.margin);
    pool.forEach((w, i) => {
      const fail = (message: string): void => {
        const e = new ArcinvertError(`training worker ${i + 1}: ${message}`);
        this.failure ??= e;
        this.pending.get(i)?.reject(e);
        this.pending.delete(i);
      };
      w.on('message', (m: FromTrainWorker) => {
        if (m.type === 'error') fail(firstLine(m.message));
        else {
          this.pending.get(i)?.resolve(m);
          this.pending.delete(i);
        }
      });
      w.on('error', (e) => fail(firstLine(e)));
      w.on('exit', (code) => fail(`exited with code ${code}`));
    });
  }

  /** Starts `options.workers − 1` workers (the main thread is the first) and waits until each has built its model. */
  static async start(
    fm: FaceModel,
    head: ArcFaceHead,
    p: ReturnType<typeof trainables>,
    cfg: TrainConfig,
    options: ParallelTrainOptions,
  ): Promise<ParallelTrainer> {
    const share = workerShare(cfg, options.workers);
    const size = p.vars.reduce((n, v) => n + v.size, 0);
    const weights = new SharedArrayBuffer(size * 4);
    const init: TrainWorkerInit = {
      artifacts: await modelArtifacts(fm.model),
      meta: fm.meta,
      head: head.config,
      config: cfg,
      backend: options.backend ?? (tf.getBackend() as BackendPreference),
      names: p.names,
      shapes: p.vars.map((v) => v.shape),
      bn: bnLayers(fm.model).map((l) => l.name),
      weights,
    };
    const script = options.workerScript ?? defaultWorkerScript();
    const pool = Array.from({ length: options.workers - 1 }, () => new Worker(script, { workerData: init }));
    const trainer = new ParallelTrainer(fm, head, p, cfg, pool, new Float32Array(weights), share);
    try {
      await Promise.all(pool.map((_, i) => trainer.reply(i)));
    } catch (e) {
      await trainer.dispose();
      throw e;
    }
    return trainer;
  }

  /** The next message of worker `i + 1`. */
  private reply(i: number): Promise<FromTrainWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.pending.set(i, { resolve, reject }));
  }

  /**
   * One optimiser step on a batch, in place on the model and head variables; same contract as
   * `trainStep`. Chunk k of `share` images goes to worker k, chunk 0 stays here (a short last
   * batch uses fewer workers).
   */
  async step(
    buffers: tf.Tensor[],
    images: tf.Tensor4D,
    labels: tf.Tensor1D,
    lr: number,
    distill?: DistillBatch,
  ): Promise<StepOut> {
    if (this.failure) throw this.failure;
    const n = images.shape[0];
    const replies = await this.sendChunks(images, labels, distill);
    // Chunk 0 here, while the workers run; its forward pass updates the moving statistics first, as in chunk order.
    const len0 = Math.min(this.share, n);
    const own = tf.tidy(
      () =>
        [
          tf.slice(images, [0, 0, 0, 0], [len0, -1, -1, -1]) as tf.Tensor4D,
          tf.slice(labels, [0], [len0]) as tf.Tensor1D,
        ] as const,
    );
    const ownDistill = distill
      ? { targets: tf.slice(distill.targets, [0, 0], [len0, -1]) as tf.Tensor2D, weight: distill.weight }
      : undefined;
    let { loss, grads: sum } = batchGradients({
      fm: this.fm,
      head: this.head,
      margin: this.margin,
      vars: this.p.vars,
      images: own[0],
      labels: own[1],
      chunk: this.cfg.microBatch > 0 ? this.cfg.microBatch : len0,
      total: n,
      distill: ownDistill,
    });
    tf.dispose([...own, ...(ownDistill ? [ownDistill.targets] : [])]);
    try {
      const results = (await Promise.all(replies)) as Extract<FromTrainWorker, { type: 'grads' }>[];
      for (const r of results) {
        const prevLoss = loss;
        loss = tf.add(prevLoss, r.loss) as tf.Scalar;
        const g = this.unflatten(r.grads);
        const prev: tf.Tensor[] = sum;
        sum = prev.map((t, i) => tf.add(t, g[i]));
        tf.dispose([prevLoss, ...prev, ...g]);
        this.updateMovingStats(r.bn, r.pieces);
      }
    } catch (e) {
      tf.dispose([loss, ...sum]);
      throw e;
    }
    return applyGradients(this.p, buffers, loss, sum, this.cfg, lr);
  }

  /** Copies the current weights to the shared buffer and sends chunks 1… of the batch to the workers. */
  private async sendChunks(
    images: tf.Tensor4D,
    labels: tf.Tensor1D,
    distill?: DistillBatch,
  ): Promise<Promise<FromTrainWorker>[]> {
    let off = 0;
    for (const v of this.p.vars) {
      const d = (await v.data()) as Float32Array;
      this.weights.set(d, off);
      off += d.length;
    }
    const [x, y] = [(await images.data()) as Float32Array, (await labels.data()) as Int32Array];
    const [n, h, w, c] = images.shape;
    const per = h * w * c;
    const t = distill ? { data: (await distill.targets.data()) as Float32Array, dim: distill.targets.shape[1] } : null;
    const replies: Promise<FromTrainWorker>[] = [];
    for (let k = 1, start = this.share; start < n; k++, start += this.share) {
      const len = Math.min(this.share, n - start);
      const chunk = x.slice(start * per, (start + len) * per);
      const lab = y.slice(start, start + len);
      const reply = this.reply(k - 1);
      const dt =
        t && distill
          ? { targets: t.data.slice(start * t.dim, (start + len) * t.dim), dim: t.dim, weight: distill.weight }
          : undefined;
      this.pool[k - 1].postMessage(
        {
          type: 'step',
          images: chunk,
          shape: [len, h, w, c],
          labels: lab,
          total: n,
          distill: dt,
        } satisfies ToTrainWorker,
        [chunk.buffer, lab.buffer, ...(dt ? [dt.targets.buffer] : [])],
      );
      replies.push(reply);
    }
    return replies;
  }

  /** One tensor per trainable variable from a flat gradient. */
  private unflatten(flat: Float32Array): tf.Tensor[] {
    let off = 0;
    return this.p.vars.map((v) => {
      const t = tf.tensor(flat.subarray(off, off + v.size), v.shape, 'float32');
      off += v.size;
      return t;
    });
  }

  /**
   * The moving-average update BatchNormalization does in training mode (tfjs-layers
   * `doMovingAverage`, same ops), once per piece of the worker's chunk, in order.
   */
  private updateMovingStats(bn: Float32Array, pieces: number): void {
    const layers = bnLayers(this.fm.model);
    let off = 0;
    for (let piece = 0; piece < pieces; piece++) {
      for (const layer of layers) {
        const decay = 1 - (layer.getConfig().momentum as number);
        for (const variable of layer.nonTrainableWeights) {
          const value = bn.subarray(off, off + variable.shape[0]!);
          off += value.length;
          tf.tidy(() => {
            const orig = variable.read();
            variable.write(tf.sub(orig, tf.mul(tf.sub(orig, tf.tensor1d(value)), decay)));
          });
        }
      }
    }
  }

  /** Stops the workers. */
  async dispose(): Promise<void> {
    this.failure ??= new ArcinvertError('the training workers were stopped');
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}
