/**
 * The inversion's schedule: which resolution the images are optimised at and with which
 * learning rate, step by step. Multi-resolution (DeepInversion's `setting_id=0`) optimises at
 * half resolution, upsampled for the network, for the first `multiResolutionFraction` of the
 * steps, then upsamples the images once and goes on at full resolution with a fresh Adam.
 */
import { learningRate, type InvertConfig } from './config.js';

type ScheduleConfig = Pick<
  InvertConfig,
  | 'steps'
  | 'lr'
  | 'warmupSteps'
  | 'lrSchedule'
  | 'multiResolution'
  | 'multiResolutionFraction'
  | 'parametrisation'
  | 'colour'
>;

/** What the schedule says about one step. */
export interface StepSchedule {
  /** Learning rate of the step. */
  lr: number;
  /** [H, W] the images are optimised at during the step. */
  resolution: [number, number];
  /** True on the first full-resolution step after a low-resolution start: upsample, reset Adam. */
  upsample: boolean;
}

/**
 * Steps optimised at half resolution: 0 without multi-resolution, and for every
 * parametrisation but pixel + rgb (the Fourier one grows coarse to fine by itself; through
 * tanh, upsampling the parameters would not upsample the image, so the switch would jump).
 */
export function lowResolutionSteps(c: ScheduleConfig): number {
  return c.multiResolution && c.parametrisation === 'pixel' && c.colour === 'rgb'
    ? Math.round(c.steps * c.multiResolutionFraction)
    : 0;
}

/** Resolution the images start at: half of `full` when the run begins at low resolution. */
export function startResolution(c: ScheduleConfig, full: readonly [number, number]): [number, number] {
  return lowResolutionSteps(c) > 0 ? [full[0] / 2, full[1] / 2] : [full[0], full[1]];
}

/** The schedule at `step` (0-based) for images of full size `full` = [H, W]. */
export function scheduleAt(c: ScheduleConfig, step: number, full: readonly [number, number]): StepSchedule {
  const low = lowResolutionSteps(c);
  return {
    lr: learningRate(c, step),
    resolution: step < low ? [full[0] / 2, full[1] / 2] : [full[0], full[1]],
    upsample: low > 0 && step === low,
  };
}
