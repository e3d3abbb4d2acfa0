/**
 * The reporter for a non-interactive stdout (pipes, CI, log files): one plain text line or one
 * JSON object per progress event, no escape sequences and no preview pixels.
 */
import type { InvertProgress } from '../../invert/types.js';
import { formatCosine, formatDuration, formatFinished, formatNumber } from './format.js';

/**
 * One line for a progress event, batches 1-based:
 * `batch 1/2 step 120/400 res 112x112 lr 0.050 loss 0.4123 id 0.2100 bn 1.234 tv 0.01234 l2 0.1234
 * cos 0.790 [0.700..0.850] (best 0.810) 12.3 step/s eta 3m05s` (on one line).
 */
export function formatProgressLine(p: InvertProgress): string {
  const l = p.losses;
  const c = p.cosine;
  return [
    `batch ${p.batch + 1}/${p.batches}`,
    `step ${p.step}/${p.steps}`,
    `res ${p.resolution[0]}x${p.resolution[1]}`,
    `lr ${formatNumber(p.lr, 2)}`,
    `loss ${formatNumber(l.total)}`,
    `id ${formatNumber(l.identity)}`,
    `bn ${formatNumber(l.bn)}`,
    `tv ${formatNumber(l.tvL1)}/${formatNumber(l.tvL2)}`,
    `l2 ${formatNumber(l.l2)}`,
    `cos ${formatCosine(c.mean)} [${formatCosine(c.min)}..${formatCosine(c.max)}] (best ${formatCosine(c.bestMean)})`,
    `${formatNumber(p.stepsPerSecond, 3)} step/s`,
    `eta ${formatDuration(p.etaSeconds)}`,
  ].join(' ');
}

/** The progress event as one line of JSON, without `preview` (non-finite numbers become null). */
export function formatProgressJson(p: InvertProgress): string {
  const { preview: _preview, ...rest } = p;
  return JSON.stringify(rest);
}

/** What a reporter is told: progress events, finished images, and the end. */
export interface ProgressReporter {
  update(p: InvertProgress): void;
  finish(item: { label: string; bestCosine: number }): void;
  unmount(): void;
}

export interface PlainReporterOptions {
  /** Write JSON lines instead of text lines. */
  json?: boolean;
  /**
   * Write at most one progress line per this many milliseconds (default 0: every event);
   * the last step of a batch is always written.
   */
  minIntervalMs?: number;
  /** Clock in milliseconds, for tests (default `Date.now`). */
  now?: () => number;
}

/**
 * A reporter that writes plain lines through `write` (one call per line, no newline): the
 * progress lines above, and `formatFinished` (text) or `{"finished":…}` (JSON) per image.
 */
export function plainReporter(write: (line: string) => void, options: PlainReporterOptions = {}): ProgressReporter {
  const interval = options.minIntervalMs ?? 0;
  const now = options.now ?? Date.now;
  let last = -Infinity;
  return {
    update(p) {
      const t = now();
      if (p.step < p.steps && t - last < interval) return;
      last = t;
      write(options.json ? formatProgressJson(p) : formatProgressLine(p));
    },
    finish(item) {
      write(options.json ? JSON.stringify({ finished: item }) : formatFinished(item.label, item.bestCosine));
    },
    unmount() {},
  };
}
