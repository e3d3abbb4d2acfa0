import * as tf from '@tensorflow/tfjs';
import {
  bnLayerTerm,
  bnStatLoss,
  type BnPriorForm,
  type BnReduction,
  type ChannelStats,
} from '../../src/bnprior/loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function stats(mean: number[], variance: number[]): ChannelStats {
  return { mean: tf.tensor1d(mean), variance: tf.tensor1d(variance) };
}

function disposeStats(s: ChannelStats[]): void {
  tf.dispose(s.flatMap((x) => [x.mean, x.variance]));
}

/*
 * Layer A, 2 channels: batch μ̃ = [3, 0], σ̃² = [9, 1] (σ̃ = [3, 1]);
 *                      running μ = [0, 4], σ² = [1, 9] (σ = [1, 3]).
 *   μ̃ − μ = [3, −4]:  ‖·‖² = 25, ‖·‖₂ = 5
 *   σ̃ − σ = [2, −2]:  ‖·‖² = 8
 *   σ̃² − σ² = [8, −8]: ‖·‖₂ = 8√2
 *   arcface:       sum 25 + 8 = 33,        mean 33 / 2 = 16.5
 *   deepinversion: sum 5 + 8√2 ≈ 16.3137,  mean (5 + 8√2) / √2 = 5/√2 + 8 ≈ 11.5355
 * Layer B, 1 channel: μ̃ = [2], σ̃² = [4]; μ = [0], σ² = [1].
 *   arcface: 2² + (2 − 1)² = 5 (mean: /1);  deepinversion: |2| + |4 − 1| = 5 (mean: /√1).
 */
const A: [number[], number[], number[], number[]] = [
  [3, 0],
  [9, 1],
  [0, 4],
  [1, 9],
];
const B: [number[], number[], number[], number[]] = [[2], [4], [0], [1]];

const expectedA: Record<BnPriorForm, Record<BnReduction, number>> = {
  arcface: { sum: 33, mean: 16.5 },
  deepinversion: { sum: 5 + 8 * Math.SQRT2, mean: 5 / Math.SQRT2 + 8 },
};

test.each([
  ['arcface', 'sum'],
  ['arcface', 'mean'],
  ['deepinversion', 'sum'],
  ['deepinversion', 'mean'],
] as const)('bnLayerTerm %s / %s on a hand-computed 2-channel layer', (form, reduction) => {
  const batch = stats(A[0], A[1]);
  const running = stats(A[2], A[3]);
  const before = tf.memory().numTensors;
  const t = bnLayerTerm(batch, running, form, reduction);
  expect(t.shape).toEqual([]);
  expect(t.dataSync()[0]).toBeCloseTo(expectedA[form][reduction], 4);
  t.dispose();
  expect(tf.memory().numTensors).toBe(before);
  disposeStats([batch, running]);
});

test.each([
  ['arcface', 'sum', 10 * 33 + 5],
  ['arcface', 'mean', 10 * 16.5 + 5],
  ['deepinversion', 'sum', 10 * (5 + 8 * Math.SQRT2) + 5],
  ['deepinversion', 'mean', 10 * (5 / Math.SQRT2 + 8) + 5],
] as const)('bnStatLoss %s / %s: first layer ×10, per-layer terms unweighted', (form, reduction, total) => {
  const batch = [stats(A[0], A[1]), stats(B[0], B[1])];
  const running = [stats(A[2], A[3]), stats(B[2], B[3])];
  const before = tf.memory().numTensors;
  const out = bnStatLoss(batch, running, { form, reduction, firstLayerWeight: 10 });
  expect(out.total.dataSync()[0]).toBeCloseTo(total, 3);
  const per = out.perLayer.dataSync();
  expect(per.length).toBe(2);
  expect(per[0]).toBeCloseTo(expectedA[form][reduction], 4);
  expect(per[1]).toBeCloseTo(5, 5);
  tf.dispose([out.total, out.perLayer]);
  expect(tf.memory().numTensors).toBe(before);
  disposeStats([...batch, ...running]);
});

test('the first-layer multiplier only scales layer 0', () => {
  const batch = [stats(A[0], A[1]), stats(B[0], B[1])];
  const running = [stats(A[2], A[3]), stats(B[2], B[3])];
  const total = (w: number): number =>
    tf.tidy(
      () => bnStatLoss(batch, running, { form: 'arcface', reduction: 'sum', firstLayerWeight: w }).total.dataSync()[0],
    );
  expect(total(1)).toBeCloseTo(38, 4); // 33 + 5
  expect(total(0)).toBeCloseTo(5, 5); // layer 0 switched off
  expect(total(3)).toBeCloseTo(104, 4); // 3·33 + 5
  // Swapping the layers moves the multiplier with the position, not the layer.
  const swapped = tf.tidy(
    () =>
      bnStatLoss([batch[1], batch[0]], [running[1], running[0]], {
        form: 'arcface',
        reduction: 'sum',
        firstLayerWeight: 3,
      }).total.dataSync()[0],
  );
  expect(swapped).toBeCloseTo(3 * 5 + 33, 4);
  disposeStats([...batch, ...running]);
});

test('mismatched or empty layer lists are rejected', () => {
  const a = stats([0], [1]);
  const opts = { form: 'arcface', reduction: 'sum', firstLayerWeight: 1 } as const;
  expect(() => bnStatLoss([a, a], [a], opts)).toThrow('2 batch statistics for 1 layers');
  expect(() => bnStatLoss([], [], opts)).toThrow('0 batch statistics for 0 layers');
  disposeStats([a]);
});

