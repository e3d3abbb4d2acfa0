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
export function bnLayerTerm(batch: ChannelStats, running: ChannelStats, form: BnPriorForm, reduction: BnReduction): tf.Scalar {
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
 * The prior summed over layers: Σ_l w_l · term_l with w_0 = `firstLayerWeight`, w_l = 1.
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
  return tf.tidy(() => {
    const terms = batch.map((b, i) => bnLayerTerm(b, running[i], opts.form, opts.reduction));
    const perLayer = tf.stack(terms) as tf.Tensor1D;
    const weights = tf.tensor1d(terms.map((_, i) => (i === 0 ? opts.firstLayerWeight : 1)));
    return { total: tf.sum(tf.mul(perLayer, weights)) as tf.Scalar, perLayer };
  });
}
