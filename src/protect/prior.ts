/**
 * What an attacker knows about face embeddings before it sees a stolen template: their mean and
 * covariance under the attacked model, fitted on public faces it embeds itself (it holds the
 * model in a white-box attack). Face embeddings fill a small part of their space, so a Gaussian
 * with this covariance predicts what a protection scheme discarded from what it kept:
 *
 *   y = M·x observed (k linear measurements of x, M [k, d])  ⇒
 *   E[x | y] = μ + Σ Mᵀ (M Σ Mᵀ)⁻¹ (y − M μ)                (Gaussian conditioning),
 *
 * and when only sign(y) is observed (BioHash, sign), each yᵢ is replaced by its expectation
 * given its sign under the prior's marginal N((Mμ)ᵢ, (MΣMᵀ)ᵢᵢ) (a truncated normal's mean).
 * The non-linear schemes are recovered by optimisation in the prior's whitened coordinates
 * (`recover.ts`). On the default model (docs/PROTECTION.md): BioHash-256 of 512 is recovered to
 * cosine 0.82 against 0.57 without the prior, MLP-Hash to 0.83 against 0.17.
 */
import { ArcinvertError } from '../errors.js';
import { choleskyInPlace, choleskySolveInPlace } from '../util/cholesky.js';

export interface EmbeddingPrior {
  dim: number;
  /** [dim] mean. */
  mean: Float64Array;
  /** [dim, dim] covariance (with a small ridge), row-major. */
  cov: Float64Array;
  /** How many embeddings it was fitted on. */
  n: number;
}

/** The mean and covariance (plus `ridge`·I) of the `n` rows of `x` [n, dim]. */
export function fitEmbeddingPrior(x: Float32Array, n: number, dim: number, ridge = 1e-4): EmbeddingPrior {
  if (n < 2 || x.length !== n * dim) throw new ArcinvertError(`an embedding prior needs ≥ 2 rows of ${dim}, got ${n}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] / n;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) c[j] = x[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ca = c[a] / (n - 1);
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += ca * c[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    cov[a * dim + a] += ridge;
    for (let b = 0; b < a; b++) cov[a * dim + b] = cov[b * dim + a];
  }
  return { dim, mean, cov, n };
}

/** Lower Cholesky factor of the symmetric positive definite [n, n] `a` (a new array, zero above the diagonal). */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = Float64Array.from(a);
  if (!choleskyInPlace(l, n)) throw new ArcinvertError('the embedding prior is singular along the observed directions');
  for (let i = 0; i < n; i++) l.fill(0, i * n + i + 1, (i + 1) * n);
  return l;
}

/** Solves L Lᵀ z = b. */
function cholSolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const z = Float64Array.from(b);
  choleskySolveInPlace(l, n, z, 1);
  return z;
}

/**
 * Gaussian conditioning on k linear measurements: `m` [k, dim] (row-major) and the prior give
 * E[x | M·x = y] for any y, and the measurements' prior means and standard deviations.
 */
export function linearPosterior(
  prior: EmbeddingPrior,
  m: Float64Array,
  k: number,
): { mean: (y: Float64Array) => Float64Array; yMean: Float64Array; ySd: Float64Array } {
  const d = prior.dim;
  if (m.length !== k * d) throw new ArcinvertError(`measurements of ${m.length / k}-d embeddings, the prior is ${d}-d`);
  // ΣMᵀ as k rows of length d: row i = Σ mᵢ.
  const sm = new Float64Array(k * d);
  for (let i = 0; i < k; i++)
    for (let a = 0; a < d; a++) {
      let s = 0;
      for (let b = 0; b < d; b++) s += prior.cov[a * d + b] * m[i * d + b];
      sm[i * d + a] = s;
    }
  const gram = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let a = 0; a < d; a++) s += m[i * d + a] * sm[j * d + a];
      gram[i * k + j] = s;
    }
  const l = cholesky(gram, k);
  const yMean = new Float64Array(k);
  const ySd = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    for (let a = 0; a < d; a++) yMean[i] += m[i * d + a] * prior.mean[a];
    ySd[i] = Math.sqrt(gram[i * k + i]);
  }
  const mean = (y: Float64Array): Float64Array => {
    const z = cholSolve(
      l,
      k,
      y.map((v, i) => v - yMean[i]),
    );
    const x = Float64Array.from(prior.mean);
    for (let i = 0; i < k; i++) {
      if (z[i] === 0) continue;
      for (let a = 0; a < d; a++) x[a] += sm[i * d + a] * z[i];
    }
    return x;
  };
  return { mean, yMean, ySd };
}

const normalPdf = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/** Φ(x), by the complementary error function (Numerical Recipes' erfc, |error| < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** E[y | y > 0] (positive) or E[y | y ≤ 0] for y ~ N(mean, sd²). */
export function signedMean(positive: boolean, mean: number, sd: number): number {
  const a = -mean / sd;
  // Guarded ratios: far in a tail, the truncated mean tends to the bound (0).
  if (positive) {
    const p = normalCdf(-a); // 1 − Φ(a), without the cancellation in the tail
    return p > 1e-12 ? mean + (sd * normalPdf(a)) / p : 0;
  }
  const p = normalCdf(a);
  return p > 1e-12 ? mean - (sd * normalPdf(a)) / p : 0;
}

/**
 * E[x | y] for y = x + n, n ~ N(0, noiseVar·I) (a Wiener filter): μ + Σ (Σ + noiseVar·I)⁻¹ (y − μ),
 * for each of the `n` rows of `y` [n, dim].
 */
export function denoise(prior: EmbeddingPrior, y: Float32Array, n: number, noiseVar: number): Float32Array {
  const d = prior.dim;
  const a = Float64Array.from(prior.cov);
  for (let i = 0; i < d; i++) a[i * d + i] += noiseVar;
  const l = cholesky(a, d);
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const z = cholSolve(
      l,
      d,
      Float64Array.from({ length: d }, (_, j) => y[r * d + j] - prior.mean[j]),
    );
    for (let i = 0; i < d; i++) {
      let s = prior.mean[i];
      for (let j = 0; j < d; j++) s += prior.cov[i * d + j] * z[j];
      out[r * d + i] = s;
    }
  }
  return out;
}

/** The lower Cholesky factor L of the prior's covariance (Σ = L·Lᵀ), [dim, dim] row-major. */
export function priorFactor(prior: EmbeddingPrior): Float64Array {
  return cholesky(prior.cov, prior.dim);
}
