/**
 * Ensemble inversion (`InvertMember`): one image, an identity loss and a BN prior per model.
 * The attacked model's terms are unchanged; each member adds its weighted identity and prior
 * terms to the total, on the same images resized to its input and seen through the same
 * augmentation.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveInvertConfig, type InvertConfig } from '../../src/invert/config.js';
import { invertSerial } from '../../src/invert/loop.js';
import { invertParallel } from '../../src/invert/parallel.js';
import { planBatches } from '../../src/invert/plan.js';
import {
  batchSpec,
  createBatchState,
  createRunContext,
  disposeBatchState,
  disposeRunContext,
  invertStep,
} from '../../src/invert/step.js';
import type { InvertMember } from '../../src/invert/types.js';
import type { FaceModel } from '../../src/model/types.js';
import { useWasm } from '../helpers/backend.js';
import { calibrateBn, calibratedTinyMobileFaceNet, noiseTargets, tinyIResNet } from '../helpers/tiny.js';

let fm: FaceModel;
let other: FaceModel; // 16×16 input, 8-d embeddings
beforeAll(async () => {
  await useWasm();
  fm = calibratedTinyMobileFaceNet(3);
  other = tinyIResNet(5);
  const x = tf.randomUniform([16, 16, 16, 3], -1, 1, 'float32', 105) as tf.Tensor4D;
  calibrateBn(other, x);
  x.dispose();
});
afterAll(() => {
  fm.model.dispose();
  other.model.dispose();
});

const config = resolveInvertConfig({ outputSize: 0, steps: 4, batchSize: 3, minBatch: 3, tvL1Weight: 0.01 });

/** Two steps of batch 0 with `members`; the images and each step's terms. */
function twoSteps(c: InvertConfig, members: InvertMember[]): { x: Float32Array; terms: number[][] } {
  const targets = noiseTargets(fm, 3, 11);
  const run = createRunContext(fm, c, members);
  const s = createBatchState(run, batchSpec(targets, planBatches(3, 1, 3, 3)[0], 0, c, undefined, members));
  const terms: number[][] = [];
  for (const lr of [0.05, 0.05]) {
    const t = invertStep(run, s, lr);
    terms.push(Array.from(t.dataSync()));
    t.dispose();
  }
  const x = s.x.dataSync().slice() as Float32Array;
  disposeBatchState(s);
  disposeRunContext(run);
  return { x, terms };
}

test('a member of weight 0 changes nothing, bit for bit', () => {
  const alone = twoSteps(config, []);
  const zero = twoSteps(config, [{ fm: other, targets: noiseTargets(other, 3, 11), weight: 0 }]);
  expect(zero.x).toEqual(alone.x);
  expect(zero.terms).toEqual(alone.terms);
});

test('the attacked model as its own member of weight w: the total is (1 + w)·(identity + prior) + image priors', () => {
  const w = 0.5;
  const self = twoSteps(config, [{ fm, targets: noiseTargets(fm, 3, 11), weight: w }]);
  // First step: the same starting images as alone, so the terms can be checked by hand.
  const [total, id, bn, tv1, tv2, l2] = self.terms[0];
  const c = config;
  const expected =
    (1 + w) * (c.identityWeight * id + c.bnWeight * bn) + c.tvL1Weight * tv1 + c.tvL2Weight * tv2 + c.l2Weight * l2;
  expect(total).toBeCloseTo(expected, 4);
  expect(total).toBeGreaterThan(twoSteps(config, []).terms[0][0]);
});

test('a member of another input size and embedding: deterministic, moves the images, no leaks', () => {
  const member = { fm: other, targets: noiseTargets(other, 3, 11), weight: 1 };
  const n0 = tf.memory().numTensors;
  const a = twoSteps(config, [member]);
  expect(tf.memory().numTensors).toBe(n0);
  expect(twoSteps(config, [member]).x).toEqual(a.x);
  expect(a.x).not.toEqual(twoSteps(config, []).x);
  expect(a.x.length).toBe(3 * 32 * 32 * 3); // the attacked model's canvas
});

test('member targets that are not one row per target in its space are refused', async () => {
  const targets = noiseTargets(fm, 3, 11);
  await expect(
    invertSerial(fm, targets, config, { members: [{ fm: other, targets: noiseTargets(other, 2, 1), weight: 1 }] }),
  ).rejects.toThrow('ensemble member 1: its targets are 2×8, the run needs 3×8');
  await expect(
    invertSerial(fm, targets, config, { members: [{ fm: other, targets: noiseTargets(fm, 3, 1), weight: 1 }] }),
  ).rejects.toThrow('ensemble member 1: its targets are 3×16, the run needs 3×8');
  await expect(
    invertSerial(fm, targets, config, { members: [{ fm: other, targets: noiseTargets(other, 3, 1), weight: -1 }] }),
  ).rejects.toThrow('ensemble member 1: weight must be a number ≥ 0, got -1');
});

test('on worker threads the ensemble gives the serial images', async () => {
  const c = resolveInvertConfig({ outputSize: 0, steps: 3, batchSize: 2, minBatch: 2 });
  const targets = noiseTargets(fm, 4, 12);
  const members = [{ fm: other, targets: noiseTargets(other, 4, 12), weight: 1 }];
  const serial = await invertSerial(fm, targets, c, { members });
  const parallel = await invertParallel(fm, targets, c, { workers: 2, members });
  expect(parallel.images.map((i) => [i.target, i.seed])).toEqual(serial.images.map((i) => [i.target, i.seed]));
  parallel.images.forEach((im, i) =>
    expect(Buffer.from(im.image.data)).toEqual(Buffer.from(serial.images[i].image.data)),
  );
  const alone = await invertSerial(fm, targets, c);
  expect(Buffer.from(alone.images[0].image.data)).not.toEqual(Buffer.from(serial.images[0].image.data));
});
