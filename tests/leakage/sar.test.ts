/** Thresholds at FMR and Success Attack Rates on hand-computed scores. */
import { countAbove, successAttackRate, thresholdAtFmr } from '../../src/leakage/sar.js';

describe('thresholdAtFmr', () => {
  const impostors = [0.1, 0.5, 0.3, 0.9, 0.7];

  it('takes the (⌊FMR·N⌋ + 1)-th highest impostor score', () => {
    // FMR 0.2 of 5 → 1 may pass: threshold = 2nd highest = 0.7; only 0.9 is above it.
    expect(thresholdAtFmr(impostors, 0.2)).toEqual({
      fmr: 0.2,
      threshold: 0.7,
      reachedFmr: 0.2,
      impostors: 5,
      allowed: 1,
    });
    // FMR 0.1 of 5 → none may pass: threshold = the highest score, reached FMR 0.
    expect(thresholdAtFmr(impostors, 0.1)).toEqual({
      fmr: 0.1,
      threshold: 0.9,
      reachedFmr: 0,
      impostors: 5,
      allowed: 0,
    });
    // FMR 0.5 → 2 may pass: threshold 0.5.
    expect(thresholdAtFmr(impostors, 0.5).threshold).toBe(0.5);
  });

  it('never exceeds the target FMR when scores tie at the threshold', () => {
    const t = thresholdAtFmr([0.8, 0.8, 0.8, 0.2], 0.25);
    expect([t.threshold, t.reachedFmr, t.allowed]).toEqual([0.8, 0, 1]);
  });

  it('allows 3 of 3,000 impostors at FMR 1e-3 and 30 at 1e-2', () => {
    const scores = Array.from({ length: 3000 }, (_, i) => i / 3000);
    const t3 = thresholdAtFmr(scores, 1e-3);
    expect([t3.allowed, t3.threshold, t3.reachedFmr]).toEqual([3, 2996 / 3000, 0.001]);
    expect(thresholdAtFmr(scores, 1e-2).allowed).toBe(30);
  });

  it('rejects bad input', () => {
    expect(() => thresholdAtFmr([], 0.1)).toThrow(/no impostor/);
    expect(() => thresholdAtFmr([0.1], 0)).toThrow(/FMR/);
    expect(() => thresholdAtFmr([NaN], 0.5)).toThrow(/finite/);
  });
});

describe('successAttackRate', () => {
  it('counts attack scores strictly above the threshold', () => {
    const t = thresholdAtFmr([0.1, 0.5, 0.3, 0.9, 0.7], 0.2); // 0.7
    expect(successAttackRate([0.95, 0.7, 0.8, 0.2], t)).toEqual({ comparisons: 4, accepted: 2, rate: 0.5 });
    expect(countAbove([], 0)).toEqual({ comparisons: 0, accepted: 0, rate: 0 });
  });
});
