/**
 * Calibrated statistics for the BN prior: the per-channel mean and variance that real faces
 * produce at the input of chosen layers, measured by running aligned photos through the
 * model in inference mode. They stand in for BatchNorm running statistics where a model has
 * none (an exported network whose BN was folded into its convolutions), and on a model that
 * has them they check how well the running statistics describe its own inference-mode
 * activations.
 *
 * Statistics are population moments over every image and position seen: sums of x and x² per
 * channel, reduced on the device per batch and accumulated in float64 on the host. They are
 * stored beside the model as `calibration.json` (`model/directory.ts`).
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import type { StatCalibration } from '../model/types.js';
import type { BnTaps } from './taps.js';

/**
 * Measures the statistics of every tapped place of `taps` (BN inputs, outputs of convs without a BatchNorm)
 * over `batches` (normalised model
 * inputs [B, H, W, 3]; each is disposed here once used).
 */
export async function calibrateStatistics(
  taps: BnTaps,
  batches: AsyncIterable<tf.Tensor4D>,
  source: string,
  onProgress?: (images: number) => void,
): Promise<StatCalibration> {
  const tapped = taps.statLayers;
  const sums = tapped.map((l) => ({ s: new Float64Array(l.channels), q: new Float64Array(l.channels), n: 0 }));
  let images = 0;
  for await (const x of batches) {
    try {
      let counts: number[] = [];
      const parts = tf.tidy(() => {
        const { bnInputs, embedding } = taps.apply(x);
        embedding.dispose();
        counts = bnInputs.map((t) => t.size / t.shape[t.rank - 1]);
        return bnInputs.map((t) => {
          const axes = t.rank === 4 ? [0, 1, 2] : [0];
          return [tf.sum(t, axes), tf.sum(tf.square(t), axes)] as const;
        });
      });
      for (let i = 0; i < parts.length; i++) {
        const [sv, qv] = [(await parts[i][0].data()) as Float32Array, (await parts[i][1].data()) as Float32Array];
        sv.forEach((v, c) => (sums[i].s[c] += v));
        qv.forEach((v, c) => (sums[i].q[c] += v));
        sums[i].n += counts[i];
      }
      tf.dispose(parts.flat());
      images += x.shape[0];
    } finally {
      x.dispose();
    }
    onProgress?.(images);
  }
  if (images === 0) throw new ArcinvertError('calibration needs at least one image');
  return {
    format: 'arcinvert-calibration',
    version: 1,
    images,
    source,
    layers: tapped.map((l, i) => {
      const { s, q, n } = sums[i];
      const mean = Float32Array.from(s, (v) => v / n);
      const variance = Float32Array.from(q, (v, c) => Math.max(0, v / n - (s[c] / n) ** 2));
      return { name: l.name, channels: l.channels, mean, variance };
    }),
  };
}

/** Per-layer agreement of calibrated and running statistics. */
export interface LayerAgreement {
  name: string;
  /** Mean over channels of |μ_cal − μ_run| / σ_run: the mean shift in running standard deviations. */
  meanShift: number;
  /** Mean over channels of |σ²_cal − σ²_run| / σ²_run. */
  varianceRelError: number;
}

/** Compares `cal` with the running statistics of the same layers in `taps`. */
export async function compareWithRunning(cal: StatCalibration, taps: BnTaps): Promise<LayerAgreement[]> {
  const byName = new Map(cal.layers.map((l) => [l.name, l]));
  const out: LayerAgreement[] = [];
  for (const l of taps.layers) {
    const c = byName.get(l.name);
    if (!c) continue;
    const [rm, rv] = [(await l.runningMean.data()) as Float32Array, (await l.runningVar.data()) as Float32Array];
    let shift = 0;
    let rel = 0;
    for (let k = 0; k < l.channels; k++) {
      const v = Math.max(rv[k], 1e-12);
      shift += Math.abs(c.mean[k] - rm[k]) / Math.sqrt(v);
      rel += Math.abs(c.variance[k] - rv[k]) / v;
    }
    out.push({ name: l.name, meanShift: shift / l.channels, varianceRelError: rel / l.channels });
  }
  return out;
}
