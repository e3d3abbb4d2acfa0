/**
 * The inversion's typed configuration, its defaults, and validation (tfjs-models style:
 * copy, fill defaults, reject unknown keys and bad values with one line).
 *
 * Defaults follow the ArcFace paper (§3.3: BN prior λ, TV and L2 priors), DeepInversion
 * (betas (0.5, 0.9), roll jitter, flip, first BN layer ×10) and feature visualisation (the
 * Fourier, decorrelated-colour parametrisation at Adam lr 0.05, where the paper optimised
 * pixels at 0.25), with the weights re-scaled for arcinvert's per-pixel means; see
 * docs/INVERSION.md for the measurements behind each default.
 */
import type { BnPriorForm, BnReduction } from '../bnprior/loss.js';
import { PRIOR_STATS, type PriorStats } from '../bnprior/targets.js';

import { ArcinvertError } from '../errors.js';
import { DEFAULT_MARGIN_CONFIG, resolveMarginConfig, type MarginConfig } from '../arcface/margin.js';
import type { IdentityLossName } from './identity.js';
import { COLOUR_SPACES, PARAMETRISATIONS, type ColourSpace, type Parametrisation } from './param.js';

export interface InvertConfig {
  /** Adam steps per batch. */
  steps: number;
  /** Images optimised together (their BN statistics are the batch's). */
  batchSize: number;
  /** A batch with fewer real images is padded with extra seeds of its targets up to this size. */
  minBatch: number;
  /** Starting noises per target. */
  seeds: number;
  /** Base seed: the same seed, config and backend give the same images. */
  seed: number;

  /** Adam learning rate (0.05 for the Fourier parametrisation; the paper's pixels: 0.25), betas and epsilon. */
  lr: number;
  beta1: number;
  beta2: number;
  adamEpsilon: number;
  /** LR schedule after a linear warmup of `warmupSteps`. */
  lrSchedule: 'cosine' | 'constant';
  warmupSteps: number;

  identityLoss: IdentityLossName;
  identityWeight: number;
  /** Margin of the `arcface` identity loss. */
  margin: MarginConfig;

  /** BN-statistics prior: on/off, form, per-layer reduction, weight λ, first-layer multiplier. */
  bnPrior: boolean;
  bnForm: BnPriorForm;
  bnReduction: BnReduction;
  bnWeight: number;
  bnFirstLayerWeight: number;
  /**
   * Statistics the prior pulls towards: 'bn' the layers' running statistics; 'calibrated'
   * those measured by `arcinvert calibrate` (stored with the model); 'both' running
   * statistics where a tapped layer has them, calibrated ones elsewhere.
   */
  priorStats: PriorStats;

  /** Image priors (means over pixels, per image). */
  tvL1Weight: number;
  tvL2Weight: number;
  l2Weight: number;

  /** Random circular shift of up to ± `jitter` pixels and random mirror, each step. */
  jitter: number;
  flip: boolean;
  /** Random zoom each step: scale uniform in [1 − s, 1 + s] about the centre (0 = off). */
  scaleJitter: number;
  /**
   * Random colour shift each step (Plug-In Inversion's ColorShift): per channel, the network
   * sees x·e^u + v, u and v uniform in [−s, s] (pixels in [−1, 1]; 0 = off).
   */
  colourShift: number;

  /** What the optimiser moves (`param.ts`): pixels or a 1/f-scaled cosine spectrum, in RGB or decorrelated colour. */
  parametrisation: Parametrisation;
  colour: ColourSpace;
  /** Exponent of the Fourier parametrisation's 1/f spectrum scale. */
  fourierDecay: number;

  /**
   * Least height in pixels of the images optimised and written (the width follows the model
   * input's aspect ratio); a canvas taller than the model's input is shrunk to it by area (exact
   * gradient) for the network. A model whose input is at least this tall (and 0) gets its input
   * size. Default 128: the 112-px default model's images are written at 128×128.
   */
  outputSize: number;

  /**
   * Optimise at half resolution (upsampled for the network) for the first
   * `multiResolutionFraction` of the steps; pixel + rgb parametrisation only (`lowResolutionSteps`).
   */
  multiResolution: boolean;
  multiResolutionFraction: number;

