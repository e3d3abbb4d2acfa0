/**
 * The stolen-key attack on a protected template: recover an unprotected embedding whose
 * protected form matches the stolen one, which then serves as a template for the unprotected
 * model (or is inverted into a face, as any leaked embedding).
 *
 * Schemes that are linear or separable have a closed form: `noise` is already an embedding,
 * `quantize` is dequantised (each level to the middle of its bin), `sign` gives ±1, `project`
 * is inverted by Mᵀ (its rows are orthonormal: the least-squares solution of least norm), and
 * `biohash` starts from Mᵀ(2b − 1). The others, and biohash after its start, are optimised: x
 * (unit norm) minimises a relaxed distance between the scheme applied to x and the stolen
 * template — binary cross-entropy of sigmoid(α·pre-activation) against the bits for `biohash`
 * and `mlphash` (the threshold's smooth stand-in), 1 − cosine of the exact polynomial map for
 * `polyprotect` — with Adam (as published recovery attacks on BioHashing do by optimisation).
 */
import * as tf from '@tensorflow/tfjs';
import { mixSeed } from '../util/random.js';
import { gaussians, normalizeRows, orthonormalRows } from './linalg.js';
import { polyKey, type Protected, type ProtectionKey } from './schemes.js';
import { denoise, linearPosterior, priorFactor, signedMean, type EmbeddingPrior } from './prior.js';
import { ArcinvertError } from '../errors.js';

export interface RecoverOptions {
  steps: number;
  lr: number;
  /** Sharpness α of the sigmoid that stands in for a threshold. */
  sharpness: number;
  /**
   * What the attacker knows about face embeddings (`prior.ts`): with it, the linear schemes
   * (noise, sign, project, biohash) are recovered as the prior's posterior mean, in closed form,
   * and the optimised ones (mlphash, polyprotect) in the prior's whitened coordinates with its
   * penalty (`recoverWithPrior`); quantize keeps its closed form.
   */
  prior?: EmbeddingPrior;
  /** With a prior, for the optimised schemes: Adam's learning rate on the whitened coordinates, and the prior's weight. */
  priorLr: number;
  priorWeight: number;
}

export const DEFAULT_RECOVER_OPTIONS: Readonly<RecoverOptions> = {
  steps: 300,
  lr: 0.01,
  sharpness: 20,
  priorLr: 0.05,
  priorWeight: 1,
};

const f32 = (a: Float64Array): Float32Array => Float32Array.from(a);

/** Mᵀ·y for each row of y [n, out] with M [out, dim]: the closed-form start of the projection schemes. */
function transposeApply(m: Float64Array, out: number, dim: number, y: Float32Array, n: number): Float32Array {
  const x = new Float32Array(n * dim);
  for (let r = 0; r < n; r++)
    for (let i = 0; i < out; i++) {
      const v = y[r * out + i];
      if (v === 0) continue;
      for (let k = 0; k < dim; k++) x[r * dim + k] += m[i * dim + k] * v;
    }
  return x;
}

/** Middle of each quantisation bin (edges: half a neighbouring bin's width beyond the outer thresholds). */
function dequantize(key: ProtectionKey, p: Protected): Float32Array {
  const levels = 2 ** (key.options.bits as number);
  const t = key.fitted!.thresholds!;
  const d = key.dim;
  const x = new Float32Array(p.n * d);
  for (let j = 0; j < d; j++) {
    const th = t.slice(j * (levels - 1), (j + 1) * (levels - 1));
    const width = levels > 2 ? (th[th.length - 1] - th[0]) / (levels - 2) : 2 / Math.sqrt(d);
    const edges = [th[0] - width, ...th, th[th.length - 1] + width];
    for (let r = 0; r < p.n; r++) {
      const level = Math.round(p.data[r * d + j] + (levels - 1) / 2);
      x[r * d + j] = (edges[level] + edges[level + 1]) / 2;
    }
  }
  return x;
}

/**
 * The relaxed scheme's loss against the stolen template `target`, as a function of unit rows x
 * [n, dim]; its constant matrices are built once (`dispose` frees them).
 */
