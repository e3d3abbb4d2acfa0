/**
 * invertParallel against invert: the same images, in the same order, from worker threads.
 * Workers run compiled JavaScript: from the TypeScript source, invertParallel starts the
 * build's copy in dist/ and refuses a build older than src/ (`npm test` builds first).
 */
import { resolveInvertConfig } from '../../src/invert/config.js';
import { invertSerial as invert, type InvertTargets } from '../../src/invert/loop.js';
import { invertParallel } from '../../src/invert/parallel.js';
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
const config = resolveInvertConfig({ steps: 4, batchSize: 2, minBatch: 2, seeds: 1, evalEvery: 2, reportEvery: 2 });

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
  expect(last.images.map((i) => i.target)).toEqual([4]);
  expect(Buffer.from(last.images[0]!.image.data).equals(Buffer.from(full.images[4]!.image.data))).toBe(true);
  await expect(invert(fm, targets, config, { batches: [3] })).rejects.toThrow(/outside the 3 planned batches/);
});

test('rejects the closed-set identity loss', async () => {
  const closed = resolveInvertConfig({ ...config, identityLoss: 'arcface' });
  await expect(invertParallel(fm, targetsOf(1), closed)).rejects.toThrow(/arcface/);
});
