/**
 * Decision thresholds at a false-match rate and the Success Attack Rate of template
 * inversion (Mai et al., "On the Reconstruction of Face Images from Deep Face Templates",
 * TPAMI 2019 — NbNet; Shahreza & Marcel's template-inversion benchmarks): a system is set to
 * a fixed FMR on impostor pairs of genuine photos, and an attack succeeds on a comparison
 * when the reconstruction's score against the probe exceeds that threshold. Type-I probes
 * are the very photo whose template was inverted, type-II other photos of the same person.
 *
 * Convention (as `tarAtFar`): with N impostor scores at most ⌊FMR·N⌋ may be accepted, so the
 * threshold is the (⌊FMR·N⌋ + 1)-th highest impostor score and a comparison is accepted when
 * its score is strictly above it; the reached FMR never exceeds the target. Pure functions.
 */
import { ArcinvertError } from '../errors.js';

/** A threshold set on impostor scores. */
export interface FmrThreshold {
  /** Target false-match rate. */
  fmr: number;
  /** Accept when score > threshold. */
  threshold: number;
  /** Impostor scores accepted at the threshold / their number (≤ fmr). */
  reachedFmr: number;
  impostors: number;
  /** ⌊fmr·N⌋: impostors that may be accepted. 0 means the threshold is the highest impostor score, i.e. N is too small to resolve this FMR. */
  allowed: number;
}

/** How many of a set of comparisons a threshold accepts. */
export interface AcceptCount {
  comparisons: number;
  accepted: number;
  /** accepted / comparisons (0 when there are none). */
  rate: number;
}

function checkScores(scores: ArrayLike<number>, what: string): void {
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new ArcinvertError(`${what} score ${i} is not finite`);
  }
}

/**
 * The threshold at false-match rate `fmr` on `impostors` (see the module comment).
 * @throws ArcinvertError when there are no impostor scores or fmr is not in (0, 1).
 */
export function thresholdAtFmr(impostors: ArrayLike<number>, fmr: number): FmrThreshold {
  if (!(fmr > 0 && fmr < 1)) throw new ArcinvertError(`FMR must be in (0, 1), got ${fmr}`);
  const n = impostors.length;
  if (n === 0) throw new ArcinvertError('no impostor scores to set a threshold on');
  checkScores(impostors, 'impostor');
  const desc = Float64Array.from(impostors).sort().reverse();
  const allowed = Math.floor(fmr * n + 1e-9);
  const threshold = desc[Math.min(allowed, n - 1)];
  const accepted = countAbove(impostors, threshold).accepted;
  return { fmr, threshold, reachedFmr: accepted / n, impostors: n, allowed };
}

/** Comparisons with a score strictly above `threshold`. */
export function countAbove(scores: ArrayLike<number>, threshold: number): AcceptCount {
  checkScores(scores, 'comparison');
  let accepted = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > threshold) accepted++;
  return { comparisons: scores.length, accepted, rate: scores.length === 0 ? 0 : accepted / scores.length };
}

/** Success Attack Rate: the share of attack comparisons a system accepts at `t`. */
export function successAttackRate(attackScores: ArrayLike<number>, t: FmrThreshold): AcceptCount {
  return countAbove(attackScores, t.threshold);
}
