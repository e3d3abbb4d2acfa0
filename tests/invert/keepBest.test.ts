import * as tf from '@tensorflow/tfjs';
import { KeepBest } from '../../src/invert/keepBest.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Three 1×2 images, every pixel of row i equal to values[i]. */
const images = (values: number[]) =>
  tf.tidy(() => tf.tensor1d(values).reshape([3, 1, 1, 1]).tile([1, 1, 2, 3]) as tf.Tensor4D);
const rowValues = (t: tf.Tensor4D) =>
  Array.from(tf.tidy(() => t.slice([0, 0, 0, 0], [-1, 1, 1, 1]).reshape([3]).dataSync()));

test('keeps, per row, the image of the highest cosine and the step it was seen at', () => {
  const n0 = tf.memory().numTensors;
  const keep = new KeepBest(images([0, 0, 0]));
  expect(Array.from(keep.cosine)).toEqual([-Infinity, -Infinity, -Infinity]);

  const a = images([1, 1, 1]);
  keep.update(a, Float32Array.from([0.1, 0.2, 0.3]), 10); // every row beats −∞
  const b = images([2, 2, 2]);
  keep.update(b, Float32Array.from([0.5, 0.1, 0.3]), 20); // row 0 improves; a tie (row 2) does not
  const c = images([3, 3, 3]);
  keep.update(c, Float32Array.from([0.4, 0.15, 0.25]), 30); // nothing improves

  expect(rowValues(keep.images)).toEqual([2, 1, 1]);
  expect(Array.from(keep.cosine)).toEqual([0.5, 0.2, 0.3].map(Math.fround));
  expect(Array.from(keep.step)).toEqual([20, 10, 10]);
  expect(Array.from(keep.last)).toEqual([0.4, 0.15, 0.25].map(Math.fround));
  // The updates take no ownership of the images they are given.
  expect(a.isDisposed || b.isDisposed || c.isDisposed).toBe(false);
  tf.dispose([a, b, c]);
  keep.dispose();
  expect(tf.memory().numTensors).toBe(n0);
});
