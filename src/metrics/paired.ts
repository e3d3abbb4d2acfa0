// Whether one model verifies better than another on the same pairs: each pair judged right or
// wrong by each model under the k-fold protocol of `tenFoldAccuracy` (the fold's threshold
// chosen on the other folds), then McNemar's exact test on the pairs only one of them got right.
// The fold-to-fold spread that `tenFoldAccuracy` reports (±1–2 points on 6,000 pairs) mostly
// comes from which pairs land in a fold, and both models share it: a paired test sees a
// difference far smaller than that spread.
import { ArcinvertError } from '../errors.js';
import { kFoldAssignment, tenFoldAccuracy } from './verification.js';

/** Result of `pairedAccuracyTest`. */
export interface PairedTestResult {
  /** Pairs scored. */
  pairs: number;
  /** Share of pairs each model judged right (pooled over folds; equal to the fold mean when the folds are equal in size). */
  accuracyA: number;
  accuracyB: number;
  /** Pairs only A judged right, and only B. */
  onlyA: number;
  onlyB: number;
  /** accuracyB − accuracyA, and its 95 % confidence interval (normal approximation of the paired difference). */
  difference: number;
  ci95: [number, number];
  /** Two-sided exact McNemar p-value (`mcnemarExact(onlyA, onlyB)`). */
  pValue: number;
}

/**
 * Two-sided exact McNemar test: the probability, with no difference between the models, of a
 * split of the `onlyA + onlyB` discordant pairs at least as uneven as the one seen (binomial,
 * p = 1/2), i.e. min(1, 2 · P(X ≤ min(onlyA, onlyB))).
 */
export function mcnemarExact(onlyA: number, onlyB: number): number {
  if (![onlyA, onlyB].every((x) => Number.isInteger(x) && x >= 0)) {
    throw new ArcinvertError(`discordant counts must be whole numbers ≥ 0, got ${onlyA} and ${onlyB}`);
  }
  const n = onlyA + onlyB;
  const low = Math.min(onlyA, onlyB);
  let logTerm = -n * Math.LN2; // log(C(n, 0) / 2^n)
  let tail = 0;
  for (let k = 0; k <= low; k++) {
    tail += Math.exp(logTerm);
    logTerm += Math.log((n - k) / (k + 1));
  }
  return Math.min(1, 2 * tail);
}

/** Right (true) or wrong for each pair under the k-fold protocol of `tenFoldAccuracy`. */
export function pairVerdicts(
  scores: ArrayLike<number>,
  issame: ArrayLike<boolean>,
  folds: number | ArrayLike<number> = 10,
): boolean[] {
  const foldOf = typeof folds === 'number' ? kFoldAssignment(scores.length, folds) : Int32Array.from(folds);
  const { bestThresholds } = tenFoldAccuracy(scores, issame, foldOf);
  return Array.from({ length: scores.length }, (_, i) => scores[i] > bestThresholds[foldOf[i]] === issame[i]);
}

/**
 * Paired comparison of two models' scores of the same pairs (A the reference, B the candidate).
 * @param folds number of contiguous folds, or a fold id per pair (LFW: from the pairs file).
 */
export function pairedAccuracyTest(
  scoresA: ArrayLike<number>,
  scoresB: ArrayLike<number>,
  issame: ArrayLike<boolean>,
  folds: number | ArrayLike<number> = 10,
): PairedTestResult {
  if (scoresA.length !== scoresB.length) {
    throw new ArcinvertError(`${scoresA.length} scores from A but ${scoresB.length} from B`);
  }
  const rightA = pairVerdicts(scoresA, issame, folds);
  const rightB = pairVerdicts(scoresB, issame, folds);
  const n = rightA.length;
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < n; i++) {
    if (rightA[i] && !rightB[i]) onlyA++;
    if (rightB[i] && !rightA[i]) onlyB++;
  }
  const share = (v: boolean[]) => v.filter(Boolean).length / n;
  const difference = (onlyB - onlyA) / n;
  // Per pair the difference is +1, −1 or 0; its variance over pairs, then the mean's.
  const se = Math.sqrt(Math.max(0, (onlyA + onlyB) / n - difference ** 2) / n);
  return {
    pairs: n,
    accuracyA: share(rightA),
    accuracyB: share(rightB),
    onlyA,
    onlyB,
    difference,
    ci95: [difference - 1.96 * se, difference + 1.96 * se],
    pValue: mcnemarExact(onlyA, onlyB),
  };
}
