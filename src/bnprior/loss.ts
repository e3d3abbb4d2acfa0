/**
 * The BatchNorm-statistics prior (ArcFace TPAMI §3.3, Eq. 8; DeepInversion, Yin et al.
 * CVPR 2020, Eq. 4): a synthesised batch should produce, at the input of every BN layer, the
 * per-channel mean and variance that the layer saw on real faces (its running statistics).
 *
 * Forms, for layer l with batch statistics (μ̃, σ̃²) and running statistics (μ, σ²) over C
 * channels:
 *   - `arcface`:       ‖μ̃ − μ‖² + ‖σ̃ − σ‖²   (squared L2 of means and of standard deviations)
 *   - `deepinversion`: ‖μ̃ − μ‖₂ + ‖σ̃² − σ²‖₂  (plain L2 norms of means and of variances)
 * `reduction: 'sum'` sums the squared/normed terms over channels as the papers do; `'mean'`
 * divides by the channel count (`arcface`) or √C (`deepinversion`, the RMS), which keeps
 * wide layers from dominating and makes one λ work across widths. The first layer's term is
 * multiplied by `firstLayerWeight` (DeepInversion: 10).
 */
import * as tf from '@tensorflow/tfjs';

/** Which distance between batch and running statistics. */
export type BnPriorForm = 'arcface' | 'deepinversion';

/** How per-channel differences are aggregated within a layer. */
export type BnReduction = 'sum' | 'mean';

/** Per-channel statistics of one BN layer: mean [C] and (biased / population) variance [C]. */
export interface ChannelStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Options of `bnStatLoss`. */
export interface BnStatLossOptions {
  form: BnPriorForm;
  reduction: BnReduction;
  /** Multiplier of the first layer's term (DeepInversion's `first_bn_multiplier`). */
  firstLayerWeight: number;
}

/** Keeps √ and ‖·‖ differentiable at 0. */
const EPS = 1e-8;

/** sqrt(Σ d² + ε): an L2 norm whose gradient is finite at d = 0. */
function safeNorm(d: tf.Tensor1D): tf.Scalar {
  return tf.sqrt(tf.sum(tf.square(d)).add(EPS)) as tf.Scalar;
}

/**
 * One layer's prior term.
 *
 * @param batch statistics of the synthesised batch at the layer input, [C] each.
 * @param running the layer's running statistics, [C] each.
 */
export function bnLayerTerm(
  batch: ChannelStats,
  running: ChannelStats,
  form: BnPriorForm,
  reduction: BnReduction,
): tf.Scalar {
  return tf.tidy(() => {
    const c = batch.mean.shape[0];
    const dMean = tf.sub(batch.mean, running.mean) as tf.Tensor1D;
    if (form === 'arcface') {
      const dStd = tf.sub(tf.sqrt(batch.variance.add(EPS)), tf.sqrt(running.variance.add(EPS))) as tf.Tensor1D;
      const s = tf.add(tf.sum(tf.square(dMean)), tf.sum(tf.square(dStd))) as tf.Scalar;
      return reduction === 'mean' ? s.div(c) : s;
    }
    const dVar = tf.sub(batch.variance, running.variance) as tf.Tensor1D;
    const s = tf.add(safeNorm(dMean), safeNorm(dVar)) as tf.Scalar;
    return reduction === 'mean' ? s.div(Math.sqrt(c)) : s;
  });
}

/**
 * The target statistics of every layer of the prior, packed once for `packedBnStatLoss`: all
 * layers' channels side by side, so that the prior is a handful of ops per step instead of a
 * dozen per layer (each op costs its dispatch on every step, forward and backward).
 */
export interface PackedBnPrior {
  form: BnPriorForm;
  /** Channels per layer, in order. */
  channels: number[];
  /** [2, ΣC]: running means, then running variances (`arcface`: standard deviations √(σ²+ε)). */
  running: tf.Tensor2D;
  /** [ΣC, L]: 1 where channel c belongs to layer l (per-layer sums as one matMul). */
  segments: tf.Tensor2D;
  /** [L]: the reduction's per-layer divisor as a factor: 1, 1/C or 1/√C. */
  norm: tf.Tensor1D;
  /** [L]: `firstLayerWeight`, then 1s. */
  weights: tf.Tensor1D;
  dispose(): void;
}

/**
 * Packs the layers' running statistics (read once: they are constants of an inversion) with
 * the options of the prior. The caller disposes the result.
 * @throws Error on an empty list.
 */
