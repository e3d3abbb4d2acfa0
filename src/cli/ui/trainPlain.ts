/**
 * Text for `arcinvert train`: the one-line step and epoch summaries shared by the Ink view and
 * the plain-line reporter used when stdout is not a terminal. Pure formatting, no Ink.
 */
import type { VerificationReport } from '../../metrics/pairEval.js';
import type { EpochRecord, StepProgress } from '../../train/loop.js';
import { formatDuration, formatNumber } from './format.js';

/** `0.8123 ± 0.0150` — accuracy and std with four decimals. */
export function formatAccuracy(r: VerificationReport): string {
  return `${r.accuracy.toFixed(4)} ± ${r.std.toFixed(4)}`;
}

/**
 * `step 120/800 epoch 3/20 batch 5/40 loss 12.34 lr 0.095 312 img/s eta 3m05s`
 * (epoch and batch 1-based; `imagesPerSec` is the caller's smoothed rate).
 */
export function formatStepLine(p: StepProgress, imagesPerSec = p.imagesPerSec): string {
  return [
    `step ${p.step}/${p.totalSteps}`,
    `epoch ${p.epoch + 1}/${p.epochs}`,
    `batch ${p.batch + 1}/${p.stepsPerEpoch}`,
    `loss ${formatNumber(p.loss)}`,
    `lr ${formatNumber(p.lr, 3)}`,
    `${formatNumber(imagesPerSec, 3)} img/s`,
    `eta ${formatDuration(p.etaSeconds)}`,
  ].join(' ');
}

/** `epoch 3/20: train loss 12.34, val 0.8123 ± 0.0150 (best), bench 0.7012 ± 0.0201`. */
export function formatEpochLine(e: EpochRecord): string {
  const parts = [`epoch ${e.epoch + 1}/${e.epochs}: train loss ${formatNumber(e.trainLoss)}`];
  if (e.val) parts.push(`val ${formatAccuracy(e.val)}${e.best ? ' (best)' : ''}`);
  if (e.bench) parts.push(`bench ${formatAccuracy(e.bench)}`);
  return parts.join(', ');
}

/** What the train command tells its display. */
export interface TrainReporter {
  step(p: StepProgress): void;
  epoch(e: EpochRecord): void;
  message(line: string): void;
  unmount(): void;
}

/** Exponential moving average of the throughput (the per-step value is noisy). */
export function smoothRate(previous: number | undefined, value: number, alpha = 0.1): number {
  return previous === undefined || !Number.isFinite(previous) ? value : previous + alpha * (value - previous);
}

/**
 * Plain lines through `write`: a step line at most every `minIntervalMs` (default 2 s), and
 * every epoch summary and message.
 */
export function plainTrainReporter(
  write: (line: string) => void,
  options: { minIntervalMs?: number; now?: () => number } = {},
): TrainReporter {
  const interval = options.minIntervalMs ?? 2000;
  const now = options.now ?? Date.now;
  let last = -Infinity;
  let rate: number | undefined;
  return {
    step(p) {
      rate = smoothRate(rate, p.imagesPerSec);
      const t = now();
      if (t - last < interval && p.step < p.totalSteps) return;
      last = t;
      write(formatStepLine(p, rate));
    },
    epoch(e) {
      write(formatEpochLine(e));
    },
    message(line) {
      write(line);
    },
    unmount() {},
  };
}
