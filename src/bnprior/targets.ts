/**
 * The statistics the BN prior pulls each tapped place towards (`InvertConfig.priorStats`):
 * the BN layers' running statistics, the calibrated ones stored with the model, or running
 * where a BN layer has them and calibrated at the folded taps (`BnTaps.folded`).
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError, ConfigError } from '../errors.js';
import type { StatCalibration } from '../model/types.js';
import type { ChannelStats } from './loss.js';
import type { BnTaps } from './taps.js';

/** Where the BN prior's target statistics come from (`InvertConfig.priorStats`). */
export type PriorStats = 'bn' | 'calibrated' | 'both';
export const PRIOR_STATS: readonly PriorStats[] = ['bn', 'calibrated', 'both'];

/**
 * The prior's targets: statistics for the taps at `indices` (into `BnTapOutputs.bnInputs`),
 * in network order (the first gets `bnFirstLayerWeight`).
 */
export interface PriorTargets {
  indices: number[];
  stats: ChannelStats[];
  /** Tensors made here (calibrated statistics), to dispose after use; running ones are the layers'. */
  owned: tf.Tensor[];
}

/**
 * Target statistics per tapped place: `bn` — the BN layers' running statistics (folded taps
 * unused); `calibrated` — calibrated statistics at every tap; `both` — running where a BN layer
 * has them, calibrated at the folded taps.
 * @throws ArcinvertError when calibrated statistics are needed and missing or mismatched, or
 *   `bn` is asked of a model without BatchNorm layers.
 */
export function priorTargets(taps: BnTaps, source: PriorStats, calibration: StatCalibration | undefined): PriorTargets {
  const running = taps.layers.map((l) => ({ mean: l.runningMean, variance: l.runningVar }));
  const bnIdx = taps.layers.map((_, i) => i);
  if (source === 'bn') {
    if (bnIdx.length === 0)
      throw new ConfigError(
        ['priorStats'],
        (k) =>
          `the model has no BatchNorm layers with running statistics (${taps.folded.length} folded); use ${k('priorStats')} calibrated after 'arcinvert calibrate'`,
      );
    return { indices: bnIdx, stats: running, owned: [] };
  }
  if (!calibration)
    throw new ConfigError(
      ['priorStats'],
      (k) => `${k('priorStats')} ${source} needs calibrated statistics; run 'arcinvert calibrate' on the model first`,
    );
  const byName = new Map(calibration.layers.map((l) => [l.name, l]));
  const all = taps.statLayers;
  const wanted = source === 'both' ? all.map((_, i) => i).filter((i) => i >= taps.layers.length) : all.map((_, i) => i);
  for (const i of wanted) {
    const l = all[i];
    const c = byName.get(l.name);
    if (!c)
      throw new ArcinvertError(
        `the model's calibration has no statistics for layer ${l.name}; run 'arcinvert calibrate' again`,
      );
    if (c.channels !== l.channels)
      throw new ArcinvertError(
        `the calibration of layer ${l.name} has ${c.channels} channels, the layer ${l.channels}`,
      );
  }
  const owned: tf.Tensor[] = [];
  const calibrated = wanted.map((i) => {
    const c = byName.get(all[i].name)!;
    const s = { mean: tf.tensor1d(c.mean), variance: tf.tensor1d(c.variance) };
    owned.push(s.mean, s.variance);
    return s;
  });
  const chosen =
    source === 'both'
      ? { indices: [...bnIdx, ...wanted], stats: [...running, ...calibrated] }
      : { indices: wanted, stats: calibrated };
  return { ...inNetworkOrder(taps, chosen.indices, chosen.stats), owned };
}

/** Sorts taps by their depth in the network, so "the first layer" (its own weight) is the first one. */
function inNetworkOrder(
  taps: BnTaps,
  indices: number[],
  stats: ChannelStats[],
): { indices: number[]; stats: ChannelStats[] } {
  const order = indices.map((_, k) => k).sort((a, b) => taps.depth[indices[a]] - taps.depth[indices[b]]);
  return { indices: order.map((k) => indices[k]), stats: order.map((k) => stats[k]) };
}
