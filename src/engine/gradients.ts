/**
 * Gradients that replace tfjs-core's where those spend their time materialising broadcasts
 * or in slow kernels. Backend-independent: plain tf ops, registered with
 * `tf.registerGradient`, so they hold on every backend (tfjs-node included). Each is
 * computed only when the tape asks for it.
 *
 * FusedBatchNorm (tfjs-core `gradients/FusedBatchNorm_grad.ts`): the stock gradient tiles
 * 1/√(σ² + ε) to the full activation shape (`tf.tile`, ~14× the cost of an element-wise op on
 * wasm) and eagerly computes x − μ and dy·γ even when only dx is wanted, as in inversion, where
 * μ and σ² are constants. Here, with r = 1/√(σ² + ε), γ the scale, P the broadcast shape of
 * the parameters and `reduceTo(t, s)` the sum of t over the axes that s broadcasts along:
 *   dx = dy · (γ r)                                  one per-channel multiply (`channelAffine`)
 *   dμ = reduceTo(−(γ r) · reduceTo(dy, P), μ)
 *   dσ² = reduceTo(−½ γ r³ · reduceTo((x − μ) dy, P), σ²)
 *   dγ = reduceTo(r · reduceTo((x − μ) dy, P), γ)
 *   dβ = reduceTo(dy, β)
 * Factoring the parameter-shaped factors out of the sums is exact because they are constant
 * along the axes the sums run over. Unlike the stock gradient it is also right for
 * parameters of rank 4 (`[1, 1, 1, C]`).
 *
 * Prelu (`Prelu_grad.ts`): the stock dx is `where(x > 0, dy, dy·α)`; Greater and Select run
 * ~10× slower than arithmetic on wasm. Here dx = dy · (α + (1 − α)·step(x)) and
 * dα = reduceTo(dy · (x − relu(x)), α), the same values with element-wise arithmetic only; on
 * wasm, with one α per channel, dx is one SIMD pass (`simd/simd.ts`).
 *
 * Mean and Sum (`Mean_grad.ts`, `Sum_grad.ts`): the stock gradients multiply dy by
 * `tf.ones(x.shape)`, a full-size array built in JavaScript and copied to the backend on
 * every call (plus, for Mean, a full-size division). Here dx = fill(x.shape, 1/n) · dy with
 * the Fill kernel: the same broadcast, computed on the backend.
 */
import * as tf from '@tensorflow/tfjs';
import { channelAffine } from './affine.js';
import { preluDx } from './simd/simd.js';

/** Sums `t` over the axes along which `shape` broadcasts to `t.shape`, then reshapes to `shape`. */
function reduceTo(t: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape as number[], t.shape);
  const summed = axes.length > 0 ? tf.sum(t, axes) : t;
  return tf.reshape(summed, shape as number[]);
}

/** The broadcast of several shapes (right-aligned, numpy rules). */
function broadcastShape(shapes: ReadonlyArray<readonly number[]>): number[] {
  return shapes.reduce<number[]>((acc, s) => tf.backend_util.assertAndGetBroadcastShape(acc, s as number[]), []);
}

/**
 * FusedBatchNorm's gradient by broadcasting. Inputs x (rank 4, as tf.batchNorm passes it),
 * mean, variance and optional scale/offset (equal ranks, broadcastable to x); attribute
 * `varianceEpsilon`.
 */
export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const g = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const paramShape = broadcastShape([mean.shape, variance.shape, ...(scale ? [scale.shape] : [])]);
    const r = tf.rsqrt(tf.add(variance, varianceEpsilon));
    const scaleR = scale ? tf.mul(scale, r) : r;
    // Σ (x − μ)·dy over the axes the parameters broadcast along, shape P.
    const centredDot = (): tf.Tensor => reduceTo(tf.mul(tf.sub(x, mean), g), paramShape);
    return {
      x: () => tf.reshape(channelAffine(g, scaleR), x.shape),
      mean: () => reduceTo(tf.mul(tf.neg(scaleR), reduceTo(g, paramShape)), mean.shape),
      variance: () => reduceTo(tf.mul(tf.mul(tf.mul(scaleR, tf.square(r)), -0.5), centredDot()), variance.shape),
      scale: () => reduceTo(tf.mul(r, centredDot()), (scale as tf.Tensor).shape),
      offset: () => reduceTo(g, paramShape),
    };
  },
};

/** Prelu's gradient without comparisons. Inputs x and alpha (broadcastable to x). */
export const preluGradConfig: tf.GradConfig = {
  kernelName: tf.Prelu,
  inputsToSave: ['x', 'alpha'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const g = dy as tf.Tensor;
    const [x, alpha] = saved as [tf.Tensor, tf.Tensor];
    return {
      x: () =>
        preluDx(g, x, alpha) ?? reduceTo(tf.mul(g, tf.add(tf.mul(tf.step(x), tf.sub(1, alpha)), alpha)), x.shape),
      alpha: () => reduceTo(tf.mul(g, tf.sub(x, tf.relu(x))), alpha.shape),
    };
  },
};

/** dy [reduced shape] broadcast back over the reduced axes of `x`, times `factor`. */
function spread(dy: tf.Tensor, x: tf.Tensor, axis: number | number[], factor: (n: number) => number): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = axes.reduce((p, a) => p * x.shape[a], 1);
  return tf.mul(tf.fill(x.shape, factor(n)), tf.reshape(dy, expanded));
}

/** Mean's gradient: dy / n over the reduced axes. */
export const meanGradConfig: tf.GradConfig = {
  kernelName: tf.Mean,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [x] = saved as [tf.Tensor];
    const { axis } = attrs as unknown as tf.MeanAttrs;
    return { x: () => spread(dy as tf.Tensor, x, axis, (n) => 1 / n) };
  },
};

/** Sum's gradient: dy over the reduced axes. */
export const sumGradConfig: tf.GradConfig = {
  kernelName: tf.Sum,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [x] = saved as [tf.Tensor];
    const { axis } = attrs as unknown as tf.SumAttrs;
    return { x: () => spread(dy as tf.Tensor, x, axis, () => 1) };
  },
};

const FAST_GRADIENTS: readonly tf.GradConfig[] = [
  fusedBatchNormGradConfig,
  preluGradConfig,
  meanGradConfig,
  sumGradConfig,
];

/** Names of the kernels whose gradients `registerFastGradients` replaces. */
export const FAST_GRADIENT_NAMES: readonly string[] = FAST_GRADIENTS.map((g) => g.kernelName);

/**
 * Replaces tfjs-core's gradients of the kernels in `FAST_GRADIENT_NAMES` with the ones above,
 * for every backend (gradients are not per backend). Idempotent.
 */
export function registerFastGradients(): void {
  for (const config of FAST_GRADIENTS) {
    if (tf.getGradient(config.kernelName) !== config) tf.registerGradient(config);
  }
}
