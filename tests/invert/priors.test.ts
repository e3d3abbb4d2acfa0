import * as tf from '@tensorflow/tfjs';
import { pixelL2, totalVariationL1, totalVariationL2 } from '../../src/invert/priors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/*
 * One 2×3 single-channel image:
 *     0 1 3
 *     2 2 0
 * horizontal differences: 1, 2 | 0, −2   → mean |·| = 5/4,  mean (·)² = 9/4
 * vertical differences:   2, 1, −3       → mean |·| = 6/3,  mean (·)² = 14/3
 * TV-L1 = 5/4 + 2 = 3.25;  TV-L2 = 9/4 + 14/3 = 83/12;  pixel L2 = (0+1+9+4+4+0)/6 = 3.
 */
const PIXELS = [0, 1, 3, 2, 2, 0];

test('TV-L1, TV-L2 and pixel L2 of a hand-computed 1×2×3×1 image', () => {
  const x = tf.tensor4d(PIXELS, [1, 2, 3, 1]);
  const before = tf.memory().numTensors;
  const [l1, l2, px] = [totalVariationL1(x), totalVariationL2(x), pixelL2(x)];
  expect(l1.shape).toEqual([1]);
  expect(l1.dataSync()[0]).toBeCloseTo(3.25, 6);
  expect(l2.dataSync()[0]).toBeCloseTo(83 / 12, 5);
  expect(px.dataSync()[0]).toBeCloseTo(3, 6);
  tf.dispose([l1, l2, px]);
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});

test('values are per image: a second image 2× the first has 2× TV-L1 and 4× TV-L2 / L2', () => {
  const x = tf.tensor4d([...PIXELS, ...PIXELS.map((v) => 2 * v)], [2, 2, 3, 1]);
  expect(Array.from(totalVariationL1(x).dataSync())).toEqual([3.25, 6.5]);
  const tv2 = totalVariationL2(x).dataSync();
  expect(tv2[0]).toBeCloseTo(83 / 12, 5);
  expect(tv2[1]).toBeCloseTo(83 / 3, 4);
  expect(Array.from(pixelL2(x).dataSync())).toEqual([3, 12]);
  tf.dispose(x);
});

test('values are means over channels: a constant second channel halves every term', () => {
  // Channel 1 is all 1: no differences, pixel² = 1 → L2 = (18 + 6)/12 = 2.
  const interleaved = PIXELS.flatMap((v) => [v, 1]);
  const x = tf.tensor4d(interleaved, [1, 2, 3, 2]);
  expect(totalVariationL1(x).dataSync()[0]).toBeCloseTo(3.25 / 2, 6);
  expect(totalVariationL2(x).dataSync()[0]).toBeCloseTo(83 / 24, 5);
  expect(pixelL2(x).dataSync()[0]).toBeCloseTo(2, 6);
  x.dispose();
});

test('a constant image has zero total variation', () => {
  const x = tf.fill([2, 4, 5, 3], 0.7) as tf.Tensor4D;
  expect(Array.from(totalVariationL1(x).dataSync())).toEqual([0, 0]);
  expect(Array.from(totalVariationL2(x).dataSync())).toEqual([0, 0]);
  x.dispose();
});

test('TV-L2 gradient: hand derivation and central finite differences on cpu', () => {
  // ∂TV2/∂x_ij = (2/4)·(dx_{i,j−1} − dx_{i,j}) + (2/3)·(dy_{i−1,j} − dy_{i,j}), missing terms 0.
  //   dx = [[1, 2], [0, −2]],  dy = [[2, 1, −3]]
  //   x00: ½(0 − 1) + ⅔(0 − 2)  = −0.5 − 4/3     x01: ½(1 − 2) + ⅔(0 − 1) = −0.5 − 2/3
  //   x02: ½(2 − 0) + ⅔(0 + 3)  = 1 + 2          x10: ½(0 − 0) + ⅔(2 − 0) = 4/3
  //   x11: ½(0 + 2) + ⅔(1 − 0)  = 1 + 2/3        x12: ½(−2 − 0) + ⅔(−3)   = −1 − 2
  const hand = [-0.5 - 4 / 3, -0.5 - 2 / 3, 3, 4 / 3, 1 + 2 / 3, -3];
  const x = tf.tensor4d(PIXELS, [1, 2, 3, 1]);
  const before = tf.memory().numTensors;
  const g = tf.grad((v: tf.Tensor) => totalVariationL2(v as tf.Tensor4D).sum())(x);
  const analytic = Array.from(g.dataSync());
  g.dispose();
  expect(tf.memory().numTensors).toBe(before);
  analytic.forEach((v, k) => expect(v).toBeCloseTo(hand[k], 5));

  const value = (p: number[]): number => tf.tidy(() => totalVariationL2(tf.tensor4d(p, [1, 2, 3, 1])).dataSync()[0]);
  const h = 1e-2;
  PIXELS.forEach((_, k) => {
    const plus = PIXELS.slice();
    const minus = PIXELS.slice();
    plus[k] += h;
    minus[k] -= h;
    expect(analytic[k]).toBeCloseTo((value(plus) - value(minus)) / (2 * h), 3);
  });
  x.dispose();
});

test('pixel L2 gradient is 2x / (H·W·C) and TV-L1 gradient is the sign pattern', () => {
  const x = tf.tensor4d(PIXELS, [1, 2, 3, 1]);
  const gL2 = tf.grad((v: tf.Tensor) => pixelL2(v as tf.Tensor4D).sum())(x);
  Array.from(gL2.dataSync()).forEach((v, k) => expect(v).toBeCloseTo((2 * PIXELS[k]) / 6, 6));
  // TV-L1 on an image without zero differences (tfjs takes d|u|/du = −1 at u = 0):
  //     0 1 3      dx = [[1, 2], [2, −3]],  dy = [[2, 3, −2]]
  //     2 4 1
  // ∂TV1/∂x_ij = ¼(sgn dx_{i,j−1} − sgn dx_{i,j}) + ⅓(sgn dy_{i−1,j} − sgn dy_{i,j}), missing terms 0.
  //   x00: ¼(0−1) + ⅓(0−1)   x01: ¼(1−1) + ⅓(0−1)   x02: ¼(1−0) + ⅓(0+1)
  //   x10: ¼(0−1) + ⅓(1−0)   x11: ¼(1+1) + ⅓(1−0)   x12: ¼(−1−0) + ⅓(−1−0)
  const y = tf.tensor4d([0, 1, 3, 2, 4, 1], [1, 2, 3, 1]);
  expect(totalVariationL1(y).dataSync()[0]).toBeCloseTo(8 / 4 + 7 / 3, 6);
  const hand = [-0.25 - 1 / 3, -1 / 3, 0.25 + 1 / 3, -0.25 + 1 / 3, 0.5 + 1 / 3, -0.25 - 1 / 3];
  const gL1 = tf.grad((v: tf.Tensor) => totalVariationL1(v as tf.Tensor4D).sum())(y);
  Array.from(gL1.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(hand[k], 6));
  y.dispose();
  tf.dispose([x, gL2, gL1]);
});
