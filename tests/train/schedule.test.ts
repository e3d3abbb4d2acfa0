import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { DEFAULT_TRAIN_CONFIG, resolveTrainConfig, scheduleSpec } from '../../src/train/config.js';
import { learningRateAt, type LrScheduleSpec } from '../../src/train/schedule.js';
import { clipByGlobalNorm, sgdInit, sgdStep } from '../../src/train/sgd.js';

const poly: LrScheduleSpec = {
  base: 0.1,
  warmupSteps: 4,
  totalSteps: 14,
  kind: 'poly',
  power: 2,
  milestones: [],
  gamma: 0.1,
};

test('warmup is linear from the first step and reaches the base LR at its last step', () => {
  [0.025, 0.05, 0.075, 0.1].forEach((lr, s) => expect(learningRateAt(poly, s)).toBeCloseTo(lr, 12));
});

test('polynomial decay: base·(1 − (s − W)/(T − W))², 0 from T on', () => {
  // s = 4: progress 0 → 0.1; s = 9: (1 − 5/10)² = 0.25 → 0.025; s = 13: (0.1)² → 0.001.
  expect(learningRateAt(poly, 4)).toBeCloseTo(0.1, 12);
  expect(learningRateAt(poly, 9)).toBeCloseTo(0.025, 12);
  expect(learningRateAt(poly, 13)).toBeCloseTo(0.001, 12);
  expect(learningRateAt(poly, 14)).toBe(0);
  expect(learningRateAt({ ...poly, power: 1 }, 9)).toBeCloseTo(0.05, 12);
});

test('step decay multiplies by gamma at each milestone', () => {
  const step: LrScheduleSpec = { ...poly, kind: 'step', warmupSteps: 0, milestones: [10, 20], gamma: 0.1 };
  expect([0, 9, 10, 19, 20, 100].map((s) => learningRateAt(step, s))).toEqual([
    0.1,
    0.1,
    0.1 * 0.1,
    0.1 * 0.1,
    0.1 * 0.1 * 0.1,
    0.1 * 0.1 * 0.1,
  ]);
  expect(() => learningRateAt(step, -1)).toThrow(ArcinvertError);
});

test('scheduleSpec converts epochs to steps', () => {
  const cfg = resolveTrainConfig({ epochs: 4, warmupEpochs: 0.5, schedule: 'step', milestones: [2, 3] });
  expect(scheduleSpec(cfg, 10)).toEqual({
    base: 0.1,
    warmupSteps: 5,
    totalSteps: 40,
    kind: 'step',
    power: 2,
    milestones: [20, 30],
    gamma: 0.1,
  });
});

test('resolveTrainConfig fills defaults and rejects unknown keys and bad values', () => {
  const cfg = resolveTrainConfig({ lr: 0.05, margin: { m2: 0.3 } });
  expect(cfg.lr).toBe(0.05);
  expect(cfg.margin).toEqual({ s: 64, m1: 1, m2: 0.3, m3: 0 });
  expect(cfg.momentum).toBe(0.9);
  expect(cfg.weightDecay).toBe(5e-4);
  expect(cfg.gradClipNorm).toBe(5);
  expect(resolveTrainConfig()).toEqual({ ...DEFAULT_TRAIN_CONFIG, margin: { s: 64, m1: 1, m2: 0.5, m3: 0 } });
  const bad: Array<Record<string, unknown>> = [
    { lrate: 0.1 },
    { lr: 0 },
    { momentum: 1 },
    { batchSize: 1 },
    { epochs: 0 },
    { schedule: 'cosine' },
    { milestones: [5, 3] },
    { k: 0 },
    { valFraction: 1 },
    { backbone: 'vgg' },
    { backboneConfig: { depth: 3 } },
    { margin: { m: 0.5 } },
    { evalPairs: { pairs: 'x' } },
    { warmupEpochs: 30 },
  ];
  for (const b of bad) expect(() => resolveTrainConfig(b as never)).toThrow(ArcinvertError);
});

describe('sgd', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  test('momentum and weight decay in PyTorch form, hand values', () => {
    const before = tf.memory().numTensors;
    const init = tf.tensor1d([1, -2]);
    const w = tf.variable(init);
    init.dispose();
    let bufs = sgdInit([w]);
    const g = tf.tensor1d([0.5, 0.5]);
    // step 1: d = g + 0.1·w = [0.6, 0.3]; buf = d; w = w − 0.5·buf = [0.7, −2.15].
    let next = sgdStep([w], [g], bufs, { lr: 0.5, momentum: 0.9, weightDecay: 0.1 });
    tf.dispose(bufs);
    bufs = next;
    expect(Array.from(w.dataSync())).toEqual([0.7, -2.15].map(Math.fround));
    // step 2: d = [0.5 + 0.07, 0.5 − 0.215] = [0.57, 0.285]; buf = 0.9·[0.6, 0.3] + d = [1.11, 0.555];
    // w = [0.7 − 0.555, −2.15 − 0.2775] = [0.145, −2.4275].
    next = sgdStep([w], [g], bufs, { lr: 0.5, momentum: 0.9, weightDecay: 0.1 });
    tf.dispose(bufs);
    bufs = next;
    const v = w.dataSync();
    expect(v[0]).toBeCloseTo(0.145, 6);
    expect(v[1]).toBeCloseTo(-2.4275, 6);
    expect(bufs[0].dataSync()[0]).toBeCloseTo(1.11, 6);
    tf.dispose([...bufs, g, w]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('clipByGlobalNorm scales all gradients by maxNorm / norm only above the limit', () => {
    const before = tf.memory().numTensors;
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor1d([4]);
    const big = clipByGlobalNorm([a, b], 1); // norm 5
    expect(big.norm.dataSync()[0]).toBeCloseTo(5, 6);
    expect(Array.from(big.grads[0].dataSync())[0]).toBeCloseTo(0.6, 5);
    expect(big.grads[1].dataSync()[0]).toBeCloseTo(0.8, 5);
    const small = clipByGlobalNorm([a, b], 10);
    expect(Array.from(small.grads[0].dataSync())).toEqual([3, 0]);
    tf.dispose([a, b, big.norm, ...big.grads, small.norm, ...small.grads]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
