import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { assignSubcenters, dominantSubcenters, subcenterMax } from '../../src/arcface/subcenter.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// C = 2 classes, K = 3 sub-centres; column c·3 + j is sub-centre j of class c.
const COS = [
  [0.1, 0.5, 0.3, -0.2, 0.4, 0.0],
  [0.9, -0.1, 0.2, 0.3, 0.35, 0.6],
];

describe('subcenterMax', () => {
  test('takes the max over each class block of K columns', () => {
    const out = tf.tidy(() => subcenterMax(tf.tensor2d(COS), 2, 3).arraySync());
    expect(out[0][0]).toBeCloseTo(0.5, 6); // max(0.1, 0.5, 0.3)
    expect(out[0][1]).toBeCloseTo(0.4, 6); // max(−0.2, 0.4, 0.0)
    expect(out[1][0]).toBeCloseTo(0.9, 6);
    expect(out[1][1]).toBeCloseTo(0.6, 6);
  });

  test('gradient reaches only the maximising sub-centre', () => {
    const g = tf.tidy(() => {
      const w = tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
      return tf
        .grad((c: tf.Tensor) => tf.sum(tf.mul(subcenterMax(c as tf.Tensor2D, 2, 3), w)))(tf.tensor2d(COS))
        .arraySync();
    });
    expect(g).toEqual([
      [0, 1, 0, 0, 2, 0],
      [3, 0, 0, 0, 0, 4],
    ]);
  });

  test('K = 1 is the identity; a wrong width throws', () => {
    const out = tf.tidy(() => subcenterMax(tf.tensor2d([[0.1, 0.2]]), 2, 1).arraySync());
    expect(out[0][0]).toBeCloseTo(0.1, 6);
    expect(out[0][1]).toBeCloseTo(0.2, 6);
    const cos = tf.tensor2d(COS);
    expect(() => subcenterMax(cos, 4, 2)).toThrow(ArcinvertError);
    expect(() => subcenterMax(cos, 2, 0)).toThrow(ArcinvertError);
    cos.dispose();
  });

  test('releases its intermediates', () => {
    const cos = tf.tensor2d(COS);
    const before = tf.memory().numTensors;
    subcenterMax(cos, 2, 3).dispose();
    expect(tf.memory().numTensors).toBe(before);
    cos.dispose();
  });
});

describe('assignSubcenters / dominantSubcenters', () => {
  test('per-sample argmax within the own class', () => {
    const a = tf.tidy(() =>
      Array.from(assignSubcenters(tf.tensor2d(COS), tf.tensor1d([1, 0], 'int32'), 2, 3).dataSync()),
    );
    // row 0, class 1: (−0.2, 0.4, 0.0) → 1; row 1, class 0: (0.9, −0.1, 0.2) → 0
    expect(a).toEqual([1, 0]);
  });

  test('most frequent sub-centre per class; ties → lowest; empty class → −1', () => {
    // class 0 picks 0,1,1,1 → 1; class 1 picks 2,2,0 → 2; class 2 has no sample; class 3 picks 2,0 → tie → 0
    const dom = dominantSubcenters([0, 1, 1, 2, 2, 0, 1, 2, 0], [0, 0, 0, 1, 1, 1, 0, 3, 3], 4, 3);
    expect(Array.from(dom)).toEqual([1, 2, -1, 0]);
  });

  test('rejects out-of-range inputs', () => {
    expect(() => dominantSubcenters([3], [0], 1, 3)).toThrow(ArcinvertError);
    expect(() => dominantSubcenters([0], [1], 1, 3)).toThrow(ArcinvertError);
    expect(() => dominantSubcenters([0, 1], [0], 1, 3)).toThrow(ArcinvertError);
  });
});
