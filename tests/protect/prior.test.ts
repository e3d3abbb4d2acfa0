/**
 * The attacker's Gaussian prior of face embeddings (src/protect/prior.ts) and the recovery that
 * uses it: hand-computed moments, conditionals and truncated means, then recovery on embeddings
 * that fill a small subspace, as face embeddings do.
 */
import * as tf from '@tensorflow/tfjs';
import { Mulberry32 } from '../../src/util/random.js';
import {
  denoise,
  fitEmbeddingPrior,
  linearPosterior,
  normalCdf,
  priorFactor,
  signedMean,
} from '../../src/protect/prior.js';
import { recoverEmbeddings } from '../../src/protect/recover.js';
import { makeKey, protect } from '../../src/protect/schemes.js';
import { useWasm } from '../helpers/backend.js';

beforeAll(useWasm);

test('mean and covariance of three 2-d rows, by hand, plus the ridge', () => {
  // Rows (1, 2), (3, 2), (2, 5): mean (2, 3); deviations (−1, −1), (1, −1), (0, 2).
  const p = fitEmbeddingPrior(Float32Array.from([1, 2, 3, 2, 2, 5]), 3, 2, 0.5);
  expect(Array.from(p.mean)).toEqual([2, 3]);
  // Σ = Σ devᵀdev / 2: var₁ = 2/2 = 1, var₂ = 6/2 = 3, cov = (1 − 1 + 0)/2 = 0; plus 0.5 on the diagonal.
  expect(Array.from(p.cov)).toEqual([1.5, 0, 0, 3.5]);
  expect(p.n).toBe(3);
});

test('Φ and the truncated means of a standard normal', () => {
  expect(normalCdf(0)).toBeCloseTo(0.5, 7);
  expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
  expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
  // E[y | y > 0] = √(2/π) for N(0, 1); for N(1, 2²): 1 + 2·φ(−0.5)/(1 − Φ(−0.5)).
  expect(signedMean(true, 0, 1)).toBeCloseTo(Math.sqrt(2 / Math.PI), 6);
  expect(signedMean(false, 0, 1)).toBeCloseTo(-Math.sqrt(2 / Math.PI), 6);
  const phi = Math.exp(-0.125) / Math.sqrt(2 * Math.PI);
  expect(signedMean(true, 1, 2)).toBeCloseTo(1 + (2 * phi) / (1 - normalCdf(-0.5)), 6);
});

test('conditioning on one coordinate of a correlated pair: E[x₂ | x₁] = μ₂ + Σ₂₁/Σ₁₁ (x₁ − μ₁)', () => {
  const prior = { dim: 2, mean: Float64Array.from([1, -1]), cov: Float64Array.from([4, 2, 2, 3]), n: 10 };
  const post = linearPosterior(prior, Float64Array.from([1, 0]), 1);
  expect(Array.from(post.yMean)).toEqual([1]);
  expect(Array.from(post.ySd)).toEqual([2]);
  const x = post.mean(Float64Array.from([3]));
  expect(x[0]).toBeCloseTo(3, 12);
  expect(x[1]).toBeCloseTo(-1 + (2 / 4) * (3 - 1), 12);
});

test('denoising with an isotropic prior shrinks towards the mean by s²/(s² + v)', () => {
  const prior = { dim: 2, mean: Float64Array.from([1, 0]), cov: Float64Array.from([3, 0, 0, 3]), n: 10 };
  const x = denoise(prior, Float32Array.from([5, -2]), 1, 1);
  expect(x[0]).toBeCloseTo(1 + 0.75 * 4, 5);
  expect(x[1]).toBeCloseTo(0.75 * -2, 5);
});

