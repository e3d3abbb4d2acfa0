import { ArcinvertError } from '../../src/errors.js';
import { mcnemarExact, pairedAccuracyTest, pairVerdicts } from '../../src/metrics/paired.js';
import { tenFoldAccuracy } from '../../src/metrics/verification.js';

/** min(1, 2 · Σ_{k ≤ low} C(n, k) / 2^n) in exact integers, an independent reference. */
function mcnemarBigInt(a: number, b: number): number {
  const n = BigInt(a + b);
  let c = 1n;
  let sum = 0n;
  for (let k = 0n; k <= BigInt(Math.min(a, b)); k++) {
    sum += c;
    c = (c * (n - k)) / (k + 1n);
  }
  // Scale down before converting: 2·sum / 2^n with 60 bits kept.
  const shift = n > 60n ? n - 60n : 0n;
  return Math.min(1, Number((2n * sum) >> shift) / Number(1n << (n - shift)));
}

describe('mcnemarExact', () => {
  test.each([
    [1, 9, 22 / 1024], // 2 · (C(10,0) + C(10,1)) / 2^10
    [9, 1, 22 / 1024],
    [0, 5, 2 / 32],
    [3, 3, 1],
    [0, 0, 1],
    [2, 3, 1], // 2 · (1 + 5 + 10) / 32 = 1
  ])('onlyA %i, onlyB %i → %f', (a, b, p) => {
    expect(mcnemarExact(a, b)).toBeCloseTo(p, 14);
  });

  test('large counts agree with exact integer arithmetic', () => {
    for (const [a, b] of [
      [100, 150],
      [160, 210],
      [40, 41],
      [0, 700],
    ]) {
      const ref = mcnemarBigInt(a, b);
      expect(Math.abs(mcnemarExact(a, b) - ref)).toBeLessThanOrEqual(1e-12 + 1e-9 * ref);
    }
    expect(mcnemarExact(100, 150)).toBeLessThan(0.01);
    expect(mcnemarExact(40, 41)).toBeGreaterThan(0.9);
  });

  test('rejects counts that are not whole numbers', () => {
    expect(() => mcnemarExact(-1, 3)).toThrow(ArcinvertError);
    expect(() => mcnemarExact(1.5, 3)).toThrow(/whole numbers/);
  });
});

describe('pairedAccuracyTest', () => {
  const issame = [true, false, true, false];

  test('hand-made 2-fold example', () => {
    // A: tenFoldAccuracy's hand example — fold 0 threshold 0.551 (both right), fold 1 0.301 (pair 3, a
    // mismatched 0.5505, accepted: wrong) → right, right, right, wrong.
    expect(pairVerdicts([0.8005, 0.3005, 0.6005, 0.5505], issame, 2)).toEqual([true, true, true, false]);
    // B: fold 0 trains on {0.6005 same, 0.2005 different} → 0.201, which accepts pair 1 (0.3005): wrong;
    // fold 1 trains on {0.8005, 0.3005} → 0.301: both right → right, wrong, right, right.
    const b = [0.8005, 0.3005, 0.6005, 0.2005];
    expect(pairVerdicts(b, issame, 2)).toEqual([true, false, true, true]);
    const r = pairedAccuracyTest([0.8005, 0.3005, 0.6005, 0.5505], b, issame, 2);
    expect(r).toMatchObject({
      pairs: 4,
      accuracyA: 0.75,
      accuracyB: 0.75,
      onlyA: 1,
      onlyB: 1,
      difference: 0,
      pValue: 1,
    });
    // per-pair differences 0, −1, 0, +1: variance 1/2, standard error √(1/2 / 4)
    expect(r.ci95[0]).toBeCloseTo(-1.96 * Math.sqrt(0.125), 12);
    expect(r.ci95[1]).toBeCloseTo(1.96 * Math.sqrt(0.125), 12);
  });

  test('pooled accuracy equals the fold mean of tenFoldAccuracy for equal folds', () => {
    let s = 777;
    const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const n = 400;
    const same = Array.from({ length: n }, (_, i) => i % 2 === 0);
    const a = same.map((t) => (t ? 0.35 : 0) + (rand() - 0.5) * 0.8);
    const b = a.map((x, i) => x + (same[i] ? 0.05 : -0.05) + (rand() - 0.5) * 0.1);
    const r = pairedAccuracyTest(a, b, same, 10);
    expect(r.accuracyA).toBeCloseTo(tenFoldAccuracy(a, same, 10).accuracy, 12);
    expect(r.accuracyB).toBeCloseTo(tenFoldAccuracy(b, same, 10).accuracy, 12);
    expect(r.difference).toBeCloseTo(r.accuracyB - r.accuracyA, 12);
    expect(r.difference).toBeCloseTo((r.onlyB - r.onlyA) / n, 12);
    expect(r.pValue).toBeCloseTo(mcnemarExact(r.onlyA, r.onlyB), 14);
  });

  test('one model against itself: no discordant pair, p = 1, an empty interval', () => {
    const scores = [0.9, 0.1, 0.2, 0.8, 0.7, 0.3];
    const r = pairedAccuracyTest(scores, scores, [true, false, true, false, true, false], [0, 0, 1, 1, 2, 2]);
    expect(r).toMatchObject({ onlyA: 0, onlyB: 0, difference: 0, pValue: 1, ci95: [0, 0] });
  });

  test('scores of different lengths are refused', () => {
    expect(() => pairedAccuracyTest([0.1, 0.2], [0.1], [true, false])).toThrow(/2 scores from A but 1 from B/);
  });
});
