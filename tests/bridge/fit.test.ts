/**
 * The linear bridge (`src/bridge/fit.ts`): the normal equations hold at the solution (checked in
 * float64 here, independently of the solver), an exactly linear relation is recovered, the ridge
 * is chosen on held-out rows, and mapped rows are unit vectors.
 */
import { applyBridge, bridgeAgreement, fitLinearBridge, fitWithHeldOut, type Rows } from '../../src/bridge/fit.js';
import { Mulberry32 } from '../../src/util/random.js';

function gaussianRows(n: number, dim: number, seed: number): Rows {
  const rng = new Mulberry32(seed);
  const data = Float32Array.from({ length: n * dim }, () => {
    const u = Math.max(1e-12, rng.next());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  });
  return { data, n, dim };
}

function unit(r: Rows): Float64Array[] {
  return Array.from({ length: r.n }, (_, i) => {
    const row = Float64Array.from(r.data.subarray(i * r.dim, (i + 1) * r.dim));
    const s = Math.hypot(...row);
    return row.map((v) => v / s);
  });
}

test('the fit satisfies its normal equations (AᵀA + λI′) W = AᵀB, bias unpenalised', () => {
  const [a, b] = [gaussianRows(60, 5, 1), gaussianRows(60, 4, 2)];
  const ridge = 0.1;
  const fit = fitLinearBridge(a, b, ridge);
  expect([fit.from, fit.to, fit.weights.length]).toEqual([5, 4, 24]);
  const [xa, yb] = [unit(a).map((r) => [...r, 1]), unit(b)];
  const lambda = (ridge * 60) / 5;
  const w = (p: number, c: number) => fit.weights[p * 4 + c];
  for (let p = 0; p < 6; p++)
    for (let c = 0; c < 4; c++) {
      let g = p < 5 ? lambda * w(p, c) : 0;
      for (let i = 0; i < 60; i++) {
        const pred = xa[i].reduce((s, v, q) => s + v * w(q, c), 0);
        g += xa[i][p] * (pred - yb[i][c]);
      }
      expect(Math.abs(g)).toBeLessThan(1e-4);
    }
});

test('an exact rotation between spaces is recovered with ridge 0; held-out cosine 1', () => {
  // B = Â·Q for an orthogonal Q (a permutation with signs): unit rows stay unit.
  const a = gaussianRows(40, 3, 5);
  const perm = [2, 0, 1];
  const sign = [1, -1, 1];
  const au = unit(a);
  const b: Rows = { n: 40, dim: 3, data: Float32Array.from(au.flatMap((r) => perm.map((k, c) => sign[c] * r[k]))) };
  const fit = fitLinearBridge(a, b, 0);
  for (let p = 0; p < 3; p++)
    for (let c = 0; c < 3; c++) expect(fit.weights[p * 3 + c]).toBeCloseTo(perm[c] === p ? sign[c] : 0, 4);
  for (let c = 0; c < 3; c++) expect(fit.weights[9 + c]).toBeCloseTo(0, 4);
  const agree = bridgeAgreement(applyBridge(fit, a), b);
  expect(agree.pairs).toBe(40);
  expect(agree.mean).toBeCloseTo(1, 5);
  expect(agree.p05).toBeCloseTo(1, 5);
});

test('the ridge is chosen on held-out rows; mapped rows are unit length; dimensions are checked', () => {
  const a = gaussianRows(80, 6, 7);
  const noise = gaussianRows(80, 6, 8);
  // B: a noisy linear image of A, so that some shrinkage helps the held-out rows.
  const b: Rows = { n: 80, dim: 6, data: a.data.map((v, i) => v + 0.8 * noise.data[i]) };
  const ids = Array.from({ length: 80 }, (_, i) => i);
  const res = fitWithHeldOut(a, b, ids.slice(0, 60), ids.slice(60), [0, 1e-2, 1, 100]);
  expect(res.tried.map((t) => t.ridge)).toEqual([0, 1e-2, 1, 100]);
  const best = Math.max(...res.tried.map((t) => t.heldOut.mean));
  expect(res.heldOut.mean).toBe(best);
  expect(res.bridge.ridge).toBe(res.tried.find((t) => t.heldOut.mean === best)!.ridge);
  expect(res.heldOut.mean).toBeGreaterThan(0.5);
  const mapped = applyBridge(res.bridge, a);
  for (let i = 0; i < 80; i++) expect(Math.hypot(...mapped.data.subarray(i * 6, i * 6 + 6))).toBeCloseTo(1, 5);
  expect(() => applyBridge(res.bridge, gaussianRows(2, 5, 1))).toThrow('the bridge maps 6-d embeddings, these are 5-d');
  expect(() => fitLinearBridge(a, gaussianRows(3, 6, 1), 0)).toThrow(
    'bridge fit: 80 rows from one model, 3 from the other',
  );
  expect(() => fitLinearBridge(gaussianRows(3, 6, 1), gaussianRows(3, 6, 2), 0)).toThrow(/singular/);
});
