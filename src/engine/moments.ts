/**
 * Per-channel batch statistics as one op with its own gradient: what BatchNorm computes in
 * training mode and what the BN-statistics prior compares. Used by `TrainGraph` (training
 * BN) and the inversion's prior.
 */
import * as tf from '@tensorflow/tfjs';
import { channelAffine } from './affine.js';
import { channelStatsValue } from './simd/simd.js';
import { statsGradAffine } from './statsGrad.js';

/** See `channelStats`. */
const channelStatsOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const axes = x.rank === 4 ? [0, 1, 2] : [0];
  const c = x.shape[x.rank - 1];
  const n = x.size / c;
  const fast = channelStatsValue(x);
  const mean = fast ? tf.reshape(tf.slice(fast, [0, 0], [1, c]), [c]) : tf.mean(x, axes);
  save([x, mean]);
  return {
    value: fast ?? (tf.stack([mean, tf.mean(tf.squaredDifference(x, mean), axes)]) as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, mu] = saved;
      const [a, b] = statsGradAffine(dy, mu!, n);
      return [channelAffine(xs!, a, b)];
    },
  };
}) as (x: tf.Tensor) => tf.Tensor2D;

/**
 * Biased (population) mean and variance per channel of a BN input, as the BN layer itself
 * computes them in training mode (over [B, H, W] for rank 4, over [B] for rank 2), stacked as
 * one [2, C] tensor: row 0 the means, row 1 the variances.
 *
 * One op with its own gradient: dx = (g_μ + 2 g_σ² (x − μ)) / n, as x·a + b with per-channel
 * a = 2 g_σ² / n and b = g_μ / n − μ·a. tf.moments' gradient goes through Sub, Square, two
 * Means and their broadcasts (about seven full-size passes, and x − μ kept for it); this
 * one keeps only x and μ and makes one full-size pass (`channelAffine`). On wasm the value is
 * one SIMD kernel (`simd/simd.ts`: two reads of x, no full-size write).
 *
 * @param x [B, H, W, C] or [B, C].
 * @returns [2, C].
 */
export function channelStats(x: tf.Tensor): tf.Tensor2D {
  return channelStatsOp(x);
}

/**
 * The statistics of a batch cut into parts, from each part's `channelStats` [2, C] and image
 * count, in part order: μ = Σ wᵢ μᵢ and σ² = Σ wᵢ (σᵢ² + (μᵢ − μ)²) with wᵢ = nᵢ / Σ n (exact for
 * biased variances; no E[x²] − μ² cancellation). Gradients flow into every part given as a
 * tensor, so a part that holds the others as constants gets its own share of the gradient.
 */
export function pooledStats(parts: readonly tf.Tensor2D[], counts: readonly number[]): tf.Tensor2D {
  if (parts.length !== counts.length) throw new Error(`pooledStats: ${parts.length} parts, ${counts.length} counts`);
  const total = counts.reduce((a, b) => a + b, 0);
  return tf.tidy(() => {
    const rows = parts.map((p) => tf.unstack(p));
    const mean = tf.addN(rows.map(([m], i) => tf.mul(m, counts[i] / total)));
    const variance = tf.addN(
      rows.map(([m, v], i) => tf.mul(tf.add(v, tf.squaredDifference(m, mean)), counts[i] / total)),
    );
    return tf.stack([mean, variance]) as tf.Tensor2D;
  });
}
