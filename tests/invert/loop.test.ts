import * as tf from '@tensorflow/tfjs';
import { BnTaps } from '../../src/bnprior/taps.js';
import { resolveInvertConfig } from '../../src/invert/config.js';
import { invert } from '../../src/invert/invert.js';
import type { InvertTargets } from '../../src/invert/loop.js';
import type { InvertProgress } from '../../src/invert/types.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet, noiseTargets } from '../helpers/tiny.js';

let fm: ReturnType<typeof calibratedTinyMobileFaceNet>;
beforeAll(async () => {
  await useWasm();
  fm = calibratedTinyMobileFaceNet(3);
});
afterAll(() => fm.model.dispose());

const targetsOf = (n: number): InvertTargets => noiseTargets(fm, n, 11);

// No jitter or flip: the tiny random net is not shift- or mirror-invariant as a face model is.
const quick = resolveInvertConfig({
  outputSize: 0,
  steps: 40,
  batchSize: 4,
  minBatch: 4,
  lr: 0.1,
  warmupSteps: 2,
  evalEvery: 5,
  reportEvery: 5,
  jitter: 0,
  flip: false,
  multiResolution: false,
});

test('raises the cosine to the target and keeps the best image per target', async () => {
  const progress: InvertProgress[] = [];
  const res = await invert(fm, targetsOf(2), quick, { onProgress: (p) => progress.push(p) });
  expect(res.images.map((i) => [i.target, i.seed])).toEqual([
    [0, 0],
    [1, 0],
  ]);
  const first = progress[0].cosine.mean;
  for (const img of res.images) {
    expect(img.bestCosine).toBeGreaterThan(0.9);
    expect(img.bestCosine).toBeGreaterThanOrEqual(img.finalCosine);
    expect(img.image.data.length).toBe(32 * 32 * 3);
    expect(img.steps).toBe(40);
  }
  expect(progress[progress.length - 1].cosine.bestMean).toBeGreaterThan(first);
  expect(progress[progress.length - 1].globalStep).toBe(40);
  expect(Number.isFinite(progress[0].losses.bn)).toBe(true);
  expect(progress[0].losses.bn).toBeGreaterThan(0);
});

test('the reported best cosine is the cosine of the returned image', async () => {
  const t = targetsOf(1);
  const res = await invert(fm, t, { ...quick, steps: 10 });
  const img = res.images[0];
  const x = tf.tidy(() =>
    tf
      .tensor3d(
        Float32Array.from(img.image.data, (v) => (v - 127.5) / 127.5),
        [32, 32, 3],
      )
      .expandDims(0),
  );
  const e = Array.from(tf.tidy(() => (fm.model.predict(x) as tf.Tensor).squeeze().dataSync()));
  const tt = Array.from(t.embeddings);
  const dot = e.reduce((a, v, i) => a + v * tt[i], 0);
  const cos = dot / Math.hypot(...e) / Math.hypot(...tt);
  // 8-bit quantisation of the image moves the cosine a little.
  expect(Math.abs(cos - img.bestCosine)).toBeLessThan(0.02);
  x.dispose();
});

test('same seed, config and backend give identical images; another seed does not', async () => {
  const t = targetsOf(1);
  const cfg = { ...quick, steps: 6 };
  const [a, b, c] = [await invert(fm, t, cfg), await invert(fm, t, cfg), await invert(fm, t, { ...cfg, seed: 1 })];
  expect(b.images[0].image.data).toEqual(a.images[0].image.data);
  expect(c.images[0].image.data).not.toEqual(a.images[0].image.data);
});

test('one target is padded to minBatch with fillers that are not returned', async () => {
  const batchSizes: number[] = [];
  const res = await invert(
    fm,
    targetsOf(1),
    { ...quick, steps: 2, seeds: 2 },
    {
      onSnapshot: (s) => {
        batchSizes.push(s.images.length);
      },
    },
  );
  expect(res.images.map((i) => i.seed)).toEqual([0, 1]);
  expect(res.images.length).toBe(2);
});

test('never writes the moving statistics and leaks no tensors', async () => {
  const taps = new BnTaps(fm.model);
  const before = taps.layers.map((l) => [l.runningMean.dataSync().slice(), l.runningVar.dataSync().slice()]);
  const t = targetsOf(2);
  const n0 = tf.memory().numTensors;
  await invert(
    fm,
    t,
    {
      ...quick,
      steps: 6,
      multiResolution: true,
      parametrisation: 'pixel',
      colour: 'rgb',
      snapshotEvery: 3,
      previewEvery: 3,
    },
    { onSnapshot: () => undefined, onProgress: () => undefined },
  );
  expect(tf.memory().numTensors).toBe(n0);
  expect(taps.layers.map((l) => [l.runningMean.dataSync().slice(), l.runningVar.dataSync().slice()])).toEqual(before);
});