function relaxedLoss(
  key: ProtectionKey,
  target: tf.Tensor2D,
  alpha: number,
): { loss: (x: tf.Tensor2D) => tf.Scalar; dispose: () => void } {
  const bce = (pre: tf.Tensor2D): tf.Scalar =>
    tf.losses.sigmoidCrossEntropy(target, tf.mul(pre, alpha) as tf.Tensor2D) as tf.Scalar;
  if (key.scheme === 'biohash') {
    const out = key.options.bits as number;
    const m = tf.tensor2d(f32(orthonormalRows(out, key.dim, key.seed)), [out, key.dim]);
    return { loss: (x) => bce(tf.matMul(x, m, false, true)), dispose: () => m.dispose() };
  }
  if (key.scheme === 'mlphash') {
    const widths = String(key.options.layers).split('x').map(Number);
    const dims = [key.dim, ...widths];
    const ms = widths.map((w, l) => tf.tensor2d(f32(gaussians(w * dims[l], mixSeed(key.seed, l))), [w, dims[l]]));
    const loss = (x: tf.Tensor2D): tf.Scalar => {
      let h = x;
      ms.forEach((m, l) => {
        const y = tf.matMul(h, m, false, true);
        h = (l < ms.length - 1 ? tf.relu(y) : y) as tf.Tensor2D;
      });
      return bce(h);
    };
    return { loss, dispose: () => tf.dispose(ms) };
  }
  // polyprotect: the exact map, compared by cosine.
  const { c, e } = polyKey(key);
  const m = c.length;
  const step = m - (key.options.overlap as number);
  const windows = target.shape[1];
  const unitTarget = tf.tidy(() => tf.div(target, tf.norm(target, 2, 1, true)));
  const loss = (x: tf.Tensor2D): tf.Scalar => {
    const padded = tf.pad(x, [
      [0, 0],
      [0, Math.max(0, (windows - 1) * step + m - key.dim)],
    ]);
    const cols = Array.from({ length: windows }, (_, i) =>
      tf.addN(
        c.map((ck, k) => {
          const v = tf.slice(padded, [0, i * step + k], [-1, 1]);
          let pw: tf.Tensor = v;
          for (let t = 1; t < e[k]; t++) pw = tf.mul(pw, v);
          return tf.mul(pw, ck);
        }),
      ),
    );
    const y = tf.concat(cols, 1);
    const cos = tf.sum(tf.mul(tf.div(y, tf.norm(y, 2, 1, true)), unitTarget), 1);
    return tf.mean(tf.sub(1, cos));
  };
  return { loss, dispose: () => unitTarget.dispose() };
}

/**
 * Unprotected unit embeddings [p.n, key.dim] whose protection under `key` matches `p` (see the
 * module comment).
 */
export function recoverEmbeddings(
  key: ProtectionKey,
  p: Protected,
  options: Partial<RecoverOptions> = {},
): Float32Array {
  const o = { ...DEFAULT_RECOVER_OPTIONS, ...options };
  const d = key.dim;
  // With a prior: the posterior mean for the linear schemes, the whitened optimisation for the
  // others; quantize keeps its closed form.
  if (o.prior && key.scheme !== 'quantize') {
    if (o.prior.dim !== d)
      throw new ArcinvertError(
        `the embedding prior is ${o.prior.dim}-d, the ${key.scheme} key is for ${d}-d templates`,
      );
    if (['noise', 'sign', 'project', 'biohash'].includes(key.scheme))
      return normalizeRows(posteriorMean(key, p, o.prior), d);
    return recoverWithPrior(key, p, o, o.prior);
  }
  switch (key.scheme) {
    case 'noise':
      return normalizeRows(p.data, d);
    case 'quantize':
      return normalizeRows(dequantize(key, p), d);
    case 'sign':
      return normalizeRows(
        p.data.map((b) => 2 * b - 1),
        d,
      );
    case 'project':
      return normalizeRows(transposeApply(orthonormalRows(p.dim, d, key.seed), p.dim, d, p.data, p.n), d);
    default:
      break;
  }
  const start =
    key.scheme === 'biohash'
      ? transposeApply(
          orthonormalRows(p.dim, d, key.seed),
          p.dim,
          d,
          p.data.map((b) => 2 * b - 1),
          p.n,
        )
      : Float32Array.from(gaussians(p.n * d, mixSeed(key.seed, 0x5ec0)));
  const init = tf.tensor2d(start, [p.n, d]);
  const x = tf.variable(init);
  init.dispose();
  const target = tf.tensor2d(p.data, [p.n, p.dim]);
  const relaxed = relaxedLoss(key, target, o.sharpness);
  const opt = tf.train.adam(o.lr);
  try {
    for (let s = 0; s < o.steps; s++)
      opt.minimize(() => relaxed.loss(tf.div(x, tf.norm(x, 2, 1, true)) as tf.Tensor2D))?.dispose();
    return normalizeRows(x.dataSync() as Float32Array, d);
  } finally {
    opt.dispose();
    relaxed.dispose();
    tf.dispose([x, target]);
  }
}

