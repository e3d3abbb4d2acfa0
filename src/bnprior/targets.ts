/**
 * The statistics the BN prior pulls each tapped layer towards (`InvertConfig.priorStats`):
 * the layer's running statistics, the calibrated ones stored with the model, or running
 * where the layer has them and calibrated elsewhere.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import type { StatCalibration } from './calibrate.js';
import type { ChannelStats } from './loss.js';
import type { BnTaps } from './taps.js';

export type PriorStatsSource = 'bn' | 'calibrated' | 'both';

/**
 * Per-layer target statistics in `taps.layers` order. Running statistics are the layers' own
 * variables (not to be disposed); calibrated ones are new tensors, listed in `owned`.
 * @throws ArcinvertError when calibrated statistics are asked for and missing or mismatched.
 */
export function priorTargets(taps: BnTaps, source: PriorStatsSource, calibration: StatCalibration | undefined): { stats: ChannelStats[]; owned: tf.Tensor[] } {
  const running = taps.layers.map((l) => ({ mean: l.runningMean, variance: l.runningVar }));
  if (source === 'bn') return { stats: running, owned: [] };
  if (!calibration) throw new ArcinvertError(`--prior ${source} needs calibrated statistics; run 'arcinvert calibrate' on the model first`);
  const byName = new Map(calibration.layers.map((l) => [l.name, l]));
  const owned: tf.Tensor[] = [];
  // Every tapped layer is a BatchNorm layer with running statistics, which 'both' prefers.
  if (source === 'both') return { stats: running, owned };
  for (const l of taps.layers) {
    const c = byName.get(l.name);
    if (!c) throw new ArcinvertError(`the model's calibration has no statistics for layer ${l.name}; run 'arcinvert calibrate' again`);
    if (c.channels !== l.channels) throw new ArcinvertError(`the calibration of layer ${l.name} has ${c.channels} channels, the layer ${l.channels}`);
  }
  const stats = taps.layers.map((l) => {
    const c = byName.get(l.name)!;
    const s = { mean: tf.tensor1d(c.mean), variance: tf.tensor1d(c.variance) };
    owned.push(s.mean, s.variance);
    return s;
  });
  return { stats, owned };
}
