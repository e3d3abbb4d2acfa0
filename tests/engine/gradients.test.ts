/**
 * The replacement gradients of `gradients.ts` against tfjs-core's stock ones, on the cpu
 * backend (gradients are backend-independent): for every input of each kernel, several
 * shapes, relErr ≤ 1e-4 (see compare.ts). Where the stock gradient itself fails (BatchNorm
 * parameters of rank 4), the reference is the same function written with plain ops.
 */
import * as tf from '@tensorflow/tfjs';
import {
  FAST_GRADIENT_NAMES,
  fusedBatchNormGradConfig,
  meanGradConfig,
  preluGradConfig,
  registerFastGradients,
  sumGradConfig,
} from '../../src/engine/gradients.js';
import { random, randomMapped, relErr, TOLERANCE, type Named } from './compare.js';

type F = (...ts: tf.Tensor[]) => tf.Tensor;

/** tfjs-core's own gradient configs, captured before anything replaces them. */
const STOCK = new Map(FAST_GRADIENT_NAMES.map((n) => [n, tf.getGradient(n)]));

/** tf.grads of `f` (upstream gradient `dy`) with `config` registered for its kernel. */
function gradsWith(config: tf.GradConfig, f: F, inputs: Named[], dy: Named): Float32Array[] {
  tf.registerGradient(config);
  return tf.tidy(() => {
    const ts = inputs.map((t) => tf.tensor(t.data, t.shape));
    return tf
      .grads(f)(ts, tf.tensor(dy.data, dy.shape))
      .map((g) => g.dataSync() as Float32Array);
  });
}

/** Max relative error of the replacement's gradients against `reference`'s, per input. */
function compareTo(replacement: tf.GradConfig, reference: tf.GradConfig, f: F, inputs: Named[], dy: Named): number[] {
  const ref = gradsWith(reference, f, inputs, dy);
  const got = gradsWith(replacement, f, inputs, dy);
  expect(got.map((g) => g.length)).toEqual(ref.map((g) => g.length));
  return got.map((g, i) => relErr(g, ref[i]!));
}

const stock = (name: string): tf.GradConfig => STOCK.get(name)!;

beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
});
afterEach(() => {
  for (const [, config] of STOCK) tf.registerGradient(config);
});

describe('registerFastGradients', () => {
  test('replaces the four gradients, idempotently', () => {
    registerFastGradients();
    const ours = [fusedBatchNormGradConfig, preluGradConfig, meanGradConfig, sumGradConfig];
    expect(FAST_GRADIENT_NAMES.map((n) => tf.getGradient(n))).toEqual(ours);
    registerFastGradients();
    expect(FAST_GRADIENT_NAMES.map((n) => tf.getGradient(n))).toEqual(ours);
  });
});

describe('FusedBatchNorm gradient', () => {
  /** x, mean, variance (> 0), offset, scale. */
  const inputs = (x: number[], p: number[], seed: number): Named[] => [
    random(x, seed),
    random(p, seed + 1),
    randomMapped(p, seed + 2, (v) => v * v + 0.2),
    random(p, seed + 3),
    random(p, seed + 4),
  ];
  const bn =
    (eps: number): F =>
    (x, m, v, o, s) =>
      tf.batchNorm(x!, m!, v!, o!, s!, eps);

  test.each([
    ['rank 4, [C] parameters', [2, 4, 5, 3], [3], 1e-3],
    ['rank 4, one image', [1, 6, 6, 8], [8], 1e-5],
    ['rank 2 ([B, C], as BatchNorm1d)', [5, 6], [6], 1e-3],
    ['rank 2, batch 1', [1, 4], [4], 1e-5],
    ['rank 3', [3, 4, 5], [5], 1e-3],
  ] as const)('%s: every input matches the stock gradient', (_name, x, p, eps) => {
    const ins = inputs([...x], [...p], 11);
    const errs = compareTo(fusedBatchNormGradConfig, stock(tf.FusedBatchNorm), bn(eps), ins, random([...x], 19));
    expect(errs).toHaveLength(5);
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOLERANCE);
  });

  test('batch statistics as mean and variance (training mode) match the stock gradient', () => {
    const train: F = (x, o, s) => {
      const { mean, variance } = tf.moments(x!, [0, 1, 2]);
      return tf.batchNorm(x!, mean, variance, o!, s!, 1e-3);
    };
    const ins = [random([3, 4, 4, 5], 21), random([5], 22), random([5], 23)];
    const errs = compareTo(fusedBatchNormGradConfig, stock(tf.FusedBatchNorm), train, ins, random([3, 4, 4, 5], 24));
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOLERANCE);
  });

  /** The same function with plain ops, differentiated by their own gradients. */
  const plainBn =
    (eps: number): F =>
    (x, m, v, o, s) =>
      tf.add(tf.mul(tf.mul(tf.sub(x!, m!), tf.rsqrt(tf.add(v!, eps))), s!), o!);

  test.each([
    [
      '[1, 1, 1, C] parameters (the stock gradient fails)',
      [2, 3, 4, 5],
      [
        [1, 1, 1, 5],
        [1, 1, 1, 5],
        [1, 1, 1, 5],
      ],
    ],
    [
      '[1, 1, W, C] parameters',
      [2, 3, 4, 5],
      [
        [1, 1, 4, 5],
        [1, 1, 4, 5],
        [1, 1, 4, 5],
      ],
    ],
    ['mean [C], variance and scale [1] (broadcast among parameters)', [2, 3, 3, 4], [[4], [1], [1]]],
  ] as const)('%s: every input matches plain ops', (_name, xShape, [mShape, vShape, sShape]) => {
    const ins: Named[] = [
      random([...xShape], 31),
      random([...mShape], 32),
      randomMapped([...vShape], 33, (v) => v * v + 0.2),
      random([...mShape], 34),
      random([...sShape], 35),
    ];
    const dy = random([...xShape], 36);
    const ref = tf.tidy(() => {
      const ts = ins.map((t) => tf.tensor(t.data, t.shape));
      return tf
        .grads(plainBn(1e-3))(ts, tf.tensor(dy.data, dy.shape))
        .map((g) => g.dataSync() as Float32Array);
    });
    const got = gradsWith(fusedBatchNormGradConfig, bn(1e-3), ins, dy);
    got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThanOrEqual(TOLERANCE));
  });

  test('only the requested gradients are computed: dx alone needs no Sum', async () => {
    tf.registerGradient(fusedBatchNormGradConfig);
    const [x, m, v, o, s] = inputs([2, 3, 3, 4], [4], 41).map((t) => tf.tensor(t.data, t.shape));
    const profile = await tf.profile(() => tf.grad((xi: tf.Tensor) => tf.batchNorm(xi, m!, v!, o!, s!, 1e-3))(x!));
    expect(profile.kernelNames).not.toContain('Sum');
    expect(profile.kernelNames).not.toContain('Tile');
    tf.dispose([x!, m!, v!, o!, s!, profile.result as tf.Tensor]);
  });
});

