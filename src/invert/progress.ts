/**
 * Progress statistics of a batch for `onProgress`: the loss terms read from the step's stacked
 * tensor, and the cosine summary over the batch's real (non-filler) images.
 */
import type { Job } from './plan.js';
import type { InvertDivergence, InvertProgress, LossTerms } from './types.js';

/** Order of the loss terms in the tensor `invertStep` returns. */
export const TERM_NAMES = ['total', 'identity', 'bn', 'tvL1', 'tvL2', 'l2'] as const;

export const NO_LOSSES: Readonly<LossTerms> = { total: 0, identity: 0, bn: 0, tvL1: 0, tvL2: 0, l2: 0 };

/** The named loss terms of `values`, in `TERM_NAMES` order. */
export function lossTerms(values: ArrayLike<number>): LossTerms {
  const t = { ...NO_LOSSES };
  TERM_NAMES.forEach((k, i) => (t[k] = values[i]));
  return t;
}

/**
 * Mean, min and max of the last cosines, and the mean best cosine (a row not yet evaluated
 * counts 0), over the jobs that are not fillers.
 */
export function cosineSummary(jobs: readonly Job[], last: Float32Array, best: Float32Array): InvertProgress['cosine'] {
  const real = jobs.flatMap((j, i) => (j.filler ? [] : [i]));
  const cos = real.map((i) => last[i]);
  return {
    mean: cos.reduce((a, c) => a + c, 0) / cos.length,
    min: Math.min(...cos),
    max: Math.max(...cos),
    bestMean: real.reduce((a, i) => a + (Number.isFinite(best[i]) ? best[i] : 0), 0) / real.length,
  };
}

/** Steps over the whole run: done, in total, and when it started (`performance.now()` ms). */
export interface RunClock {
  globalStep: number;
  totalSteps: number;
  started: number;
}

/** Throughput so far and the time left at that rate, in seconds. */
export function throughput(clock: RunClock, now = performance.now()): { stepsPerSecond: number; etaSeconds: number } {
  const elapsed = (now - clock.started) / 1000;
  return {
    stepsPerSecond: clock.globalStep / elapsed,
    etaSeconds: ((clock.totalSteps - clock.globalStep) * elapsed) / clock.globalStep,
  };
}

/** Says where an inversion diverged: `the loss is NaN at step 7 of batch 2` (batch 1-based). */
export function describeDivergence(d: InvertDivergence): string {
  return `the loss is ${d.loss} at step ${d.step} of batch ${d.batch + 1}`;
}
