/**
 * Number formats shared by the leakage table (`format.ts`) and the score plots (`plot.ts`);
 * a leaf, so neither has to import the other.
 */

/** Scientific notation without noise: 0.001 → "1e-3". */
export function formatFmr(f: number): string {
  const [m, e] = f.toExponential().split('e');
  return `${Number(m)}e${Number(e)}`;
}
