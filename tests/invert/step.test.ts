/**
 * The step-shaped pieces of the inversion on their own: run context and batch state (setup and
 * disposal), `invertStep` (one objective, one Adam update), the multi-resolution switch and the
 * keep-best evaluation.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveInvertConfig, type InvertConfig } from '../../src/invert/config.js';
import { planBatches } from '../../src/invert/plan.js';
import {
  batchSpec,
  createBatchState,
  createRunContext,
  disposeBatchState,
  disposeRunContext,
  evaluateBatch,
  invertStep,
  upsampleBatch,
} from '../../src/invert/step.js';
import { rowCosine } from '../../src/arcface/normalize.js';
import { exchangeLength, type BatchSpec } from '../../src/invert/step.js';
import type { PartExchange } from '../../src/invert/exchange.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet, noiseTargets } from '../helpers/tiny.js';

let fm: ReturnType<typeof calibratedTinyMobileFaceNet>;
beforeAll(async () => {
  await useWasm();
  fm = calibratedTinyMobileFaceNet(3);
});
afterAll(() => fm.model.dispose());

const base = resolveInvertConfig({
  outputSize: 0,
  steps: 4,
  batchSize: 3,
  minBatch: 3,
  multiResolution: true,
  parametrisation: 'pixel',
  colour: 'rgb',
});

/** Three steps of batch 0 from scratch; returns the images and the terms of each step. */
function threeSteps(config: InvertConfig): { x: Float32Array; terms: number[][]; shape: number[] } {
  const targets = noiseTargets(fm, 3, 11);
  const run = createRunContext(fm, config);
  const s = createBatchState(run, batchSpec(targets, planBatches(3, 1, 3, 3)[0], 0, config));
  const terms: number[][] = [];
  for (const lr of [0.05, 0.1, 0.1]) {
    const t = invertStep(run, s, lr);
    terms.push(Array.from(t.dataSync()));
    t.dispose();
  }
  const out = { x: s.x.dataSync() as Float32Array, terms, shape: s.x.shape };
  disposeBatchState(s);
  disposeRunContext(run);
  return out;
}