  /** Standard deviation of the starting noise, in normalised pixel units. */
  initStd: number;

  /** Evaluate clean cosines (keep-best) every this many steps. */
  evalEvery: number;
  /** Emit progress every this many steps. */
  reportEvery: number;
  /** Attach a preview image to progress every this many steps (0 = never). */
  previewEvery: number;
  /** Emit snapshots every this many steps (0 = never). */
  snapshotEvery: number;
}

export const DEFAULT_INVERT_CONFIG: Readonly<InvertConfig> = {
  steps: 1000,
  batchSize: 16,
  minBatch: 8,
  seeds: 1,
  seed: 0,
  lr: 0.05,
  beta1: 0.5,
  beta2: 0.9,
  adamEpsilon: 1e-8,
  lrSchedule: 'cosine',
  warmupSteps: 20,
  identityLoss: 'cosine',
  identityWeight: 1,
  margin: { ...DEFAULT_MARGIN_CONFIG },
  bnPrior: true,
  bnForm: 'deepinversion',
  bnReduction: 'sum',
  bnWeight: 0.003,
  bnFirstLayerWeight: 10,
  priorStats: 'bn',
  tvL1Weight: 0,
  tvL2Weight: 0.2,
  l2Weight: 1e-4,
  jitter: 4,
  flip: true,
  scaleJitter: 0,
  colourShift: 0,
  parametrisation: 'fourier',
  colour: 'decorrelated',
  fourierDecay: 1,
  outputSize: 128,
  multiResolution: false,
  multiResolutionFraction: 0.5,
  initStd: 0.25,
  evalEvery: 10,
  reportEvery: 10,
  previewEvery: 0,
  snapshotEvery: 0,
};

function check(ok: boolean, key: string, what: string, value: unknown): void {
  const shown = typeof value === 'number' ? String(value) : JSON.stringify(value);
  if (!ok) throw new ArcinvertError(`invert config: ${key} must be ${what}, got ${shown}`);
}

const isInt = (v: unknown, min: number): boolean => Number.isInteger(v) && (v as number) >= min;
const isNum = (v: unknown, min: number, max = Infinity): boolean =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;

