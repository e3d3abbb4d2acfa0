import { ArcinvertError } from '../../src/errors.js';
import {
  canvasSize,
  DEFAULT_INVERT_CONFIG,
  learningRate,
  resolveInvertConfig,
  type InvertConfig,
} from '../../src/invert/config.js';

test('no overrides gives the defaults, as a copy', () => {
  const c = resolveInvertConfig();
  expect(c).toEqual(DEFAULT_INVERT_CONFIG);
  expect(c).not.toBe(DEFAULT_INVERT_CONFIG);
  c.margin.s = 1;
  c.steps = 3;
  expect(DEFAULT_INVERT_CONFIG.margin.s).toBe(64);
  expect(DEFAULT_INVERT_CONFIG.steps).toBe(1000);
  // Lucid's learning rate for the Fourier, decorrelated parametrisation; DeepInversion's betas and first-layer multiplier.
  expect([DEFAULT_INVERT_CONFIG.lr, DEFAULT_INVERT_CONFIG.beta1, DEFAULT_INVERT_CONFIG.beta2]).toEqual([
    0.05, 0.5, 0.9,
  ]);
  expect([DEFAULT_INVERT_CONFIG.parametrisation, DEFAULT_INVERT_CONFIG.colour]).toEqual(['fourier', 'decorrelated']);
  expect(DEFAULT_INVERT_CONFIG.bnFirstLayerWeight).toBe(10);
});

test('overrides replace only their keys; a partial margin is merged with the default', () => {
  const c = resolveInvertConfig({
    steps: 5,
    batchSize: 4,
    minBatch: 2,
    flip: false,
    margin: { s: 32 } as InvertConfig['margin'],
  });
  expect(c).toEqual({
    ...DEFAULT_INVERT_CONFIG,
    steps: 5,
    batchSize: 4,
    minBatch: 2,
    flip: false,
    margin: { s: 32, m1: 1, m2: 0.5, m3: 0 },
  });
});

test('an unknown key is rejected with one line naming it', () => {
  const run = () => resolveInvertConfig({ stpes: 3 } as unknown as Partial<InvertConfig>);
  expect(run).toThrow(ArcinvertError);
  expect(run).toThrow("invert config: unknown key 'stpes'");
});

