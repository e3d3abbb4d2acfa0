import * as tf from '@tensorflow/tfjs';
import { areaMatrix, bilinearMatrix, resizeArea, resizeBilinear } from '../../src/engine/resize.js';
import { useWasm } from '../helpers/backend.js';

beforeAll(useWasm);

const field = (shape: number[], f: (k: number) => number): tf.Tensor4D =>
  tf.tensor4d(
    Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, k) => f(k)),
    shape as never,
  );

test('bilinearMatrix 2 → 4 by hand: positions −0.25, 0.25, 0.75, 1.25, clamped at the edges', () => {
  expect(Array.from(bilinearMatrix(2, 4))).toEqual([1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
});

test.each([
  [
    [2, 8, 8, 3],
    [16, 16],
  ],
  [
    [1, 8, 6, 2],
    [4, 3],
  ],
  [
    [2, 7, 9, 3],
    [10, 5],
  ],
])('forward equals tf.image.resizeBilinear (half-pixel) for %j → %j', (shape, size) => {
  const x = field(shape, (k) => Math.sin(k * 0.37));
  const ours = resizeBilinear(x, size as [number, number]);
  const theirs = tf.image.resizeBilinear(x, size as [number, number], false, true);
  expect(ours.shape).toEqual(theirs.shape);
  const a = ours.dataSync();
  const b = theirs.dataSync();
  for (let k = 0; k < a.length; k++) expect(a[k]).toBeCloseTo(b[k], 5);
  tf.dispose([x, ours, theirs]);
});

test.each([
  [
    [1, 8, 8, 1],
    [16, 16],
  ],
  [
    [2, 8, 8, 3],
    [4, 4],
  ],
  [
    [1, 8, 8, 2],
    [10, 6],
  ],
])('the gradient is the adjoint, <R x, w> = <x, Rᵀ w>, where tfjs\u2019s own is not (%j → %j)', (shape, size) => {
  const [h, w] = size as [number, number];
  const x = field(shape, (k) => Math.sin(k));
  const wt = field([shape[0], h, w, shape[3]], (k) => Math.cos(k * 0.3));
  const inner = (f: (v: tf.Tensor4D) => tf.Tensor4D): { lhs: number; rhs: number } => {
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v as tf.Tensor4D), wt)))(x);
    const lhs = tf.tidy(() => tf.sum(tf.mul(f(x), wt)).dataSync()[0]);
    const rhs = tf.tidy(() => tf.sum(tf.mul(x, g)).dataSync()[0]);
    g.dispose();
    return { lhs, rhs };
  };
  const ours = inner((v) => resizeBilinear(v, [h, w]));
  expect(ours.rhs).toBeCloseTo(ours.lhs, 4);
  const tfjs = inner((v) => tf.image.resizeBilinear(v, [h, w], false, true));
  expect(Math.abs(tfjs.rhs - tfjs.lhs)).toBeGreaterThan(1e-3);
  tf.dispose([x, wt]);
});

test('same size returns the input; no tensor leaks', () => {
  const x = field([1, 4, 4, 3], (k) => k);
  expect(resizeBilinear(x, [4, 4])).toBe(x);
  const before = tf.memory().numTensors;
  const g = tf.grad((v: tf.Tensor) => tf.sum(resizeBilinear(v as tf.Tensor4D, [8, 8])))(x);
  g.dispose();
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});

test('areaMatrix 6 → 4 by hand: each output averages 1.5 inputs by overlap; rows sum to 1', () => {
  const m = Array.from(areaMatrix(6, 4));
  const third = 1 / 3;
  const expected = [
    [2 * third, third, 0, 0, 0, 0],
    [0, third, 2 * third, 0, 0, 0],
    [0, 0, 0, 2 * third, third, 0],
    [0, 0, 0, 0, third, 2 * third],
  ].flat();
  m.forEach((v, k) => expect(v).toBeCloseTo(expected[k], 6));
});

test('areaMatrix: bilinear at a 2× shrink and when growing; at 3× every input counts, where bilinear skips two in three', () => {
  expect(Array.from(areaMatrix(8, 4))).toEqual(Array.from(bilinearMatrix(8, 4)));
  expect(Array.from(areaMatrix(4, 8))).toEqual(Array.from(bilinearMatrix(4, 8)));
  const colSums = (m: Float32Array, n: number): number[] =>
    Array.from({ length: n }, (_, k) => m.filter((_, i) => i % n === k).reduce((a, b) => a + b, 0));
  expect(colSums(areaMatrix(12, 4), 12).every((s) => s > 0.3)).toBe(true);
  expect(colSums(bilinearMatrix(12, 4), 12).filter((s) => s === 0)).toHaveLength(8);
});

test('resizeArea shrinks a 2×6 ramp by area; same size returns the input; no leaks', () => {
  const x = tf.tensor4d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [1, 2, 6, 1]);
  const before = tf.memory().numTensors;
  const y = resizeArea(x, [1, 2]);
  // Each output: the mean of 3 columns × 2 rows.
  expect(Array.from(y.dataSync()).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([4, 7]);
  y.dispose();
  expect(resizeArea(x, [2, 6])).toBe(x);
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});
