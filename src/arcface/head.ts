/**
 * The ArcFace classifier head: a [D, C·K] weight whose L2-normalised columns are class (or
 * sub-class) centres on the unit hypersphere (ArcFace, Deng et al. 2019, Sec. 2.1: W_j and x_i
 * are normalised so the logit is cos θ_j; Sub-center ArcFace, Sec. 3.1, for K > 1).
 *
 * Like arcface_torch `partial_fc_v2.py`, the head composes and does not fuse: normalise →
 * matmul → `subcenterMax` → the margin function the caller passes in. It owns one variable and
 * releases it in `dispose()`. Weights save as a raw little-endian float32 `.bin` plus a `.json`
 * with the shape, each written to a temporary file and renamed into place (atomic on POSIX).
 */
import { promises as fsp } from 'node:fs';
import { endianness } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { MarginFn } from './margin.js';
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

/**
 * Divides x by its L2 norm along `axis`, with the norm floored at 1e-6 (as tf.math.l2_normalize
 * floors the squared norm at 1e-12) so a zero vector gives zeros and finite gradients.
 */
export function l2Normalize<T extends tf.Tensor>(x: T, axis: number): T {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-12))) as T);
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
   * @param initial optional weight values [D·C·K] row-major (e.g. from `loadHeadWeights`);
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

/** Contents of the `.json` written beside the weights. */
export interface HeadWeightsMeta {
  format: 'arcinvert-head';
  dtype: 'float32';
  /** [D, C·K]. */
  shape: [number, number];
  numClasses: number;
  k: number;
  /** [D, T] of the distillation projection, stored after the centres in the `.bin`; absent = none. */
  projection?: [number, number];
}

/** Float32Array views use the host byte order; the file format is little-endian. */
function ensureLittleEndian(): void {
  if (endianness() !== 'LE') throw new ArcinvertError('head weight files need a little-endian host');
}

/**
 * Writes `<basePath>.bin` (raw float32, little-endian, row-major [D, C·K]) and then
 * `<basePath>.json` (`HeadWeightsMeta`); each lands by an atomic rename.
 */
export async function saveHeadWeights(head: ArcFaceHead, basePath: string): Promise<void> {
  ensureLittleEndian();
  const centres = (await head.weight.data()) as Float32Array;
  const proj = head.projection ? ((await head.projection.data()) as Float32Array) : new Float32Array(0);
  const values = new Float32Array(centres.length + proj.length);
  values.set(centres);
  values.set(proj, centres.length);
  const meta: HeadWeightsMeta = {
    format: 'arcinvert-head',
    dtype: 'float32',
    shape: [head.config.embeddingDim, head.config.numClasses * head.config.k],
    numClasses: head.config.numClasses,
    k: head.config.k,
    ...(head.projection
      ? { projection: [head.config.embeddingDim, head.config.projectionDim] as [number, number] }
      : {}),
  };
  await writeFileAtomic(`${basePath}.bin`, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  await writeFileAtomic(`${basePath}.json`, `${JSON.stringify(meta, null, 2)}\n`);
}

/**
 * Reads weights written by `saveHeadWeights`.
 * @throws ArcinvertError if a file is missing, the JSON is malformed, or the sizes disagree.
 */
export async function loadHeadWeights(
  basePath: string,
): Promise<{ meta: HeadWeightsMeta; values: Float32Array; projection: Float32Array | null }> {
  ensureLittleEndian();
  let meta: HeadWeightsMeta;
  let bytes: Buffer;
  try {
    meta = JSON.parse(await fsp.readFile(`${basePath}.json`, 'utf8')) as HeadWeightsMeta;
    bytes = await fsp.readFile(`${basePath}.bin`);
  } catch (err) {
    throw new ArcinvertError(`cannot read head weights ${basePath}.{json,bin}: ${(err as Error).message}`);
  }
  const shape = meta?.shape;
  if (
    meta?.format !== 'arcinvert-head' ||
    meta.dtype !== 'float32' ||
    !Array.isArray(shape) ||
    shape.length !== 2 ||
    !shape.every((n) => Number.isInteger(n) && n > 0) ||
    shape[1] !== meta.numClasses * meta.k ||
    (meta.projection !== undefined &&
      !(
        Array.isArray(meta.projection) &&
        meta.projection.length === 2 &&
        meta.projection[0] === shape[0] &&
        Number.isInteger(meta.projection[1]) &&
        meta.projection[1] > 0
      ))
  ) {
    throw new ArcinvertError(`${basePath}.json is not an arcinvert head description`);
  }
  const n = shape[0] * shape[1];
  const np = meta.projection ? meta.projection[0] * meta.projection[1] : 0;
  if (bytes.byteLength !== (n + np) * 4) {
    throw new ArcinvertError(`${basePath}.bin has ${bytes.byteLength} bytes, expected ${(n + np) * 4}`);
  }
  const all = new Float32Array(n + np);
  new Uint8Array(all.buffer).set(bytes);
  return { meta, values: all.subarray(0, n), projection: np > 0 ? all.subarray(n) : null };
}

/** Builds a head from saved weights (the seed/initStd of `config` are irrelevant then). */
export async function loadArcFaceHead(basePath: string): Promise<ArcFaceHead> {
  const { meta, values, projection } = await loadHeadWeights(basePath);
  return new ArcFaceHead(
    { embeddingDim: meta.shape[0], numClasses: meta.numClasses, k: meta.k, projectionDim: meta.projection?.[1] ?? 0 },
    values,
    projection ?? undefined,
  );
}