const BAD: Array<[string, Partial<InvertConfig> | Record<string, unknown>, string]> = [
  ['steps 0', { steps: 0 }, 'steps must be an integer ≥ 1, got 0'],
  ['steps 1.5', { steps: 1.5 }, 'steps must be an integer ≥ 1, got 1.5'],
  ['steps NaN', { steps: NaN }, 'steps must be an integer ≥ 1'],
  ['steps "3"', { steps: '3' }, 'steps must be an integer ≥ 1, got "3"'],
  ['batchSize 0', { batchSize: 0 }, 'batchSize must be an integer ≥ 1'],
  ['minBatch > batchSize', { batchSize: 4, minBatch: 5 }, 'minBatch must be an integer in [1, batchSize=4], got 5'],
  ['minBatch 0', { minBatch: 0 }, 'minBatch must be an integer in [1, batchSize=16], got 0'],
  ['seeds 0', { seeds: 0 }, 'seeds must be an integer ≥ 1'],
  ['seed -1', { seed: -1 }, 'seed must be an integer ≥ 0, got -1'],
  ['lr 0', { lr: 0 }, 'lr must be a number > 0, got 0'],
  ['lr Infinity', { lr: Infinity }, 'lr must be a number > 0'],
  ['beta1 1', { beta1: 1 }, 'beta1 must be in [0, 1), got 1'],
  ['beta2 -0.1', { beta2: -0.1 }, 'beta2 must be in [0, 1), got -0.1'],
  ['adamEpsilon 0', { adamEpsilon: 0 }, 'adamEpsilon must be a number > 0'],
  ['lrSchedule linear', { lrSchedule: 'linear' }, `lrSchedule must be 'cosine' or 'constant', got "linear"`],
  ['warmupSteps -1', { warmupSteps: -1 }, 'warmupSteps must be an integer ≥ 0'],
  ['identityLoss mse', { identityLoss: 'mse' }, "identityLoss must be 'cosine', 'l2' or 'arcface'"],
  ['bnForm l1', { bnForm: 'l1' }, "bnForm must be 'arcface' or 'deepinversion'"],
  ['bnReduction max', { bnReduction: 'max' }, "bnReduction must be 'sum' or 'mean'"],
  ['identityWeight -1', { identityWeight: -1 }, 'identityWeight must be a number ≥ 0, got -1'],
  ['bnWeight -0.5', { bnWeight: -0.5 }, 'bnWeight must be a number ≥ 0'],
  ['bnFirstLayerWeight NaN', { bnFirstLayerWeight: NaN }, 'bnFirstLayerWeight must be a number ≥ 0'],
  ['tvL1Weight -1', { tvL1Weight: -1 }, 'tvL1Weight must be a number ≥ 0'],
  ['tvL2Weight Infinity', { tvL2Weight: Infinity }, 'tvL2Weight must be a number ≥ 0'],
  ['l2Weight "0"', { l2Weight: '0' }, 'l2Weight must be a number ≥ 0'],
  ['initStd -1', { initStd: -1 }, 'initStd must be a number ≥ 0'],
  ['bnPrior "yes"', { bnPrior: 'yes' }, 'bnPrior must be a boolean'],
  ['flip 1', { flip: 1 }, 'flip must be a boolean, got 1'],
  ['multiResolution "true"', { multiResolution: 'true' }, 'multiResolution must be a boolean'],
  ['jitter 1.5', { jitter: 1.5 }, 'jitter must be an integer ≥ 0'],
  ['jitter -1', { jitter: -1 }, 'jitter must be an integer ≥ 0'],
  ['scaleJitter 0.6', { scaleJitter: 0.6 }, 'scaleJitter must be in [0, 0.5], got 0.6'],
  ['scaleJitter -0.1', { scaleJitter: -0.1 }, 'scaleJitter must be in [0, 0.5]'],
  ['colourShift 1.5', { colourShift: 1.5 }, 'colourShift must be in [0, 1], got 1.5'],
  ['colourShift -0.1', { colourShift: -0.1 }, 'colourShift must be in [0, 1]'],
  ['parametrisation dct', { parametrisation: 'dct' }, `parametrisation must be 'pixel' or 'fourier', got "dct"`],
  ['colour hsv', { colour: 'hsv' }, `colour must be 'rgb' or 'decorrelated', got "hsv"`],
  ['fourierDecay 5', { fourierDecay: 5 }, 'fourierDecay must be in [0, 4], got 5'],
  [
    'outputSize 17',
    { outputSize: 17 },
    'outputSize must be 0 (the model input size) or an even integer in [16, 1024], got 17',
  ],
  [
    'outputSize 8',
    { outputSize: 8 },
    'outputSize must be 0 (the model input size) or an even integer in [16, 1024], got 8',
  ],
  ['outputSize 2048', { outputSize: 2048 }, 'outputSize must be 0 (the model input size) or an even integer'],
  ['multiResolutionFraction 1.5', { multiResolutionFraction: 1.5 }, 'multiResolutionFraction must be in [0, 1]'],
  ['evalEvery 0', { evalEvery: 0 }, 'evalEvery must be an integer ≥ 1'],
  ['reportEvery 0', { reportEvery: 0 }, 'reportEvery must be an integer ≥ 1'],
  ['previewEvery -1', { previewEvery: -1 }, 'previewEvery must be an integer ≥ 0'],
  ['snapshotEvery 0.5', { snapshotEvery: 0.5 }, 'snapshotEvery must be an integer ≥ 0'],
  ['margin m2 3', { margin: { s: 64, m1: 1, m2: 3, m3: 0 } }, 'margin m2 must be in [0, pi/2]'],
  ['margin unknown key', { margin: { r: 1 } }, 'unknown margin option "r"'],
];