/** Copies `partial` over the defaults, rejecting unknown keys and invalid values. */
export function resolveInvertConfig(partial: Partial<InvertConfig> = {}): InvertConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_INVERT_CONFIG)) throw new ArcinvertError(`invert config: unknown key '${key}'`);
  }
  const c: InvertConfig = {
    ...DEFAULT_INVERT_CONFIG,
    ...partial,
    margin: resolveMarginConfig({ ...DEFAULT_INVERT_CONFIG.margin, ...partial.margin }),
  };
  // A smaller batch than the default minimum pads to itself unless asked otherwise.
  if (partial.minBatch === undefined && Number.isInteger(c.batchSize))
    c.minBatch = Math.min(DEFAULT_INVERT_CONFIG.minBatch, c.batchSize);
  check(isInt(c.steps, 1), 'steps', 'an integer ≥ 1', c.steps);
  check(isInt(c.batchSize, 1), 'batchSize', 'an integer ≥ 1', c.batchSize);
  check(
    isInt(c.minBatch, 1) && c.minBatch <= c.batchSize,
    'minBatch',
    `an integer in [1, batchSize=${c.batchSize}]`,
    c.minBatch,
  );
  check(isInt(c.seeds, 1), 'seeds', 'an integer ≥ 1', c.seeds);
  check(isInt(c.seed, 0), 'seed', 'an integer ≥ 0', c.seed);
  check(isNum(c.lr, 0) && c.lr > 0, 'lr', 'a number > 0', c.lr);
  check(isNum(c.beta1, 0, 0.999999), 'beta1', 'in [0, 1)', c.beta1);
  check(isNum(c.beta2, 0, 0.999999), 'beta2', 'in [0, 1)', c.beta2);
  check(isNum(c.adamEpsilon, 0) && c.adamEpsilon > 0, 'adamEpsilon', 'a number > 0', c.adamEpsilon);
  check(c.lrSchedule === 'cosine' || c.lrSchedule === 'constant', 'lrSchedule', "'cosine' or 'constant'", c.lrSchedule);
  check(isInt(c.warmupSteps, 0), 'warmupSteps', 'an integer ≥ 0', c.warmupSteps);
  check(
    ['cosine', 'l2', 'arcface'].includes(c.identityLoss),
    'identityLoss',
    "'cosine', 'l2' or 'arcface'",
    c.identityLoss,
  );
  check(c.bnForm === 'arcface' || c.bnForm === 'deepinversion', 'bnForm', "'arcface' or 'deepinversion'", c.bnForm);
  check(c.bnReduction === 'sum' || c.bnReduction === 'mean', 'bnReduction', "'sum' or 'mean'", c.bnReduction);
  check(PRIOR_STATS.includes(c.priorStats), 'priorStats', "'bn', 'calibrated' or 'both'", c.priorStats);
  for (const k of [
    'identityWeight',
    'bnWeight',
    'bnFirstLayerWeight',
    'tvL1Weight',
    'tvL2Weight',
    'l2Weight',
    'initStd',
  ] as const) {
    check(isNum(c[k], 0), k, 'a number ≥ 0', c[k]);
  }
  check(typeof c.bnPrior === 'boolean', 'bnPrior', 'a boolean', c.bnPrior);
  check(typeof c.flip === 'boolean', 'flip', 'a boolean', c.flip);
  check(typeof c.multiResolution === 'boolean', 'multiResolution', 'a boolean', c.multiResolution);
  check(isInt(c.jitter, 0), 'jitter', 'an integer ≥ 0', c.jitter);
  check(isNum(c.scaleJitter, 0, 0.5), 'scaleJitter', 'in [0, 0.5]', c.scaleJitter);
  check(isNum(c.colourShift, 0, 1), 'colourShift', 'in [0, 1]', c.colourShift);
  check(PARAMETRISATIONS.includes(c.parametrisation), 'parametrisation', "'pixel' or 'fourier'", c.parametrisation);
  check(COLOUR_SPACES.includes(c.colour), 'colour', "'rgb' or 'decorrelated'", c.colour);
  check(isNum(c.fourierDecay, 0, 4), 'fourierDecay', 'in [0, 4]', c.fourierDecay);
  check(
    c.outputSize === 0 || (isInt(c.outputSize, 16) && c.outputSize <= 1024 && c.outputSize % 2 === 0),
    'outputSize',
    '0 (the model input size) or an even integer in [16, 1024]',
    c.outputSize,
  );
  check(isNum(c.multiResolutionFraction, 0, 1), 'multiResolutionFraction', 'in [0, 1]', c.multiResolutionFraction);
  check(isInt(c.evalEvery, 1), 'evalEvery', 'an integer ≥ 1', c.evalEvery);
  check(isInt(c.reportEvery, 1), 'reportEvery', 'an integer ≥ 1', c.reportEvery);
  check(isInt(c.previewEvery, 0), 'previewEvery', 'an integer ≥ 0', c.previewEvery);
  check(isInt(c.snapshotEvery, 0), 'snapshotEvery', 'an integer ≥ 0', c.snapshotEvery);
  return c;
}

/**
 * Learning rate at `step` (0-based): linear warmup to `lr` over `warmupSteps`, then constant
 * or cosine decay to 0 at `steps`.
 */
export function learningRate(
  c: Pick<InvertConfig, 'lr' | 'steps' | 'warmupSteps' | 'lrSchedule'>,
  step: number,
): number {
  if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  if (c.lrSchedule === 'constant') return c.lr;
  const t = (step - c.warmupSteps) / Math.max(1, c.steps - c.warmupSteps);
  return 0.5 * c.lr * (1 + Math.cos(Math.PI * Math.min(1, t)));
}

/**
 * [H, W] of the images a run optimises and writes: `outputSize` high, at the aspect ratio of the
 * model's `input` [H, W] (the width rounded to an even number, as the height is: a
 * multi-resolution start halves both); the input itself when it is at least `outputSize` high
 * (and at `outputSize` 0): the canvas is never smaller than what the network sees.
 */
export function canvasSize(c: Pick<InvertConfig, 'outputSize'>, input: readonly [number, number]): [number, number] {
  if (c.outputSize <= input[0]) return [input[0], input[1]];
  return [c.outputSize, 2 * Math.round((c.outputSize * input[1]) / input[0] / 2)];
}
