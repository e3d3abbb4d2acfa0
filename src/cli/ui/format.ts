/**
 * Pure text helpers shared by the terminal UI and the plain-line reporter: durations, bars,
 * sparklines and compact numbers. No Ink, no I/O.
 */

const SPARK = '▁▂▃▄▅▆▇█';

/**
 * A duration for humans: `'12s'`, `'3m05s'`, `'1h02m'` (hours drop the seconds).
 * Rounds to whole seconds first; negative or non-finite input gives `'—'`.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  if (total < 3600) {
    const m = Math.floor(total / 60);
    return `${m}m${String(total % 60).padStart(2, '0')}s`;
  }
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${h}h${String(m).padStart(2, '0')}m`;
}

/**
 * A bar of exactly `width` characters, `'█'` for the done part and `'░'` for the rest.
 * `fraction` is clamped to [0, 1] (non-finite counts as 0); the filled length is rounded down,
 * so the bar is only full at 1.
 */
export function progressBar(fraction: number, width: number): string {
  const w = Math.max(0, Math.floor(width));
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  // The epsilon keeps e.g. 0.3 × 10 = 2.9999… from losing a cell.
  const filled = Math.min(w, Math.floor(f * w + 1e-9));
  return '█'.repeat(filled) + '░'.repeat(w - filled);
}

/**
 * A sparkline of the last `width` values, one of `▁▂▃▄▅▆▇█` each, scaled from their min (▁)
 * to their max (█). Non-finite values show as a space and are left out of the scale; a flat
 * series is all `▁`. The result has `min(values.length, width)` characters.
 */
export function sparkline(values: readonly number[], width: number): string {
  const w = Math.max(0, Math.floor(width));
  if (w === 0) return '';
  const tail = values.slice(-w);
  const finite = tail.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return ' '.repeat(tail.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of finite) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  return tail
    .map((v) => {
      if (!Number.isFinite(v)) return ' ';
      const level = span > 0 ? Math.round(((v - lo) / span) * (SPARK.length - 1)) : 0;
      return SPARK[level];
    })
    .join('');
}

/**
 * A compact number with `significant` digits (default 4): `0.4123`, `1.234`, `1235`.
 * Magnitudes below 1e-3, or with more integer digits than `significant`, use an exponent
 * (`1.234e-4`, `1.235e4`); exactly 0 is `'0'`; non-finite values are `'nan'`, `'inf'`, `'-inf'`.
 */
export function formatNumber(x: number, significant = 4): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return '0';
  const digits = Math.min(21, Math.max(1, Math.floor(significant)));
  const text = Math.abs(x) < 1e-3 ? x.toExponential(digits - 1) : x.toPrecision(digits);
  return text.replace('e+', 'e');
}

/** A cosine similarity with three decimals (`0.812`, `-0.054`); non-finite as in formatNumber. */
export function formatCosine(c: number): string {
  return Number.isFinite(c) ? c.toFixed(3) : formatNumber(c);
}

/** The label of one inverted image, as the UI lists it: `'target 3 seed 0'`. */
export function imageLabel(target: number, seed: number): string {
  return `target ${target} seed ${seed}`;
}

/** The line for a finished image: `'✓ target 3 seed 0  best cos 0.812'`. */
export function formatFinished(label: string, bestCosine: number): string {
  return `✓ ${label}  best cos ${formatCosine(bestCosine)}`;
}