test.each(BAD)('%s is rejected with a one-line ArcinvertError', (_name, partial, message) => {
  let err: unknown;
  try {
    resolveInvertConfig(partial as Partial<InvertConfig>);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ArcinvertError);
  const text = (err as Error).message;
  expect(text).toContain(message);
  expect(text).not.toContain('\n');
  expect((err as ArcinvertError).exitCode).toBe(2);
});

test('edge values that are valid are accepted', () => {
  expect(() =>
    resolveInvertConfig({
      steps: 1,
      batchSize: 1,
      minBatch: 1,
      seed: 0,
      beta1: 0,
      beta2: 0,
      warmupSteps: 0,
      jitter: 0,
      identityWeight: 0,
      bnWeight: 0,
      initStd: 0,
      multiResolutionFraction: 1,
      previewEvery: 0,
      snapshotEvery: 0,
    }),
  ).not.toThrow();
});

describe('learningRate', () => {
  const c = { lr: 1, steps: 100, warmupSteps: 10, lrSchedule: 'cosine' as const };

  test('linear warmup reaches lr at the last warmup step', () => {
    expect(learningRate(c, 0)).toBeCloseTo(0.1, 12);
    expect(learningRate(c, 4)).toBeCloseTo(0.5, 12);
    expect(learningRate(c, 9)).toBeCloseTo(1, 12);
  });

  test('cosine: lr right after warmup, half at mid-decay, ~0 at the end', () => {
    expect(learningRate(c, 10)).toBeCloseTo(1, 12); // t = 0
    expect(learningRate(c, 55)).toBeCloseTo(0.5, 12); // t = 45/90 = ½ → ½(1 + cos π/2)
    expect(learningRate(c, 32.5)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12); // t = ¼
    expect(learningRate(c, 99)).toBeCloseTo(0.5 * (1 - Math.cos(Math.PI / 90)), 12); // t = 89/90
    expect(learningRate(c, 100)).toBeCloseTo(0, 12);
    expect(learningRate(c, 150)).toBeCloseTo(0, 12); // clamped past the end
    // Monotone non-increasing after warmup.
    const lrs = Array.from({ length: 91 }, (_, i) => learningRate(c, 10 + i));
    lrs.slice(1).forEach((v, i) => expect(v).toBeLessThanOrEqual(lrs[i]));
  });

  test('constant schedule and no warmup', () => {
    expect(learningRate({ ...c, lrSchedule: 'constant' }, 50)).toBe(1);
    expect(learningRate({ ...c, lrSchedule: 'constant' }, 3)).toBeCloseTo(0.4, 12);
    expect(learningRate({ lr: 0.25, steps: 4, warmupSteps: 0, lrSchedule: 'cosine' }, 0)).toBe(0.25);
    expect(learningRate({ lr: 0.25, steps: 4, warmupSteps: 0, lrSchedule: 'cosine' }, 2)).toBeCloseTo(0.125, 12);
  });
});

test('the canvas: outputSize high at the input aspect ratio, never below the model input', () => {
  expect(canvasSize({ outputSize: 0 }, [64, 64])).toEqual([64, 64]);
  expect(canvasSize({ outputSize: 128 }, [64, 64])).toEqual([128, 128]);
  expect(canvasSize({ outputSize: 128 }, [112, 96])).toEqual([128, 110]); // 128 · 96 / 112 = 109.7
  expect(canvasSize({ outputSize: 130 }, [112, 96])).toEqual([130, 112]); // 111.4: even, as a half-size start needs
  expect(canvasSize({ outputSize: 18 }, [112, 96])).toEqual([112, 96]); // smaller than the input: the input
  expect(canvasSize({ outputSize: 224 }, [224, 224])).toEqual([224, 224]);
  expect(canvasSize({ outputSize: 128 }, [224, 224])).toEqual([224, 224]); // faceres (224 px) at the default
  expect(DEFAULT_INVERT_CONFIG.outputSize).toBe(128);
});
