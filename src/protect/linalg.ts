/**
 * The small dense linear algebra the protection schemes need, in plain Float64 JavaScript
 * (keys are generated once; templates are short): seeded Gaussian matrices, orthonormal rows
 * (modified Gram–Schmidt), matrix × rows.
 */
import { Mulberry32 } from '../util/random.js';

/** Standard normal draws from a seeded generator (Box–Muller). */
export function gaussians(n: number, seed: number): Float64Array {
  const rng = new Mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng.next(), 1e-300);
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * `rows` × `cols` (rows ≤ cols) with orthonormal rows: a seeded Gaussian matrix whose rows are
 * orthonormalised by modified Gram–Schmidt (the Haar-random projection of BioHashing).
 */
export function orthonormalRows(rows: number, cols: number, seed: number): Float64Array {
  if (rows > cols) throw new Error(`orthonormal rows: ${rows} rows do not fit in dimension ${cols}`);
  const m = gaussians(rows * cols, seed);
  for (let i = 0; i < rows; i++) {
    const ri = i * cols;
    for (let j = 0; j < i; j++) {
      const rj = j * cols;
      let dot = 0;
      for (let k = 0; k < cols; k++) dot += m[ri + k] * m[rj + k];
      for (let k = 0; k < cols; k++) m[ri + k] -= dot * m[rj + k];
    }
    let norm = 0;
    for (let k = 0; k < cols; k++) norm += m[ri + k] ** 2;
    norm = Math.sqrt(norm);
    for (let k = 0; k < cols; k++) m[ri + k] /= norm;
  }
  return m;
}

/** y = M · x for each of the `n` rows of `x` [n, cols]; M is [out, cols] row-major. */
export function applyMatrix(m: Float64Array, out: number, x: Float32Array, n: number, cols: number): Float32Array {
  const y = new Float32Array(n * out);
  for (let r = 0; r < n; r++)
    for (let i = 0; i < out; i++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += m[i * cols + k] * x[r * cols + k];
      y[r * out + i] = s;
    }
  return y;
}

/** Each row of `x` [n, d] divided by its L2 norm (a zero row stays zero). */
export function normalizeRows(x: Float32Array, d: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += x[r * d + k] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < d; k++) y[r * d + k] = x[r * d + k] * inv;
  }
  return y;
}
