/**
 * The input gradient of per-channel batch statistics as an affine map of the input, shared by
 * `channelStats` (moments.ts) and the fused BatchNorm ops (simd/simd.ts).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * For statistics [2, C] = (μ, σ²) of x over n rows and their gradient `dStats` [2, C]:
 * dx = (g_μ + 2·g_σ²·(x − μ)) / n = x·a + b with a = 2·g_σ²/n and b = g_μ/n − μ·a, per channel.
 * @returns [a, b], each [C]. Call inside a tidy.
 */
export function statsGradAffine(dStats: tf.Tensor, mean: tf.Tensor, n: number): [tf.Tensor, tf.Tensor] {
  const [gMean, gVar] = tf.unstack(dStats) as [tf.Tensor1D, tf.Tensor1D];
  const a = tf.mul(gVar, 2 / n);
  return [a, tf.sub(tf.div(gMean, n), tf.mul(mean, a))];
}
