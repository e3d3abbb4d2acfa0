/**
 * `channelStats` (one op with its own gradient) against tf.moments, the stock definition:
 * values and input gradients for rank 4 and rank 2 inputs, on the cpu backend (the
 * reference) and on wasm against cpu; and `packedBnStatLoss` against the per-layer
 * `bnLayerTerm` sum, through the whole chain from activations.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  bnLayerTerm,
  packBnPrior,
  packedBnStatLoss,
  type BnPriorForm,
  type BnReduction,
} from '../../src/bnprior/loss.js';
import { channelMoments } from '../../src/bnprior/taps.js';
import { channelStats, pooledStats } from '../../src/engine/moments.js';
import { selectBackend } from '../../src/engine/backend.js';
import { compareGrads, random, randomMapped, relErr, type Named } from '../engine/compare.js';

beforeAll(async () => {
  await selectBackend('wasm');
  await tf.setBackend('cpu');
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

/** The stock statistics: tf.moments over all but the channel axis, stacked [2, C]. */
function stockStats(x: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, x.rank === 4 ? [0, 1, 2] : [0]);
  return tf.stack([mean, variance]);
}

const SHAPES: number[][] = [
  [2, 5, 4, 3],
  [3, 7, 7, 8],
  [1, 3, 3, 2],
  [6, 5],
];

describe.each(SHAPES)('x of shape %j', (...shape: number[]) => {
  // Channel means away from 0 (x·1.5 + 0.7) so that a wrong centring shows.
  const x = randomMapped(shape, 11, (v) => 1.5 * v + 0.7);
  const dy = random([2, shape[shape.length - 1]!], 12);

  test('values equal tf.moments on cpu', () => {
    tf.tidy(() => {
      const xt = tf.tensor(x.data, x.shape);
      expect(relErr(channelStats(xt).dataSync(), stockStats(xt).dataSync())).toBeLessThan(1e-5);
      expect(channelStats(xt).shape).toEqual([2, shape[shape.length - 1]]);
    });
  });

  test('input gradient equals that of tf.moments on cpu', () => {
    const [got, ref] = tf.tidy(() => {
      const xt = tf.tensor(x.data, x.shape);
      const dyt = tf.tensor(dy.data, dy.shape);
      return [
        tf
          .grad((t: tf.Tensor) => channelStats(t))(xt, dyt)
          .dataSync(),
        tf
          .grad((t: tf.Tensor) => stockStats(t))(xt, dyt)
          .dataSync(),
      ];
    });
    expect(relErr(got, ref)).toBeLessThan(1e-4);
  });

  test("wasm gives cpu's gradient, no tensors left", async () => {
    const before = tf.memory().numTensors;
    const [err] = await compareGrads((t) => channelStats(t), [x as Named], dy);
    expect(err).toBeLessThan(1e-4);
    await tf.setBackend('cpu');
    expect(tf.memory().numTensors).toBe(before);
  });
});

test('the gradient is exact on a hand-computed case', () => {
  // x = [1, 3] in one channel (n = 2): μ = 2, σ² = 1. L = 3μ + 5σ²:
  // ∂L/∂x_i = 3/n + 5·2(x_i − μ)/n = 1.5 + 5(x_i − 2) = [−3.5, 6.5].
  const g = tf.tidy(() =>
    tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(channelStats(t), tf.tensor2d([[3], [5]]))))(tf.tensor2d([[1], [3]]))
      .dataSync(),
  );
  expect(Array.from(g)).toEqual([-3.5, 6.5]);
});

test('channelMoments splits the two rows; no tensors left', () => {
  const before = tf.memory().numTensors;
  const x = tf.tensor2d([
    [1, 10],
    [3, 14],
  ]);
  const { mean, variance } = channelMoments(x);
  expect(Array.from(mean.dataSync())).toEqual([2, 12]);
  expect(Array.from(variance.dataSync())).toEqual([1, 4]);
  tf.dispose([x, mean, variance]);
  expect(tf.memory().numTensors).toBe(before);
});