describe('Prelu gradient', () => {
  /** x with exact zeros (where the slope switches) in it. */
  const xWithZeros = (shape: number[], seed: number): Named => {
    const r = random(shape, seed);
    return { data: r.data.map((v, i) => (i % 7 === 0 ? 0 : v)), shape };
  };
  test.each([
    ['[B, H, W, C] with α [1, 1, C] (shared over H, W)', [2, 4, 5, 3], [1, 1, 3]],
    ['[B, H, W, C] with α [C]', [2, 3, 3, 6], [6]],
    ['[B, H, W, C] with α [H, W, C]', [2, 3, 4, 2], [3, 4, 2]],
    ['[B, C] with α [C]', [5, 4], [4]],
    ['[B, C] with scalar-like α [1]', [5, 4], [1]],
  ] as const)('%s: x and α match the stock gradient', (_name, x, a) => {
    const ins = [xWithZeros([...x], 51), random([...a], 52)];
    const errs = compareTo(preluGradConfig, stock(tf.Prelu), (xt, at) => tf.prelu(xt!, at!), ins, random([...x], 53));
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('Mean and Sum gradients', () => {
  test.each([
    [[2, 3, 4, 5], [0, 1, 2], false],
    [[2, 3, 4, 5], [1, 2, 3], true],
    [[2, 3, 4, 5], [3], false],
    [[2, 3, 4, 5], null, false],
    [[6, 4], 0, true],
    [[6, 4], -1, false],
  ] as const)('shape %j axis %j keepDims %s match the stock gradients', (shape, axis, keepDims) => {
    const ax = axis === null ? undefined : (axis as number | number[]);
    const x = [random([...shape], 61)];
    const out = tf.tidy(() => tf.sum(tf.zeros([...shape]), ax, keepDims).shape);
    const dy = random(out, 62);
    const [meanErr] = compareTo(meanGradConfig, stock(tf.Mean), (t) => tf.mean(t!, ax, keepDims), x, dy);
    const [sumErr] = compareTo(sumGradConfig, stock(tf.Sum), (t) => tf.sum(t!, ax, keepDims), x, dy);
    expect(meanErr).toBeLessThanOrEqual(TOLERANCE);
    expect(sumErr).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('memory', () => {
  test('the replacement gradients leak no tensors', () => {
    registerFastGradients();
    const [x, m, v, o, s] = [
      random([2, 3, 3, 4], 71),
      random([4], 72),
      randomMapped([4], 73, (q) => q * q + 0.2),
      random([4], 74),
      random([4], 75),
    ].map((t) => tf.tensor(t.data, t.shape));
    const alpha = tf.tensor(random([1, 1, 4], 76).data, [1, 1, 4]);
    const f = (...ts: tf.Tensor[]): tf.Tensor =>
      tf.sum(tf.mean(tf.prelu(tf.batchNorm(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, 1e-3), ts[5]!), [0, 1, 2]));
    const inputs = [x!, m!, v!, o!, s!, alpha];
    tf.dispose(tf.grads(f)(inputs));
    const before = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    tf.dispose(tf.grads(f)(inputs));
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    tf.dispose(inputs);
  });
});
