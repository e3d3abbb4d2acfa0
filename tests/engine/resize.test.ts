import * as tf from '@tensorflow/tfjs';
import { bilinearMatrix, resizeBilinear } from '../../src/engine/resize.js';
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
