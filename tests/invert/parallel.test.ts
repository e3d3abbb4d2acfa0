/**
 * invertParallel against invert: the same images, in the same order, from worker threads.
 * Workers run compiled JavaScript: from the TypeScript source, invertParallel starts the
 * build's copy in dist/ and refuses a build older than src/ (`npm test` builds first).
 */
import { resolveInvertConfig } from '../../src/invert/config.js';
import { invertSerial as invert, type InvertTargets } from '../../src/invert/loop.js';
import { batchParts, invertParallel } from '../../src/invert/parallel.js';
import { planBatches } from '../../src/invert/plan.js';
import type { InvertProgress } from '../../src/invert/types.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet, noiseTargets } from '../helpers/tiny.js';

let fm: ReturnType<typeof calibratedTinyMobileFaceNet>;
beforeAll(async () => {
  await useWasm();
  fm = calibratedTinyMobileFaceNet(3);
});
afterAll(() => fm.model.dispose());

const targetsOf = (n: number): InvertTargets => noiseTargets(fm, n, 12);

// Three batches (the last padded with a filler) for two workers.
const config = resolveInvertConfig({
  outputSize: 0,
  steps: 4,
  batchSize: 2,
  minBatch: 2,
  seeds: 1,
  evalEvery: 2,
  reportEvery: 2,
});

test('gives the serial images, in the serial order', async () => {
  const targets = targetsOf(5);
  const serial = await invert(fm, targets, config);
  const progress: Array<[number, InvertProgress]> = [];
  const parallel = await invertParallel(fm, targets, config, {
    workers: 2,
    onProgress: (w, p) => progress.push([w, p]),
  });
  expect(parallel.aborted).toBe(false);
  expect(parallel.images.map((i) => [i.target, i.seed])).toEqual(serial.images.map((i) => [i.target, i.seed]));
  parallel.images.forEach((img, i) => {
    expect(Buffer.from(img.image.data).equals(Buffer.from(serial.images[i]!.image.data))).toBe(true);
    expect(img.bestCosine).toBe(serial.images[i]!.bestCosine);
  });
  expect(new Set(progress.map(([w]) => w))).toEqual(new Set([0, 1]));
  expect(new Set(progress.map(([, p]) => p.batch))).toEqual(new Set([0, 1, 2]));
});

test('the batch subset of invert equals the same batch of a full run', async () => {
  const targets = targetsOf(5);
  const full = await invert(fm, targets, config);
  const last = await invert(fm, targets, config, { batches: [2] });
  expect(last.images.map((i) => i.target)).toEqual([3, 4]); // 5 at batch 2: [0], [1, 2], [3, 4]
  last.images.forEach((img, k) =>
    expect(Buffer.from(img.image.data).equals(Buffer.from(full.images[3 + k]!.image.data))).toBe(true),
  );
  await expect(invert(fm, targets, config, { batches: [3] })).rejects.toThrow(/outside the 3 planned batches/);
});

test('rejects the closed-set identity loss', async () => {
  const closed = resolveInvertConfig({ ...config, identityLoss: 'arcface' });
  await expect(invertParallel(fm, targetsOf(1), closed)).rejects.toThrow(/arcface/);
});

test('batchParts: decided by the whole plan, at most one part per image', () => {
  const plan = (targets: number, batch: number) => planBatches(targets, 1, batch, Math.min(batch, 2));
  expect(batchParts(plan(8, 8), 2)).toBe(2);
  expect(batchParts(plan(8, 8), 1)).toBe(1);
  expect(batchParts(plan(8, 8), 3)).toBe(3);
  expect(batchParts(plan(16, 8), 2)).toBe(1); // as many batches as workers: whole batches
  expect(batchParts(plan(16, 8), 5)).toBe(2);
  expect(batchParts(plan(2, 2), 8)).toBe(2); // a batch of two images: two parts at most
  expect(batchParts([], 2)).toBe(1);
});

describe('one batch cut into parts, one per worker', () => {
  // One batch of four images, three of them real (the fourth a filler seed of target 0).
  const one = resolveInvertConfig({
    outputSize: 0,
    steps: 6,
    batchSize: 4,
    minBatch: 4,
    seeds: 1,
    evalEvery: 2,
    reportEvery: 3,
    previewEvery: 3,
  });

  test('gives the serial images up to float rounding, and one progress report per step', async () => {
    const targets = targetsOf(3);
    const serialProgress: InvertProgress[] = [];
    const serial = await invert(fm, targets, one, { onProgress: (p) => serialProgress.push(p) });
    const progress: InvertProgress[] = [];
    const split = await invertParallel(fm, targets, one, { workers: 2, onProgress: (_w, p) => progress.push(p) });
    expect(split.batchParts).toBe(2);
    expect(serial.batchParts).toBeUndefined();
    expect(split.images.map((i) => [i.target, i.seed])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    split.images.forEach((img, i) => {
      const ref = serial.images[i]!;
      const diff = img.image.data.reduce((m, v, k) => Math.max(m, Math.abs(v - ref.image.data[k]!)), 0);
      expect(diff).toBeLessThanOrEqual(1);
      expect(img.bestCosine).toBeCloseTo(ref.bestCosine, 5);
      for (const k of ['total', 'identity', 'bn', 'tvL1', 'tvL2', 'l2'] as const)
        expect(img.finalLosses[k]).toBeCloseTo(ref.finalLosses[k], 4);
    });
    // The parts' reports pooled into one per reported step, as the serial run gives them.
    expect(progress.map((p) => p.step)).toEqual(serialProgress.map((p) => p.step));
    progress.forEach((p, k) => {
      expect(p.cosine.mean).toBeCloseTo(serialProgress[k]!.cosine.mean, 5);
      expect(p.cosine.min).toBeCloseTo(serialProgress[k]!.cosine.min, 5);
      expect(p.losses.total).toBeCloseTo(serialProgress[k]!.losses.total, 4);
      expect(p.preview?.width).toBe(serialProgress[k]!.preview?.width);
    });
  });

  test('a part of fillers only gives no images and no preview; the run gives the real ones', async () => {
    // One target, two seeds' worth of batch: part 1 holds the filler alone.
    const cfg = resolveInvertConfig({ ...one, batchSize: 2, minBatch: 2 });
    const serial = await invert(fm, targetsOf(1), cfg);
    const split = await invertParallel(fm, targetsOf(1), cfg, { workers: 2 });
    expect(split.images.map((i) => [i.target, i.seed])).toEqual([[0, 0]]);
    expect(split.images[0]!.bestCosine).toBeCloseTo(serial.images[0]!.bestCosine, 5);
  });

  test('an abort stops every part after the same step, with the best images so far', async () => {
    const controller = new AbortController();
    const long = resolveInvertConfig({ ...one, steps: 400, reportEvery: 1 });
    const steps: number[] = [];
    const split = await invertParallel(fm, targetsOf(3), long, {
      workers: 2,
      signal: controller.signal,
      onProgress: (_w, p) => {
        steps.push(p.step);
        if (p.step === 3) controller.abort();
      },
    });
    expect(split.aborted).toBe(true);
    expect(split.images).toHaveLength(3);
    const last = Math.max(...steps);
    expect(last).toBeLessThan(400);
    expect(new Set(split.images.map((i) => i.steps))).toEqual(new Set([last]));
  });
});
