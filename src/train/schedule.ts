/**
 * The learning-rate schedule of ArcFace training, as a pure function of the step.
 *
 * Follows insightface arcface_torch: `lr_scheduler.py` `PolynomialLRWarmup` (linear warmup,
 * then `base · (1 − progress)^power`; `train_v2.py` uses power 2) and the step decay of the
 * earlier arcface_torch / ArcFace paper recipes (×0.1 at fixed epochs, e.g. [10, 16, 22]).
 *
 * One deliberate difference: PyTorch's scheduler gives step 0 of the warmup the full base LR
 * (an artefact of its initial `step()` call) and step 1 the LR base/W. Here step s of the warmup
 * (0-based) uses base·(s + 1)/W, so the ramp is linear from the first step and reaches the base
 * LR at the last warmup step.
 */
import { ArcinvertError } from '../errors.js';

/** Everything the schedule depends on, in steps (one step = one optimiser update). */
export interface LrScheduleSpec {
  /** Base (peak) learning rate. */
  base: number;
  /** Linear warmup length in steps (0 = none). */
  warmupSteps: number;
  /** Total steps of the run (the polynomial decay reaches 0 here). */
  totalSteps: number;
  kind: 'poly' | 'step';
  /** Exponent of the polynomial decay (arcface_torch: 2). */
  power: number;
  /** Step decay: the LR is multiplied by `gamma` at each of these steps (ascending). */
  milestones: number[];
  gamma: number;
}

/**
 * The learning rate of step `step` (0-based).
 *
 * - warmup, step < W: `base · (step + 1) / W`;
 * - 'poly': `base · (1 − (step − W) / (T − W))^power` (0 from step T on);
 * - 'step': `base · gamma^(number of milestones ≤ step)`.
 */
export function learningRateAt(spec: LrScheduleSpec, step: number): number {
  if (!Number.isInteger(step) || step < 0) throw new ArcinvertError(`step must be a non-negative integer, got ${step}`);
  const { base, warmupSteps: w, totalSteps: t } = spec;
  if (step < w) return (base * (step + 1)) / w;
  if (spec.kind === 'poly') {
    if (t <= w || step >= t) return 0;
    return base * (1 - (step - w) / (t - w)) ** spec.power;
  }
  const passed = spec.milestones.filter((m) => m <= step).length;
  return base * spec.gamma ** passed;
}
