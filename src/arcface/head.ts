/**
 * The ArcFace classifier head: a [D, C·K] weight whose L2-normalised columns are class (or
 * sub-class) centres on the unit hypersphere (ArcFace, Deng et al. 2019, Sec. 2.1: W_j and x_i
 * are normalised so the logit is cos θ_j; Sub-center ArcFace, Sec. 3.1, for K > 1).
 *
 * Like arcface_torch `partial_fc_v2.py`, the head composes and does not fuse: normalise →
 * matmul → `subcenterMax` → the margin function the caller passes in. It owns one variable and
 * releases it in `dispose()`. Saving and loading its weights is `model/headWeights.ts`.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import type { MarginFn } from './margin.js';
import { l2Normalize } from './normalize.js';
import { subcenterMax } from './subcenter.js';

/** Shape and initialisation of the head. */
export interface HeadConfig {
  /** Embedding width D (the backbone's output size). */
  embeddingDim: number;
  /** Number of identities C. */
  numClasses: number;
  /** Sub-centres per class K; 1 is plain ArcFace, 3 is the Sub-center ArcFace default. */
  k: number;
  /** Std of the normal initialisation (arcface_torch: 0.01). */
  initStd: number;
  /** Seed of the initialisation, so runs are reproducible. */
  seed: number;
  /**
   * Width T of the distillation projection P [D, T] (`distill.ts`); 0 = none. P is trained
   * with the head and, like the class centres, is not part of the exported model.
   */
  projectionDim: number;
}

/** Defaults for everything but the two sizes, which have no sensible default. */
export const DEFAULT_HEAD_CONFIG: Readonly<Omit<HeadConfig, 'embeddingDim' | 'numClasses'>> = {
  k: 1,
  initStd: 0.01,
  seed: 0,
  projectionDim: 0,
};

const HEAD_KEYS = ['embeddingDim', 'numClasses', 'k', 'initStd', 'seed', 'projectionDim'];

/**
 * Fills defaults and validates a head config.
 * @throws ArcinvertError on unknown keys, missing sizes or invalid values.
 */
export function resolveHeadConfig(
  partial: Partial<HeadConfig> & Pick<HeadConfig, 'embeddingDim' | 'numClasses'>,
): HeadConfig {
  for (const key of Object.keys(partial)) {
    if (!HEAD_KEYS.includes(key)) throw new ArcinvertError(`unknown head option "${key}"`);
  }
  const cfg: HeadConfig = { ...DEFAULT_HEAD_CONFIG, ...partial };
  for (const key of ['embeddingDim', 'numClasses', 'k'] as const) {
    if (!Number.isInteger(cfg[key]) || cfg[key] < 1) {
      throw new ArcinvertError(`head ${key} must be a positive integer, got ${String(cfg[key])}`);
    }
  }
  if (!(Number.isFinite(cfg.initStd) && cfg.initStd > 0)) {
    throw new ArcinvertError(`head initStd must be > 0, got ${cfg.initStd}`);
  }
  if (!Number.isInteger(cfg.seed)) throw new ArcinvertError(`head seed must be an integer, got ${cfg.seed}`);
  if (!Number.isInteger(cfg.projectionDim) || cfg.projectionDim < 0)
    throw new ArcinvertError(`head projectionDim must be a non-negative integer, got ${String(cfg.projectionDim)}`);
  return cfg;
}

/** The classifier head; call `dispose()` when done. */
export class ArcFaceHead {
  readonly config: HeadConfig;
  /** Class-centre weight [D, C·K]; column c·K + j is sub-centre j of class c. */
  readonly weight: tf.Variable<tf.Rank.R2>;
  /** Distillation projection [D, T], or null (`projectionDim` 0). */
  readonly projection: tf.Variable<tf.Rank.R2> | null;

  /**
   * @param config sizes and init (see `resolveHeadConfig`).
   * @param initial optional weight values [D·C·K] row-major (e.g. from `loadHeadWeights` in `model/headWeights.ts`);
   *   otherwise N(0, initStd²) from `seed`.
   * @param initialProjection optional projection values [D·T]; otherwise N(0, 1/D) from `seed`.
   */
  constructor(
    config: Partial<HeadConfig> & Pick<HeadConfig, 'embeddingDim' | 'numClasses'>,
    initial?: Float32Array,
    initialProjection?: Float32Array,
  ) {
    this.config = resolveHeadConfig(config);
    const { embeddingDim: d, numClasses: c, k, initStd, seed } = this.config;
    const shape: [number, number] = [d, c * k];
    if (initial !== undefined && initial.length !== d * c * k) {
      throw new ArcinvertError(`head weights have ${initial.length} values, expected ${d}·${c * k}`);
    }
    const init = initial ? tf.tensor2d(initial, shape) : tf.randomNormal(shape, 0, initStd, 'float32', seed);
    this.weight = tf.variable(init as tf.Tensor2D, true);
    init.dispose();
    const t = this.config.projectionDim;
    if (t === 0) {
      this.projection = null;
    } else {
      if (initialProjection !== undefined && initialProjection.length !== d * t) {
        throw new ArcinvertError(`head projection has ${initialProjection.length} values, expected ${d}·${t}`);
      }
      const p = initialProjection
        ? tf.tensor2d(initialProjection, [d, t])
        : tf.randomNormal([d, t], 0, 1 / Math.sqrt(d), 'float32', seed + 1);
      this.projection = tf.variable(p as tf.Tensor2D, true);
      p.dispose();
    }
  }

  /** Variables to pass to `optimizer.minimize(f, true, varList)`: the centres, then P if any. */
  get trainableVariables(): tf.Variable[] {
    return this.projection ? [this.weight, this.projection] : [this.weight];
  }

  /**
   * Embeddings mapped into the teacher's space by P.
   * @param embeddings [B, D]. @returns [B, T].
   * @throws ArcinvertError if the head has no projection.
   */
  project(embeddings: tf.Tensor2D): tf.Tensor2D {
    if (this.projection === null) throw new ArcinvertError('this head has no distillation projection');
    return tf.matMul(embeddings, this.projection);
  }

  /**
   * Cosines between each embedding and each (sub-)centre.
   * @param embeddings [B, D], any norm.
   * @returns [B, C·K] in [−1, 1].
   */
  cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    if (embeddings.rank !== 2 || embeddings.shape[1] !== this.config.embeddingDim) {
      throw new ArcinvertError(
        `embeddings must be [B, ${this.config.embeddingDim}], got [${embeddings.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => tf.matMul(l2Normalize(embeddings, 1), l2Normalize(this.weight, 0)));
  }

  /**
   * Margin logits: normalise → matmul → max over sub-centres → `marginFn`.
   * @param embeddings [B, D]. @param labels [B] int32 class ids.
   * @param marginFn e.g. `marginFunction(resolveMarginConfig('arcface'))`.
   * @returns [B, C] logits for `softmaxCrossEntropy`.
   */
  logits(embeddings: tf.Tensor2D, labels: tf.Tensor1D, marginFn: MarginFn): tf.Tensor2D {
    return tf.tidy(() => {
      const cos = subcenterMax(this.cosines(embeddings), this.config.numClasses, this.config.k);
      return marginFn(cos, labels);
    });
  }

  /** Releases the variables. */
  dispose(): void {
    this.weight.dispose();
    this.projection?.dispose();
  }
}
