/**
 * Additive / multiplicative angular margins on cosine logits (pure functions).
 *
 * Implements the combined margin of ArcFace (Deng et al., CVPR 2019, Sec. 2.2, Eq. 4):
 * the target logit becomes `s·(cos(m1·θ + m2) − m3)`, every other logit `s·cos θ`. The three
 * classic losses are special cases: SphereFace (m1), ArcFace (m2), CosFace (m3). As in insightface
 * `recognition/arcface_torch/losses.py` (`CombinedMarginLoss`, `ArcFace`), this module only turns
 * cosines into margin logits; the classifier head receives it as a function.
 *
 * Beyond m1·θ + m2 = π the curve cos(m1·θ + m2) turns back up, so the target logit would stop
 * being monotone in θ. arcface_torch's `ArcFace` (easy_margin = False) replaces it there by
 * `cos θ − sin(π − m)·m`, switching where `cos θ > cos(π − m)` no longer holds. For the
 * combined case we use the same construction with θ* = (π − m2)/m1 (the angle where
 * m1·θ + m2 = π): below the threshold cos θ*, the target is `cos θ − m3 − p` with
 * p = max(sin θ*·(π − θ*), 1 + cos θ*). For m1 = 1 the first term is exactly arcface_torch's
 * `sinmm`; the second only wins for margins m2 > ~2.3 rad and keeps the curve non-decreasing
 * in cos θ across the switch (value at the switch ≤ −1 − m3).
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';

/** Margin hyper-parameters of the combined margin `s·(cos(m1·θ + m2) − m3)`. */
export interface MarginConfig {
  /** Logit scale s (feature-norm radius of the hypersphere); arcface_torch uses 64. */
  s: number;
  /** Multiplicative angular margin (SphereFace); 1 disables it. Must be ≥ 1. */
  m1: number;
  /** Additive angular margin in radians (ArcFace); 0 disables it. In [0, π/2]. */
  m2: number;
  /** Additive cosine margin (CosFace); 0 disables it. In [0, 1]. */
  m3: number;
}

/** Names of the built-in margin presets. */
export type MarginPresetName = 'arcface' | 'cosface' | 'sphereface';

/**
 * Standard margins. SphereFace uses m1 = 1.35, the value the ArcFace paper uses for its
 * normalised-weight SphereFace baseline in the combined-margin comparison (Table 2,
 * "SphereFace (1.35)"); the original SphereFace m = 4 needs λ-annealing with un-normalised
 * features and has no place in the combined form.
 */
export const MARGIN_PRESETS: Readonly<Record<MarginPresetName, Readonly<MarginConfig>>> = {
  arcface: { s: 64, m1: 1, m2: 0.5, m3: 0 },
  cosface: { s: 64, m1: 1, m2: 0, m3: 0.35 },
  sphereface: { s: 64, m1: 1.35, m2: 0, m3: 0 },
};

/** The default margin: ArcFace, s = 64, m = 0.5. */
export const DEFAULT_MARGIN_CONFIG: Readonly<MarginConfig> = MARGIN_PRESETS.arcface;

/** A margin function as the head consumes it: cosines [B, C] + labels [B] → logits [B, C]. */
export type MarginFn = (cos: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor2D;

const KEYS: readonly (keyof MarginConfig)[] = ['s', 'm1', 'm2', 'm3'];

/**
 * Fills a margin config from a preset name or a partial config (missing keys from
 * `DEFAULT_MARGIN_CONFIG`, or from `preset` when given) and validates it.
 * @throws ArcinvertError on an unknown preset/key or an out-of-range value.
 */
export function resolveMarginConfig(
  partial: Partial<MarginConfig> | MarginPresetName = {},
  preset: MarginPresetName = 'arcface',
): MarginConfig {
  if (typeof partial === 'string') {
    if (!(partial in MARGIN_PRESETS)) {
      throw new ArcinvertError(
        `unknown margin preset "${partial}" (expected ${Object.keys(MARGIN_PRESETS).join(', ')})`,
      );
    }
    return { ...MARGIN_PRESETS[partial] };
  }
  if (!(preset in MARGIN_PRESETS)) throw new ArcinvertError(`unknown margin preset "${preset}"`);
  for (const key of Object.keys(partial)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new ArcinvertError(`unknown margin option "${key}" (expected s, m1, m2, m3)`);
    }
  }
  const cfg: MarginConfig = { ...MARGIN_PRESETS[preset], ...partial };
  for (const key of KEYS) {
    if (typeof cfg[key] !== 'number' || !Number.isFinite(cfg[key])) {
      throw new ArcinvertError(`margin ${key} must be a finite number, got ${String(cfg[key])}`);
    }
  }
  if (!(cfg.s > 0)) throw new ArcinvertError(`margin scale s must be > 0, got ${cfg.s}`);
  if (!(cfg.m1 >= 1)) throw new ArcinvertError(`margin m1 must be >= 1, got ${cfg.m1}`);
  if (!(cfg.m2 >= 0 && cfg.m2 <= Math.PI / 2)) {
    throw new ArcinvertError(`margin m2 must be in [0, pi/2] radians, got ${cfg.m2}`);
  }
  if (!(cfg.m3 >= 0 && cfg.m3 <= 1)) throw new ArcinvertError(`margin m3 must be in [0, 1], got ${cfg.m3}`);
  return cfg;
}

/** Clip for acos: 1 − 1e-7 rounds to the float32 just below 1, so acos' gradient stays finite. */
const ACOS_EPS = 1e-7;
/** Floor of sin²θ: keeps sqrt's gradient finite at cos θ = ±1 (its value there is 1e-6). */
const SIN2_EPS = 1e-12;

