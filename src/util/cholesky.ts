/**
 * Dense Cholesky factorisation and solves, in plain Float64 JavaScript, for the small symmetric
 * systems of the bridge fit and the attacker's embedding prior.
 */

/**
 * Factors the symmetric `a` [m, m] (row-major) in place: its lower triangle becomes L with
 * L·Lᵀ = a (the upper triangle keeps its values). Returns false, part-way, when `a` is not
 * positive definite.
 */
export function choleskyInPlace(a: Float64Array, m: number): boolean {
  for (let j = 0; j < m; j++) {
    let d = a[j * m + j];
    for (let k = 0; k < j; k++) d -= a[j * m + k] ** 2;
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    a[j * m + j] = l;
    for (let i = j + 1; i < m; i++) {
      let s = a[i * m + j];
      for (let k = 0; k < j; k++) s -= a[i * m + k] * a[j * m + k];
      a[i * m + j] = s / l;
    }
  }
  return true;
}

/** Solves L·Lᵀ·X = R in place for R [m, cols] row-major (L the lower triangle from `choleskyInPlace`). */
export function choleskySolveInPlace(l: Float64Array, m: number, r: Float64Array, cols: number): void {
  for (let i = 0; i < m; i++)
    for (let c = 0; c < cols; c++) {
      let s = r[i * cols + c];
      for (let k = 0; k < i; k++) s -= l[i * m + k] * r[k * cols + c];
      r[i * cols + c] = s / l[i * m + i];
    }
  for (let i = m - 1; i >= 0; i--)
    for (let c = 0; c < cols; c++) {
      let s = r[i * cols + c];
      for (let k = i + 1; k < m; k++) s -= l[k * m + i] * r[k * cols + c];
      r[i * cols + c] = s / l[i * m + i];
    }
}