describe.each([
  ['arcface', 'sum'],
  ['arcface', 'mean'],
  ['deepinversion', 'sum'],
  ['deepinversion', 'mean'],
] as const)('packedBnStatLoss %s / %s', (form: BnPriorForm, reduction: BnReduction) => {
  const shapes = [
    [2, 4, 4, 3],
    [2, 2, 2, 5],
    [2, 6],
  ];
  const xs = shapes.map((s, i) => randomMapped(s, 20 + i, (v) => v * (1 + i) + 0.3 * i));
  const running = shapes.map((s, i) => ({
    mean: random([s[s.length - 1]!], 40 + i),
    variance: randomMapped([s[s.length - 1]!], 50 + i, (v) => 1.2 + v),
  }));
  const opts = { form, reduction, firstLayerWeight: 10 };

  /** The prior from activations: packed, or the plain per-layer sum of `bnLayerTerm`s. */
  const prior =
    (packed: boolean) =>
    (...ts: tf.Tensor[]): tf.Scalar => {
      const run = running.map((r) => ({ mean: tf.tensor1d(r.mean.data), variance: tf.tensor1d(r.variance.data) }));
      if (packed) {
        const p = packBnPrior(run, opts);
        const total = packedBnStatLoss(
          ts.map((t) => channelStats(t)),
          p,
        ).total;
        p.dispose();
        return total;
      }
      const terms = ts.map((t, i) => {
        const { mean, variance } = tf.moments(t, t.rank === 4 ? [0, 1, 2] : [0]);
        return tf.mul(
          bnLayerTerm({ mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D }, run[i]!, form, reduction),
          i === 0 ? 10 : 1,
        );
      });
      return tf.addN(terms) as tf.Scalar;
    };

  test('value and activation gradients equal the per-layer definition on cpu; no tensors left', () => {
    const before = tf.memory().numTensors;
    const [v, ref, grads, refGrads] = tf.tidy(() => {
      const ts = xs.map((x) => tf.tensor(x.data, x.shape));
      return [
        prior(true)(...ts).dataSync()[0]!,
        prior(false)(...ts).dataSync()[0]!,
        tf
          .grads(prior(true))(ts)
          .map((g) => g.dataSync()),
        tf
          .grads(prior(false))(ts)
          .map((g) => g.dataSync()),
      ] as const;
    });
    expect(Math.abs(v - ref)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
    grads.forEach((g, i) => expect(relErr(g, refGrads[i]!)).toBeLessThan(1e-4));
    expect(tf.memory().numTensors).toBe(before);
  });

  test("wasm gives cpu's activation gradients", async () => {
    const errs = await compareGrads(prior(true), xs, { data: new Float32Array([1]), shape: [] });
    for (const e of errs) expect(e).toBeLessThan(1e-4);
    await tf.setBackend('cpu');
  });
});

test('packedBnStatLoss names a layer whose statistics have the wrong shape', () => {
  const run = [{ mean: tf.zeros([3]) as tf.Tensor1D, variance: tf.ones([3]) as tf.Tensor1D }];
  const p = packBnPrior(run, { form: 'deepinversion', reduction: 'mean', firstLayerWeight: 1 });
  const bad = tf.zeros([2, 4]);
  expect(() => packedBnStatLoss([bad], p)).toThrow('layer 0 statistics have shape [2, 4], expected [2, 3]');
  expect(() => packedBnStatLoss([], p)).toThrow('0 batch statistics for 1 layers');
  p.dispose();
  tf.dispose([bad, run[0]!.mean, run[0]!.variance]);
});

describe('pooledStats: a batch cut into parts', () => {
  // Three parts of 3, 1 and 2 images with different channel means, so the pooling weights and
  // the between-part variance both matter.
  const parts = [3, 1, 2].map((n, k) => randomMapped([n, 4, 3, 5], 20 + k, (v) => (1 + k) * v + k - 0.5));

  test("values equal the whole batch's channelStats, in float64 terms by hand on one channel", () => {
    const before = tf.memory().numTensors;
    const [pooled, whole] = tf.tidy(() => {
      const xs = parts.map((p) => tf.tensor(p.data, p.shape));
      return [
        pooledStats(
          xs.map((x) => channelStats(x)),
          [3, 1, 2],
        ).dataSync(),
        channelStats(tf.concat(xs, 0)).dataSync(),
      ];
    });
    expect(relErr(pooled, whole)).toBeLessThan(1e-5);
    // Channel 0 by hand: all values of the three parts in one list.
    const values = parts.flatMap((p) => Array.from(p.data).filter((_, i) => i % 5 === 0));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(pooled[0]).toBeCloseTo(mean, 5);
    expect(pooled[5]).toBeCloseTo(variance, 5);
    expect(tf.memory().numTensors).toBe(before);
  });

  test("a part holding the others as constants gets the whole batch's gradient for its own images", () => {
    const dy = random([2, 5], 30);
    const [mine, ref] = tf.tidy(() => {
      const xs = parts.map((p) => tf.tensor(p.data, p.shape));
      const dyt = tf.tensor(dy.data, dy.shape);
      const others = xs.map((x) => channelStats(x));
      // Part 1's gradient: only its own statistics are a function of its input.
      const g = tf.grad((x1: tf.Tensor) =>
        pooledStats([others[0]!, channelStats(x1), others[2]!] as tf.Tensor2D[], [3, 1, 2]),
      )(xs[1]!, dyt);
      const whole = tf.grads((...x: tf.Tensor[]) => channelStats(tf.concat(x, 0)))(xs, dyt);
      return [g.dataSync(), whole[1]!.dataSync()];
    });
    expect(relErr(mine, ref)).toBeLessThan(1e-4);
  });

  test('one part is its own statistics; counts must match the parts', () => {
    tf.tidy(() => {
      const s = channelStats(tf.tensor(parts[0]!.data, parts[0]!.shape));
      expect(relErr(pooledStats([s], [3]).dataSync(), s.dataSync())).toBeLessThan(1e-7);
      expect(() => pooledStats([s], [3, 1])).toThrow('1 parts, 2 counts');
    });
  });
});
