/** Tests for src/util/eigen.ts: reconstruction, orthonormality and order on matrices with known spectra. */
import { symmetricEigen } from '../../src/util/eigen.js';
import { Mulberry32 } from '../../src/util/random.js';

/** Q·diag(λ)·Qᵀ for a random orthonormal Q (Gram–Schmidt of a seeded Gaussian-ish matrix). */
function withSpectrum(lambda: number[], seed: number): number[] {
  const n = lambda.length;
  const rng = new Mulberry32(seed);
  const q: number[][] = [];
  for (let i = 0; i < n; i++) {
    const col = Array.from({ length: n }, () => rng.next() - 0.5);
    for (const u of q) {
      const d = col.reduce((s, x, k) => s + x * u[k], 0);
      for (let k = 0; k < n; k++) col[k] -= d * u[k];
    }
    const norm = Math.hypot(...col);
    q.push(col.map((x) => x / norm));
  }
  const a: number[] = [];
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) a.push(lambda.reduce((s, l, i) => s + l * q[i][r] * q[i][c], 0));
  return a;
}

test('a 24×24 matrix of known spectrum: the eigenvalues, descending; A·u = λu; U orthonormal', () => {
  const lambda = Array.from({ length: 24 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1) * 0.37);
  const a = withSpectrum(lambda, 7);
  const n = lambda.length;
  const { values, vectors } = symmetricEigen(a, n);
  const sorted = [...lambda].sort((x, y) => y - x);
  values.forEach((v, i) => expect(v).toBeCloseTo(sorted[i], 10));
  for (let j = 0; j < n; j++) {
    for (let r = 0; r < n; r++) {
      let au = 0;
      for (let c = 0; c < n; c++) au += a[r * n + c] * vectors[c * n + j];
      expect(au).toBeCloseTo(values[j] * vectors[r * n + j], 10);
    }
    for (let k = 0; k < n; k++) {
      let d = 0;
      for (let r = 0; r < n; r++) d += vectors[r * n + j] * vectors[r * n + k];
      expect(d).toBeCloseTo(j === k ? 1 : 0, 12);
    }
  }
});

test('stops at the tolerance: a loose one leaves the off-diagonal larger, within it', () => {
  const a = withSpectrum([5, 4, 3, 2, 1, 0.5], 3);
  const loose = symmetricEigen(a, 6, { tol: 1e-2, maxSweeps: 50 });
  const tight = symmetricEigen(a, 6);
  expect(Math.abs(loose.values[0] - 5)).toBeLessThan(0.1);
  expect(Math.abs(loose.values[0] - 5)).toBeGreaterThan(Math.abs(tight.values[0] - 5));
  expect(tight.values[5]).toBeCloseTo(0.5, 12);
});

test('one sweep at most when asked, and the input is left untouched', () => {
  const a = withSpectrum([3, 2, 1], 1);
  const copy = [...a];
  symmetricEigen(a, 3, { maxSweeps: 1 });
  expect(a).toEqual(copy);
});