/** `n` unit rows of dimension d near a random rank-r subspace around a common direction. */
function lowRankRows(n: number, d: number, r: number, seed: number): Float32Array {
  const rng = new Mulberry32(seed);
  const g = (): number => Math.sqrt(-2 * Math.log(rng.next() + 1e-12)) * Math.cos(2 * Math.PI * rng.next());
  const basis = Array.from({ length: r + 1 }, () => Array.from({ length: d }, g));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = [2, ...Array.from({ length: r }, g)];
    let norm = 0;
    for (let k = 0; k < d; k++) {
      let v = 0.02 * g();
      for (let j = 0; j <= r; j++) v += c[j] * basis[j][k];
      x[i * d + k] = v;
      norm += v * v;
    }
    for (let k = 0; k < d; k++) x[i * d + k] /= Math.sqrt(norm);
  }
  return x;
}

const meanCos = (a: Float32Array, b: Float32Array, d: number): number => {
  let s = 0;
  for (let r = 0; r < a.length / d; r++) for (let k = 0; k < d; k++) s += a[r * d + k] * b[r * d + k];
  return s / (a.length / d);
};

test('embeddings near a small subspace: the prior recovers what BioHash and a projection discard', () => {
  const d = 32;
  const public_ = lowRankRows(400, d, 4, 1);
  // The same seed draws the same basis and the same first 400 rows: the victims are 10 more.
  const victims = lowRankRows(410, d, 4, 1).subarray(400 * d);
  const prior = fitEmbeddingPrior(public_, 400, d);
  for (const [scheme, options] of [
    ['biohash', { bits: 12 }],
    ['project', { dim: 8 }],
  ] as const) {
    const key = makeKey(scheme, d, 3, options);
    const p = protect(key, victims, 10);
    const plain = meanCos(recoverEmbeddings(key, p, { steps: 100 }), victims, d);
    const informed = meanCos(recoverEmbeddings(key, p, { prior }), victims, d);
    expect(informed).toBeGreaterThan(0.9);
    expect(informed).toBeGreaterThan(plain + 0.1);
  }
  const noise = makeKey('noise', d, 0, { sigma: 1 });
  const p = protect(noise, victims, 10, 4);
  expect(meanCos(recoverEmbeddings(noise, p, { prior }), victims, d)).toBeGreaterThan(
    meanCos(recoverEmbeddings(noise, p), victims, d) + 0.1,
  );
});

test('a prior of another dimension is refused', () => {
  const key = makeKey('project', 8, 0, { dim: 4 });
  const prior = fitEmbeddingPrior(lowRankRows(20, 6, 2, 2), 20, 6);
  expect(() => recoverEmbeddings(key, protect(key, lowRankRows(2, 8, 2, 3), 2), { prior })).toThrow(
    'the embedding prior is 6-d, the project key is for 8-d templates',
  );
});

test('the optimised schemes with a prior: MLP-Hash recovered in whitened coordinates far better than without; no leaks', () => {
  const d = 32;
  const public_ = lowRankRows(400, d, 4, 7);
  const victims = lowRankRows(406, d, 4, 7).subarray(400 * d);
  const prior = fitEmbeddingPrior(public_, 400, d);
  const key = makeKey('mlphash', d, 5, { layers: '64x32' });
  const p = protect(key, victims, 6);
  const n0 = tf.memory().numTensors;
  const informed = meanCos(recoverEmbeddings(key, p, { prior, steps: 150 }), victims, d);
  expect(tf.memory().numTensors).toBe(n0);
  const plain = meanCos(recoverEmbeddings(key, p, { steps: 150 }), victims, d);
  expect(informed).toBeGreaterThan(0.85);
  expect(informed).toBeGreaterThan(plain + 0.2);
}, 60_000);

test('the prior factor is lower triangular and L·Lᵀ gives the covariance back', () => {
  const prior = fitEmbeddingPrior(lowRankRows(50, 6, 3, 4), 50, 6);
  const l = priorFactor(prior);
  for (let i = 0; i < 6; i++)
    for (let j = 0; j < 6; j++) {
      if (j > i) expect(l[i * 6 + j]).toBe(0);
      let s = 0;
      for (let k = 0; k < 6; k++) s += l[i * 6 + k] * l[j * 6 + k];
      expect(s).toBeCloseTo(prior.cov[i * 6 + j], 10);
    }
});