/**
 * The switch point of the margin curve: below `threshold` (in cos θ) the monotone fallback
 * `cos θ − m3 − penalty` is used. `threshold` is −Infinity when m1·θ + m2 never exceeds π.
 */
export function marginThreshold(cfg: MarginConfig): { threshold: number; penalty: number } {
  const thetaStar = (Math.PI - cfg.m2) / cfg.m1;
  if (thetaStar >= Math.PI) return { threshold: -Infinity, penalty: 0 };
  const penalty = Math.max(Math.sin(thetaStar) * (Math.PI - thetaStar), 1 + Math.cos(thetaStar));
  return { threshold: Math.cos(thetaStar), penalty };
}

/**
 * Target-logit curve without the scale: `cos(m1·θ + m2) − m3` with the monotone fallback,
 * applied elementwise. Gradients are finite for every input in [−1, 1].
 * @param cosT cosine of the target angle, any shape, values in [−1, 1].
 */
export function marginCurve(cosT: tf.Tensor, cfg: MarginConfig): tf.Tensor {
  return tf.tidy(() => {
    let main: tf.Tensor;
    if (cfg.m1 === 1) {
      // arcface_torch form: cos(θ + m) = cos θ·cos m − sin θ·sin m.
      const sin = tf.sqrt(tf.maximum(tf.sub(1, tf.square(cosT)), SIN2_EPS));
      main = tf.sub(tf.mul(cosT, Math.cos(cfg.m2)), tf.mul(sin, Math.sin(cfg.m2)));
    } else {
      const theta = tf.acos(tf.clipByValue(cosT, -1 + ACOS_EPS, 1 - ACOS_EPS));
      main = tf.cos(tf.add(tf.mul(theta, cfg.m1), cfg.m2));
    }
    if (cfg.m3 !== 0) main = tf.sub(main, cfg.m3);
    const { threshold, penalty } = marginThreshold(cfg);
    if (threshold === -Infinity) return main;
    const fallback = tf.sub(cosT, cfg.m3 + penalty);
    // 1 where cos θ > threshold. tf.step (zero gradient) instead of tf.greater + tf.where,
    // which tfjs cannot differentiate through; a·1 + b·0 keeps each branch's value exact.
    const useMain = tf.step(tf.sub(cosT, threshold));
    return tf.add(tf.mul(main, useMain), tf.mul(fallback, tf.sub(1, useMain)));
  });
}

/** One-hot rows [B, C] float32 of int labels; all-zero for a label outside [0, C). Any C ≥ 1. */
function labelMask(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  const classes = tf.range(0, numClasses, 1, 'int32').expandDims(0);
  return tf.cast(tf.equal(classes, tf.cast(labels, 'int32').expandDims(1)), 'float32') as tf.Tensor2D;
}

/**
 * Combined-margin logits: the target column becomes `s·(cos(m1·θ + m2) − m3)` (with the
 * monotone fallback past m1·θ + m2 = π), every other column `s·cos θ`.
 * @param cos cosine similarities [B, C], values in [−1, 1].
 * @param labels target class per row [B] int32; a label of −1 (outside [0, C)) applies no
 *   margin to that row, as arcface_torch does for samples of another partial-FC shard.
 * @param cfg resolved margin config (see `resolveMarginConfig`).
 * @returns logits [B, C].
 */
export function marginLogits(cos: tf.Tensor2D, labels: tf.Tensor1D, cfg: MarginConfig): tf.Tensor2D {
  return tf.tidy(() => {
    const oneHot = labelMask(labels, cos.shape[1]);
    const target = tf.sum(tf.mul(cos, oneHot), 1); // [B]; 0 for label −1
    const marged = marginCurve(target, cfg).expandDims(1); // [B, 1]
    // cos·(1 − onehot) + onehot·φ is exact in float: each entry takes one side unchanged.
    const mixed = tf.add(tf.mul(cos, tf.sub(1, oneHot)), tf.mul(oneHot, marged));
    return tf.mul(mixed, cfg.s) as tf.Tensor2D;
  });
}

/** Binds a config into a `MarginFn` for `ArcFaceHead.logits`. */
export function marginFunction(cfg: MarginConfig): MarginFn {
  return (cos, labels) => marginLogits(cos, labels, cfg);
}

/** The label's log-probability in its one-hot column, zeros elsewhere [B, C]; and the one-hot mask. */
function labelLogProbs(logits: tf.Tensor2D, labels: tf.Tensor1D): { logp: tf.Tensor2D; oneHot: tf.Tensor2D } {
  const oneHot = labelMask(labels, logits.shape[1]);
  return { logp: tf.mul(oneHot, tf.logSoftmax(logits, 1)), oneHot };
}

/**
 * Mean softmax cross-entropy of integer labels.
 * @param logits [B, C].
 * @param labels [B] int32 in [0, C); rows labelled −1 are left out of the sum and the mean.
 * @returns scalar loss (nats), 0 when no row has a valid label.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const { logp, oneHot } = labelLogProbs(logits, labels);
    return tf.div(tf.neg(tf.sum(logp)), tf.maximum(tf.sum(oneHot), 1)) as tf.Scalar;
  });
}

/**
 * Softmax cross-entropy of each row (`softmaxCrossEntropy` before the mean).
 * @param logits [B, C]. @param labels [B] int32 in [0, C); a row labelled −1 gives 0.
 * @returns [B] losses (nats).
 */
export function softmaxCrossEntropyRows(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(labelLogProbs(logits, labels).logp, 1)) as tf.Tensor1D);
}
