/**
 * Eigen-decomposition of a real symmetric matrix by cyclic Jacobi rotations (Golub & Van Loan,
 * §8.5): sweeps over every pair p < q, each rotation zeroing a(p,q), until the off-diagonal
 * sum of squares falls below `tol`. O(n³) a sweep and quadratic convergence: fine for the 3×3
 * colour covariance and for a one-off PCA of a ~1,000-d embedding space.
 */

/**
 * @param a row-major n×n symmetric matrix (only read).
 * @param n its order.
 * @param opts.tol the off-diagonal sum of squares at which to stop (default 1e-30, absolute).
 * @param opts.maxSweeps at most this many sweeps (default 50).
 * @returns eigenvalues in descending order, and the eigenvectors as the columns of a row-major
 *   n×n matrix in the same order.
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  opts: { tol?: number; maxSweeps?: number } = {},
): { values: number[]; vectors: number[] } {
  const { tol = 1e-30, maxSweeps = 50 } = opts;
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off < tol) break;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) rotate(m, v, n, p, q);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * (n + 1)] - m[i * (n + 1)]);
  return {
    values: order.map((i) => m[i * (n + 1)]),
    vectors: Array.from({ length: n * n }, (_, k) => v[Math.floor(k / n) * n + order[k % n]]),
  };
}

/** One Jacobi rotation J(p, q, θ) zeroing m(p,q): m ← Jᵀ m J (columns, then rows), v ← v J. */
function rotate(m: Float64Array, v: Float64Array, n: number, p: number, q: number): void {
  const apq = m[p * n + q];
  if (Math.abs(apq) < 1e-300) return;
  const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    const mkp = m[k * n + p];
    const mkq = m[k * n + q];
    m[k * n + p] = c * mkp - s * mkq;
    m[k * n + q] = s * mkp + c * mkq;
  }
  for (let k = 0; k < n; k++) {
    const mpk = m[p * n + k];
    const mqk = m[q * n + k];
    m[p * n + k] = c * mpk - s * mqk;
    m[q * n + k] = s * mpk + c * mqk;
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p];
    const vkq = v[k * n + q];
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}
