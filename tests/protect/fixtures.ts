/** Test templates for the protection schemes. */
import { Mulberry32 } from '../../src/util/random.js';

/** `n` seeded random unit rows of dimension `d`. */
export function unitRows(n: number, d: number, seed: number): Float32Array {
  const rng = new Mulberry32(seed);
  const x = Float32Array.from({ length: n * d }, () => rng.next() * 2 - 1);
  for (let r = 0; r < n; r++) {
    const norm = Math.hypot(...x.subarray(r * d, (r + 1) * d));
    for (let k = 0; k < d; k++) x[r * d + k] /= norm;
  }
  return x;
}