/**
 * The optimised recovery with a prior: x = μ + L·z (L the Cholesky factor of the prior's
 * covariance), starting at the prior mean; Adam moves z, whitened coordinates in which every
 * direction has the spread faces give it, and a penalty ‖z‖²/(2d) (the prior's negative
 * log-density per dimension, weighted by `priorWeight`) keeps x where face embeddings are.
 */
function recoverWithPrior(key: ProtectionKey, p: Protected, o: RecoverOptions, prior: EmbeddingPrior): Float32Array {
  const d = key.dim;
  const factor = priorFactor(prior);
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => (owned.push(t), t);
  let relaxed: ReturnType<typeof relaxedLoss> | undefined;
  let opt: tf.AdamOptimizer | undefined;
  try {
    const lower = keep(tf.tensor2d(Float32Array.from(factor), [d, d]));
    const mean = keep(tf.tensor2d(Float32Array.from(prior.mean), [1, d]));
    const zeros = tf.zeros([p.n, d]);
    const z = keep(tf.variable(zeros));
    zeros.dispose();
    const target = keep(tf.tensor2d(p.data, [p.n, p.dim]));
    relaxed = relaxedLoss(key, target, o.sharpness);
    const fitLoss = relaxed.loss;
    opt = tf.train.adam(o.priorLr);
    const embed = (): tf.Tensor2D => tf.add(mean, tf.matMul(z, lower, false, true));
    for (let s = 0; s < o.steps; s++)
      opt
        .minimize(() => {
          const x = embed();
          const fit = fitLoss(tf.div(x, tf.norm(x, 2, 1, true)) as tf.Tensor2D);
          return tf.add(fit, tf.mul(tf.mean(tf.sum(tf.square(z), 1)), o.priorWeight / (2 * d))) as tf.Scalar;
        })
        ?.dispose();
    const x = tf.tidy(embed);
    const out = normalizeRows(x.dataSync() as Float32Array, d);
    x.dispose();
    return out;
  } finally {
    opt?.dispose();
    relaxed?.dispose();
    tf.dispose(owned);
  }
}

/**
 * The prior's posterior mean of the embeddings behind `p` (`prior.ts`): noise is filtered (the
 * template rescaled to its expected norm √(1 + σ²) first), sign and biohash bits become their
 * expected pre-threshold values, a projection is rescaled to its expected norm, then the
 * measurements are conditioned on.
 */
function posteriorMean(key: ProtectionKey, p: Protected, prior: EmbeddingPrior): Float32Array {
  const d = key.dim;
  if (key.scheme === 'noise') {
    const sigma = key.options.sigma as number;
    const scaled = p.data.map((v) => v * Math.sqrt(1 + sigma * sigma));
    return denoise(prior, scaled, p.n, (sigma * sigma) / d);
  }
  const k = p.dim;
  const m = key.scheme === 'sign' ? identity(d) : orthonormalRows(k, d, key.seed);
  const post = linearPosterior(prior, m, k);
  const out = new Float32Array(p.n * d);
  // The expected norm of M·x under the prior, for a projection normalised by the scheme.
  let norm = 0;
  for (let i = 0; i < k; i++) norm += post.yMean[i] ** 2 + post.ySd[i] ** 2;
  norm = Math.sqrt(norm);
  for (let r = 0; r < p.n; r++) {
    const row = p.data.subarray(r * k, (r + 1) * k);
    const y =
      key.scheme === 'project'
        ? Float64Array.from(row, (v) => v * norm)
        : Float64Array.from(row, (b, i) => signedMean(b > 0, post.yMean[i], post.ySd[i]));
    out.set(post.mean(y), r * d);
  }
  return out;
}

/** The [d, d] identity, row-major. */
function identity(d: number): Float64Array {
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) m[i * d + i] = 1;
  return m;
}