test.each(['arcface', 'deepinversion'] as const)(
  '%s: gradient is finite (zero) when batch statistics equal running ones, dead channel included',
  (form) => {
    // Channel 1 is dead (variance 0), where √σ̃² and ‖·‖ have unbounded derivatives without ε.
    const run = stats([0.5, -1], [2, 0]);
    const mean = tf.tensor1d([0.5, -1]);
    const variance = tf.tensor1d([2, 0]);
    const before = tf.memory().numTensors;
    for (const reduction of ['sum', 'mean'] as const) {
      const [gm, gv] = tf.grads(
        (m: tf.Tensor, v: tf.Tensor) =>
          bnStatLoss([{ mean: m as tf.Tensor1D, variance: v as tf.Tensor1D }], [run], {
            form,
            reduction,
            firstLayerWeight: 10,
          }).total,
      )([mean, variance]);
      for (const g of [gm, gv]) {
        const values = Array.from(g.dataSync());
        expect(values.every(Number.isFinite)).toBe(true);
        for (const v of values) expect(Math.abs(v)).toBeLessThan(1e-3);
      }
      tf.dispose([gm, gv]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([mean, variance]);
    disposeStats([run]);
  },
);

test('gradients of the 2-channel layer match the hand derivation', () => {
  // arcface:       ∂/∂μ̃ = 2(μ̃ − μ) = [6, −8];  ∂/∂σ̃² = 2(σ̃ − σ) · 1/(2σ̃) = [2/3, −2]
  // deepinversion: ∂/∂μ̃ = (μ̃ − μ)/‖μ̃ − μ‖ = [0.6, −0.8];  ∂/∂σ̃² = [8, −8]/(8√2) = [1/√2, −1/√2]
  const running = stats(A[2], A[3]);
  const m0 = tf.tensor1d(A[0]);
  const v0 = tf.tensor1d(A[1]);
  const grads = (form: BnPriorForm): number[][] => {
    const gs = tf.grads((m: tf.Tensor, v: tf.Tensor) =>
      bnLayerTerm({ mean: m as tf.Tensor1D, variance: v as tf.Tensor1D }, running, form, 'sum'),
    )([m0, v0]);
    const out = gs.map((g) => Array.from(g.dataSync()));
    tf.dispose(gs);
    return out;
  };
  const [am, av] = grads('arcface');
  expect(am[0]).toBeCloseTo(6, 4);
  expect(am[1]).toBeCloseTo(-8, 4);
  expect(av[0]).toBeCloseTo(2 / 3, 4);
  expect(av[1]).toBeCloseTo(-2, 4);
  const [dm, dv] = grads('deepinversion');
  expect(dm[0]).toBeCloseTo(0.6, 5);
  expect(dm[1]).toBeCloseTo(-0.8, 5);
  expect(dv[0]).toBeCloseTo(Math.SQRT1_2, 5);
  expect(dv[1]).toBeCloseTo(-Math.SQRT1_2, 5);
  tf.dispose([m0, v0]);
  disposeStats([running]);
});

test.each([
  ['arcface', 'sum'],
  ['arcface', 'mean'],
  ['deepinversion', 'sum'],
  ['deepinversion', 'mean'],
] as const)('%s / %s: autodiff gradient matches central finite differences on cpu', (form, reduction) => {
  // Two layers (4 and 3 channels) of random statistics; variances kept away from 0.
  const rnd = (n: number, lo: number, hi: number, seed: number): number[] =>
    Array.from(tf.tidy(() => tf.randomUniform([n], lo, hi, 'float32', seed).dataSync()));
  const params = [rnd(4, -1, 1, 1), rnd(4, 0.5, 2, 2), rnd(3, -1, 1, 3), rnd(3, 0.5, 2, 4)];
  const running = [stats(rnd(4, -1, 1, 5), rnd(4, 0.5, 2, 6)), stats(rnd(3, -1, 1, 7), rnd(3, 0.5, 2, 8))];
  const opts = { form, reduction, firstLayerWeight: 2.5 };
  const f = (...p: tf.Tensor[]): tf.Scalar =>
    bnStatLoss(
      [
        { mean: p[0] as tf.Tensor1D, variance: p[1] as tf.Tensor1D },
        { mean: p[2] as tf.Tensor1D, variance: p[3] as tf.Tensor1D },
      ],
      running,
      opts,
    ).total;
  const value = (p: number[][]): number => tf.tidy(() => f(...p.map((x) => tf.tensor1d(x))).dataSync()[0]);

  const xs = params.map((p) => tf.tensor1d(p));
  const analytic = tf.tidy(() =>
    tf
      .grads(f)(xs)
      .map((g) => Array.from(g.dataSync())),
  );
  const h = 1e-2;
  params.forEach((p, i) =>
    p.forEach((_, j) => {
      const plus = params.map((q) => q.slice());
      const minus = params.map((q) => q.slice());
      plus[i][j] += h;
      minus[i][j] -= h;
      const numeric = (value(plus) - value(minus)) / (2 * h);
      expect(Math.abs(analytic[i][j] - numeric)).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
    }),
  );
  tf.dispose(xs);
  disposeStats(running);
});
