/**
 * The library entry point: `invert` decides between this thread and worker threads, and both
 * give the same images. Workers run compiled JavaScript, so this uses the build in dist/.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveInvertConfig } from '../../src/invert/config.js';
import { invert, runsInParallel } from '../../src/invert/invert.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet, noiseTargets } from '../helpers/tiny.js';

const workerScript = new URL('../../dist/invert/parallelWorker.js', import.meta.url);

let fm: ReturnType<typeof calibratedTinyMobileFaceNet>;
beforeAll(async () => {
  await useWasm();
  fm = calibratedTinyMobileFaceNet(3);
});
afterAll(() => fm.model.dispose());

// Two batches of two targets.
const config = resolveInvertConfig({
  outputSize: 0,
  steps: 3,
  batchSize: 2,
  minBatch: 2,
  evalEvery: 1,
  reportEvery: 1,
});

test('workers only when asked for, with more than one image, no snapshots and no classifier loss', () => {
  const four = noiseTargets(fm, 4, 5);
  expect(runsInParallel(four, config, 2)).toBe(true);
  expect(runsInParallel(four, config, 1)).toBe(false);
  expect(runsInParallel(noiseTargets(fm, 2, 5), config, 2)).toBe(true); // one batch, cut into parts
  const single = resolveInvertConfig({ ...config, batchSize: 1, minBatch: 1 });
  expect(runsInParallel(noiseTargets(fm, 1, 5), single, 2)).toBe(false); // one image
  expect(runsInParallel(four, { ...config, snapshotEvery: 1 }, 2)).toBe(false);
  expect(runsInParallel(four, { ...config, identityLoss: 'arcface' }, 2)).toBe(false);
});

test('on two workers: the serial images and progress from both batches; no tensors leak', async () => {
  const targets = noiseTargets(fm, 4, 5);
  const n0 = tf.memory().numTensors;
  const serial = await invert(fm, targets, config);
  const batches = new Set<number>();
  const parallel = await invert(fm, targets, config, {
    workers: 2,
    workerScript,
    onProgress: (p) => batches.add(p.batch),
  });
  expect(tf.memory().numTensors).toBe(n0);
  expect(batches).toEqual(new Set([0, 1]));
  expect(parallel.images.map((i) => [i.target, i.seed])).toEqual(serial.images.map((i) => [i.target, i.seed]));
  parallel.images.forEach((img, i) => {
    expect(Buffer.from(img.image.data).equals(Buffer.from(serial.images[i]!.image.data))).toBe(true);
  });
});