test('a step is deterministic for a seed, changes with it, and returns the weighted terms', () => {
  const n0 = tf.memory().numTensors;
  const a = threeSteps(base);
  const b = threeSteps(base);
  const c = threeSteps({ ...base, seed: 1 });
  expect(tf.memory().numTensors).toBe(n0);
  expect(a.shape).toEqual([3, 16, 16, 3]); // still at the low resolution of a multi-resolution start
  expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true);
  expect(b.terms).toEqual(a.terms);
  expect(Buffer.from(c.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(false);
  for (const [total, id, bn, tv1, tv2, l2] of a.terms) {
    const weighted =
      id * base.identityWeight +
      bn * base.bnWeight +
      tv1 * base.tvL1Weight +
      tv2 * base.tvL2Weight +
      l2 * base.l2Weight;
    expect(total).toBeCloseTo(weighted, 5);
    expect(bn).toBeGreaterThan(0);
  }
});

test("a part whose sibling holds the same images: the whole batch's terms and the same Adam step; no leaks", () => {
  // The sibling part is this part mirrored: the whole batch is the three images twice, whose
  // per-image means and BN statistics are those of the three, and whose objective's gradient
  // for one copy is half the three's own: one Adam step (blind to the gradient's scale) moves
  // the pixels alike. (tests/invert/parallel.test.ts checks the split against the serial run.)
  const config = resolveInvertConfig({ ...base, multiResolution: false });
  const targets = noiseTargets(fm, 3, 11);
  const jobs = planBatches(3, 1, 3, 3)[0]!;
  const n0 = tf.memory().numTensors;
  const run = createRunContext(fm, config);
  const gathered: Float32Array[] = [];
  const mirror = {
    part: 0,
    parts: 2,
    length: exchangeLength(run),
    allGather: (row: Float32Array) => {
      gathered.push(row.slice());
      const all = new Float32Array(2 * row.length);
      all.set(row);
      all.set(row, row.length);
      return all;
    },
  } as unknown as PartExchange;
  let asked = false;
  const split: BatchSpec['split'] = { exchange: mirror, sizes: [3, 3], stopRequested: () => asked, stop: false };
  const whole = createBatchState(run, batchSpec(targets, jobs, 0, config));
  const half = createBatchState(run, { ...batchSpec(targets, jobs, 0, config), split });
  for (const lr of [0.05, 0.1]) {
    const [a, b] = [invertStep(run, whole, lr), invertStep(run, half, lr)];
    const [ta, tb] = [a.dataSync(), b.dataSync()];
    // Equal up to float rounding (the terms reach ~100: relative, not absolute digits).
    ta.forEach((v, k) => expect(Math.abs(tb[k]! - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
    tf.dispose([a, b]);
    asked = true;
  }
  expect(gathered).toHaveLength(2);
  expect(gathered[0]![0]).toBe(0); // the stop flag, raised for the second step
  expect(gathered[1]![0]).toBe(1);
  expect(half.split!.stop).toBe(true);
  expect(gathered[0]!.length).toBe(exchangeLength(run));
  const [xa, xb] = [whole.x.dataSync() as Float32Array, half.x.dataSync() as Float32Array];
  expect(xa.reduce((m, v, k) => Math.max(m, Math.abs(v - xb[k]!)), 0)).toBeLessThan(1e-3);
  disposeBatchState(whole);
  disposeBatchState(half);
  disposeRunContext(run);
  expect(tf.memory().numTensors).toBe(n0);
});

test('upsampling goes to full size with a fresh Adam; keep-best records the cosines; all freed', () => {
  const n0 = tf.memory().numTensors;
  const targets = noiseTargets(fm, 3, 11);
  const run = createRunContext(fm, base);
  const s = createBatchState(run, batchSpec(targets, planBatches(3, 1, 3, 3)[0], 0, base));
  expect(s.keep.images.shape).toEqual([3, 32, 32, 3]);
  invertStep(run, s, 0.1).dispose();
  expect(s.adam.t).toBe(1);
  upsampleBatch(run, s);
  expect([s.x.shape, s.adam.t]).toEqual([[3, 32, 32, 3], 0]);
  invertStep(run, s, 0.1).dispose();
  evaluateBatch(run, s, 2);
  expect(Array.from(s.keep.step)).toEqual([2, 2, 2]);
  for (const c of s.keep.cosine) expect(Math.abs(c)).toBeLessThanOrEqual(1);
  expect(Array.from(s.keep.last)).toEqual(Array.from(s.keep.cosine));
  disposeBatchState(s);
  disposeRunContext(run);
  expect(tf.memory().numTensors).toBe(n0);
});

test.each([
  ['fourier + decorrelated', { parametrisation: 'fourier', colour: 'decorrelated', lr: 0.05 }],
  [
    'pixel + decorrelated (multi-resolution asked, not used)',
    { parametrisation: 'pixel', colour: 'decorrelated', multiResolution: true },
  ],
  ['pixel + rgb with zoom', { scaleJitter: 0.15 }],
  [
    'fourier + decorrelated with a colour shift',
    { parametrisation: 'fourier', colour: 'decorrelated', lr: 0.05, colourShift: 0.3 },
  ],
] as const)('%s: 40 steps raise the cosine, images stay in (−1, 1), nothing leaks', (_name, extra) => {
  const n0 = tf.memory().numTensors;
  const config = resolveInvertConfig({
    outputSize: 0,
    steps: 40,
    batchSize: 2,
    minBatch: 2,
    jitter: 0,
    flip: false,
    ...extra,
  });
  const targets = noiseTargets(fm, 2, 11);
  const run = createRunContext(fm, config);
  const s = createBatchState(run, batchSpec(targets, planBatches(2, 1, 2, 2)[0], 0, config));
  evaluateBatch(run, s, 0);
  const start = Array.from(s.keep.last);
  for (let step = 0; step < 40; step++) {
    invertStep(run, s, config.lr).dispose();
  }
  evaluateBatch(run, s, 40);
  s.keep.last.forEach((c, i) => expect(c).toBeGreaterThan(start[i] + 0.2));
  const px = s.keep.images.dataSync();
  expect(Math.max(...px.map(Math.abs))).toBeLessThanOrEqual(1);
  disposeBatchState(s);
  disposeRunContext(run);
  expect(tf.memory().numTensors).toBe(n0);
});

test('the Fourier parametrisation starts from a near-uniform image of the mean face colour', () => {
  const config = resolveInvertConfig({
    outputSize: 0,
    steps: 4,
    batchSize: 2,
    minBatch: 2,
    parametrisation: 'fourier',
    colour: 'decorrelated',
  });
  const run = createRunContext(fm, config);
  const s = createBatchState(run, batchSpec(noiseTargets(fm, 2, 11), planBatches(2, 1, 2, 2)[0], 0, config));
  expect(s.x.shape).toEqual([2, 32, 32, 3]); // full size: no low-resolution start
  const px = s.keep.images.dataSync() as Float32Array;
  const mean = [0, 1, 2].map((c) => px.filter((_, k) => k % 3 === c).reduce((a, b) => a + b) / (px.length / 3));
  // FACE_COLOUR.mean: a warm skin tone (R above G above B).
  expect(mean[0]).toBeGreaterThan(mean[1]);
  expect(mean[1]).toBeGreaterThan(mean[2]);
  disposeBatchState(s);
  disposeRunContext(run);
});

describe('a canvas larger than the model input (outputSize)', () => {
  const fourier = resolveInvertConfig({ outputSize: 0, steps: 4, batchSize: 3, minBatch: 3 });

  test('at or below the input size it is the outputSize-0 run, bit for bit', () => {
    const a = threeSteps(fourier);
    const b = threeSteps({ ...fourier, outputSize: 32 }); // the tiny model takes 32×32
    const c = threeSteps({ ...fourier, outputSize: 16 }); // never a canvas smaller than the input
    expect(b.shape).toEqual(a.shape);
    expect(b.x).toEqual(a.x);
    expect(c.shape).toEqual(a.shape);
    expect(c.x).toEqual(a.x);
    expect(b.terms).toEqual(a.terms);
  });

  test('twice the input: parameters, kept images and written images at 64×64; seeded; no leaks', () => {
    const n0 = tf.memory().numTensors;
    const config = { ...fourier, outputSize: 64 };
    const a = threeSteps(config);
    expect(a.shape).toEqual([3, 64, 64, 3]);
    expect(threeSteps(config).x).toEqual(a.x);
    expect(threeSteps({ ...config, seed: 2 }).x).not.toEqual(a.x);
    const run = createRunContext(fm, config);
    const s = createBatchState(run, batchSpec(noiseTargets(fm, 3, 11), planBatches(3, 1, 3, 3)[0], 0, config));
    invertStep(run, s, 0.05).dispose();
    evaluateBatch(run, s, 1);
    expect(s.keep.images.shape).toEqual([3, 64, 64, 3]);
    // The cosines kept are those of the canvas images as the network sees them (resized to 32).
    const seen = tf.tidy(() =>
      rowCosine(
        fm.model.apply(tf.image.resizeBilinear(s.keep.images, [32, 32], false, true), {
          training: false,
        }) as tf.Tensor2D,
        s.embeddings,
      ).dataSync(),
    );
    Array.from(seen).forEach((c, i) => expect(s.keep.cosine[i]).toBeCloseTo(c, 4));
    disposeBatchState(s);
    disposeRunContext(run);
    expect(tf.memory().numTensors).toBe(n0);
  });

  /** One step's move of the parameters; with a large Adam ε the move is lr·g/ε, the gradient itself. */
  function firstMove(config: InvertConfig): Float32Array {
    const c = { ...config, adamEpsilon: 1e3 };
    const run = createRunContext(fm, c);
    const s = createBatchState(run, batchSpec(noiseTargets(fm, 3, 11), planBatches(3, 1, 3, 3)[0], 0, c));
    const x0 = s.x.dataSync().slice() as Float32Array;
    invertStep(run, s, 1).dispose();
    const move = (s.x.dataSync() as Float32Array).map((v, k) => v - x0[k]);
    disposeBatchState(s);
    disposeRunContext(run);
    return move;
  }

  test('three times the input: every canvas pixel gets a gradient from the network (shrunk by area)', () => {
    const pixels = resolveInvertConfig({
      steps: 4,
      batchSize: 3,
      minBatch: 3,
      parametrisation: 'pixel',
      colour: 'rgb',
      outputSize: 96,
      tvL1Weight: 0,
      tvL2Weight: 0,
      l2Weight: 0,
      jitter: 0,
      initStd: 0, // from a grey image, so that no move is lost to float rounding
    });
    const move = firstMove(pixels);
    expect(move.length).toBe(3 * 96 * 96 * 3);
    expect(move.filter((v) => v === 0).length).toBe(0);
  });

  test('the gradient on a 64×64 canvas is the same on wasm and on the cpu backend', async () => {
    const config = { ...fourier, outputSize: 64 };
    const wasm = firstMove(config);
    await tf.setBackend('cpu');
    let cpu: Float32Array;
    try {
      cpu = firstMove(config);
    } finally {
      await useWasm();
    }
    const scale = Math.max(...wasm.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    let worst = 0;
    for (let k = 0; k < cpu.length; k++) worst = Math.max(worst, Math.abs(cpu[k] - wasm[k]));
    expect(worst / scale).toBeLessThan(1e-3);
  });

  test('a colour shift: seeded, a different step than without it, the same on wasm and on cpu', async () => {
    const shifted = { ...fourier, outputSize: 64, colourShift: 0.3 };
    const a = firstMove(shifted);
    expect(Buffer.from(firstMove(shifted).buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Buffer.from(firstMove({ ...shifted, colourShift: 0 }).buffer).equals(Buffer.from(a.buffer))).toBe(false);
    await tf.setBackend('cpu');
    let cpu: Float32Array;
    try {
      cpu = firstMove(shifted);
    } finally {
      await useWasm();
    }
    const scale = Math.max(...a.map(Math.abs));
    let worst = 0;
    for (let k = 0; k < cpu.length; k++) worst = Math.max(worst, Math.abs(cpu[k] - a[k]));
    expect(worst / scale).toBeLessThan(1e-3);
  });
});