test('an abort finishes the current step and returns the best images so far', async () => {
  const ctrl = new AbortController();
  const res = await invert(
    fm,
    targetsOf(2),
    { ...quick, steps: 100, reportEvery: 1 },
    {
      signal: ctrl.signal,
      onProgress: (p) => {
        if (p.step === 3) ctrl.abort();
      },
    },
  );
  expect(res.aborted).toBe(true);
  expect(res.images.length).toBe(2);
  expect(res.images[0].steps).toBe(4);
});

test('multi-resolution starts at half resolution and ends at full', async () => {
  const res: Array<[number, number]> = [];
  await invert(
    fm,
    targetsOf(1),
    { ...quick, steps: 4, multiResolution: true, parametrisation: 'pixel', colour: 'rgb', reportEvery: 1 },
    { onProgress: (p) => res.push(p.resolution) },
  );
  expect(res).toEqual([
    [16, 16],
    [16, 16],
    [32, 32],
    [32, 32],
  ]);
});

test('rejects targets of the wrong dimension', async () => {
  await expect(invert(fm, { embeddings: new Float32Array(8), dim: 8 }, quick)).rejects.toThrow(
    /dimension 8 but the model's embedding size is 16/,
  );
});

describe('a loss that goes NaN stops the inversion and keeps the best finite images', () => {
  test('weights turned NaN after step 12: diverged at step 13, images of the best finite step, no later batch', async () => {
    // A model of its own (`fm` stays intact) whose last layer the test poisons mid-run.
    const m = calibratedTinyMobileFaceNet(3);
    const poison = (): void => {
      const layer = m.model.layers[m.model.layers.length - 1];
      const [kernel, ...rest] = layer.getWeights();
      const nan = tf.fill(kernel.shape, NaN);
      layer.setWeights([nan, ...rest]);
      nan.dispose();
    };
    const n0 = tf.memory().numTensors;
    // 2 targets, batches of 1: batch 0 diverges, batch 1 is never started.
    const res = await invert(
      m,
      noiseTargets(m, 2, 11),
      { ...quick, batchSize: 1, minBatch: 1, steps: 30, reportEvery: 1, evalEvery: 4 },
      {
        onProgress: (p) => {
          if (p.step === 12) poison();
        },
      },
    );
    expect(res.aborted).toBe(false);
    expect(res.diverged).toEqual({ batch: 0, step: 13, loss: NaN });
    expect(res.images.map((i) => i.target)).toEqual([0]);
    const [im] = res.images;
    expect(im.steps).toBe(12);
    expect(Number.isFinite(im.bestCosine)).toBe(true);
    expect([4, 8, 12]).toContain(im.bestStep);
    expect(im.image.data.length).toBe(32 * 32 * 3);
    expect(tf.memory().numTensors).toBe(n0);
    m.model.dispose();
  });

  test('an infinite loss at the first step: diverged at step 1, the starting images are returned', async () => {
    const res = await invert(fm, targetsOf(1), { ...quick, steps: 5, identityWeight: 3e38, bnWeight: 3e38 });
    expect(res.diverged?.step).toBe(1);
    expect(res.diverged?.batch).toBe(0);
    expect(Number.isFinite(res.diverged?.loss)).toBe(false);
    expect(res.images.map((i) => [i.bestStep, i.steps])).toEqual([[0, 0]]);
  });
});

test('the images are optimised in the same pixel space whatever normalisation the model takes', async () => {
  // The same network taking raw pixels − 127.5 (mean 127.5, std 1, as some imported graphs do):
  // its first conv (no bias) divided by 127.5 makes raw(x) = A(x / 127.5) exactly.
  const raw = calibratedTinyMobileFaceNet(3);
  const conv = raw.model.layers.find((l) => l.getClassName() === 'Conv2D')!;
  expect((conv.getConfig() as { useBias: boolean }).useBias).toBe(false);
  tf.tidy(() => conv.setWeights([conv.getWeights()[0].div(127.5)]));
  const rawFm = { ...raw, meta: { ...raw.meta, normalization: { mean: 127.5, std: 1 } } };
  const t = targetsOf(1);
  const cfg = { ...quick, steps: 10 };
  const before = tf.memory().numTensors;
  const [a, b] = [await invert(fm, t, cfg), await invert(rawFm, t, cfg)];
  expect(tf.memory().numTensors).toBe(before);
  expect(b.images[0].bestCosine).toBeCloseTo(a.images[0].bestCosine, 4);
  const diff = a.images[0].image.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.images[0].image.data[i])), 0);
  expect(diff).toBeLessThanOrEqual(1);
  raw.model.dispose();
});