export function packBnPrior(running: readonly ChannelStats[], opts: BnStatLossOptions): PackedBnPrior {
  if (running.length === 0) throw new Error('bnStatLoss: 0 batch statistics for 0 layers');
  const channels = running.map((r) => r.mean.shape[0]);
  const total = channels.reduce((a, c) => a + c, 0);
  const seg = new Float32Array(total * channels.length);
  let off = 0;
  channels.forEach((c, l) => {
    for (let i = 0; i < c; i++) seg[(off + i) * channels.length + l] = 1;
    off += c;
  });
  const packed = tf.tidy(() => {
    const means = tf.concat(running.map((r) => r.mean));
    const vars = tf.concat(running.map((r) => r.variance));
    const second = opts.form === 'arcface' ? tf.sqrt(tf.add(vars, EPS)) : vars;
    return {
      running: tf.stack([means, second]) as tf.Tensor2D,
      segments: tf.tensor2d(seg, [total, channels.length]),
      norm: tf.tensor1d(
        channels.map((c) => (opts.reduction === 'sum' ? 1 : opts.form === 'arcface' ? 1 / c : 1 / Math.sqrt(c))),
      ),
      weights: tf.tensor1d(channels.map((_, i) => (i === 0 ? opts.firstLayerWeight : 1))),
    };
  });
  return {
    form: opts.form,
    channels,
    ...packed,
    dispose: () => tf.dispose([packed.running, packed.segments, packed.norm, packed.weights]),
  };
}

/**
 * The prior of `bnStatLoss` on packed targets.
 * @param batch per-layer batch statistics as [2, C_l] (mean row, variance row; `channelStats`).
 * @returns the weighted total and each layer's unweighted term [L].
 */
export function packedBnStatLoss(
  batch: readonly tf.Tensor[],
  prior: PackedBnPrior,
): { total: tf.Scalar; perLayer: tf.Tensor1D } {
  const l = prior.channels.length;
  if (batch.length !== l) throw new Error(`bnStatLoss: ${batch.length} batch statistics for ${l} layers`);
  batch.forEach((b, i) => {
    if (b.rank !== 2 || b.shape[0] !== 2 || b.shape[1] !== prior.channels[i]) {
      throw new Error(
        `bnStatLoss: layer ${i} statistics have shape [${b.shape.join(', ')}], expected [2, ${prior.channels[i]}]`,
      );
    }
  });
  return tf.tidy(() => packedBnStatLossOf(tf.concat(batch as tf.Tensor2D[], 1), prior));
}

/**
 * `packedBnStatLoss` of the layers' statistics already side by side: [2, Σ C_l] in layer order
 * (what one concat of the per-layer [2, C_l] gives).
 */
export function packedBnStatLossOf(
  stats: tf.Tensor2D,
  prior: PackedBnPrior,
): { total: tf.Scalar; perLayer: tf.Tensor1D } {
  return tf.tidy(() => {
    const [ss, cc] = stats.shape;
    // arcface compares standard deviations: the variance row goes through √(σ̃² + ε).
    const compared =
      prior.form === 'arcface'
        ? tf.concat([tf.slice(stats, [0, 0], [1, cc]), tf.sqrt(tf.add(tf.slice(stats, [1, 0], [ss - 1, cc]), EPS))])
        : stats;
    const sums = tf.matMul(tf.square(tf.sub(compared, prior.running)), prior.segments); // [2, L]
    const rows = prior.form === 'arcface' ? sums : tf.sqrt(tf.add(sums, EPS));
    const perLayer = tf.mul(tf.sum(rows, 0), prior.norm) as tf.Tensor1D;
    return { total: tf.sum(tf.mul(perLayer, prior.weights)) as tf.Scalar, perLayer };
  });
}

/**
 * The prior summed over layers: Σ_l w_l · term_l with w_0 = `firstLayerWeight`, w_l = 1
 * (`bnLayerTerm` per layer; computed packed).
 *
 * @param batch per-layer batch statistics, in network order.
 * @param running per-layer running statistics, same order.
 * @returns the scalar prior and each layer's unweighted term [L].
 */
export function bnStatLoss(
  batch: readonly ChannelStats[],
  running: readonly ChannelStats[],
  opts: BnStatLossOptions,
): { total: tf.Scalar; perLayer: tf.Tensor1D } {
  if (batch.length !== running.length || batch.length === 0) {
    throw new Error(`bnStatLoss: ${batch.length} batch statistics for ${running.length} layers`);
  }
  const prior = packBnPrior(running, opts);
  try {
    return tf.tidy(() =>
      packedBnStatLoss(
        batch.map((b) => tf.stack([b.mean, b.variance])),
        prior,
      ),
    );
  } finally {
    prior.dispose();
  }
}
