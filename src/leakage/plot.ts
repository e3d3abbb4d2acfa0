/**
 * Score histograms for the leakage report, one per system: genuine pairs, impostor pairs and
 * reconstructions (type-I, type-II) as density outlines over the cosine range, with the
 * thresholds at each FMR marked. Drawn as SVG text (pure) and rendered to PNG with sharp.
 */
import sharp from 'sharp';
import type { FmrThreshold } from './sar.js';
import { formatFmr } from './units.js';

/** The score samples of one system. */
export interface ScoreDistributions {
  genuine: readonly number[];
  impostor: readonly number[];
  typeI: readonly number[];
  typeII: readonly number[];
}

const SERIES: ReadonlyArray<{ key: keyof ScoreDistributions; label: string; colour: string; dash?: string }> = [
  { key: 'impostor', label: 'impostor pairs', colour: '#7f7f7f' },
  { key: 'genuine', label: 'genuine pairs', colour: '#1f77b4' },
  { key: 'typeI', label: 'reconstruction vs its photo (type-I)', colour: '#d62728' },
  { key: 'typeII', label: 'reconstruction vs other photos (type-II)', colour: '#ff7f0e', dash: '5,3' },
];

/**
 * Normalised histogram: fraction of `values` in each of `bins` equal bins over [lo, hi]
 * (values outside are clamped into the end bins).
 */
export function histogram(values: readonly number[], bins: number, lo: number, hi: number): number[] {
  const h = new Array<number>(bins).fill(0);
  for (const v of values) h[Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)))]++;
  return values.length ? h.map((c) => c / values.length) : h;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The SVG of one system's histogram.
 * @param title e.g. "dlib-resnet (transfer)".
 */
export function scoreHistogramSvg(
  title: string,
  d: ScoreDistributions,
  thresholds: readonly FmrThreshold[],
  bins = 50,
): string {
  const [W, H] = [720, 360];
  const m = { l: 56, r: 16, t: 34, b: 84 };
  const [pw, ph] = [W - m.l - m.r, H - m.t - m.b];
  const all = SERIES.flatMap((s) => d[s.key]);
  const lo = Math.max(-1, Math.floor((Math.min(...all, 0) - 0.05) * 10) / 10);
  const hi = 1;
  const hists = SERIES.map((s) => histogram(d[s.key], bins, lo, hi));
  const top = Math.max(1e-9, ...hists.flat()) * 1.08;
  const x = (v: number): number => m.l + ((v - lo) / (hi - lo)) * pw;
  const y = (f: number): number => m.t + ph - (f / top) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + ph}" stroke="black"/>`,
  ];
  for (let t = Math.ceil(lo * 5) / 5; t <= hi + 1e-9; t += 0.2) {
    parts.push(
      `<line x1="${x(t).toFixed(1)}" y1="${m.t + ph}" x2="${x(t).toFixed(1)}" y2="${m.t + ph + 4}" stroke="black"/>`,
    );
    parts.push(`<text x="${x(t).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${t.toFixed(1)}</text>`);
  }
  parts.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 32}" text-anchor="middle">cosine score</text>`);
  parts.push(
    `<text x="14" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 14 ${m.t + ph / 2})">fraction per bin</text>`,
  );
  SERIES.forEach((s, k) => {
    if (d[s.key].length === 0) return;
    const pts: string[] = [];
    hists[k].forEach((f, i) => {
      const [x0, x1] = [x(lo + ((hi - lo) * i) / bins), x(lo + ((hi - lo) * (i + 1)) / bins)];
      pts.push(`${x0.toFixed(1)},${y(f).toFixed(1)}`, `${x1.toFixed(1)},${y(f).toFixed(1)}`);
    });
    parts.push(
      `<polyline fill="none" stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.join(' ')}"/>`,
    );
  });
  thresholds.forEach((t, i) => {
    const tx = x(t.threshold).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${m.t}" x2="${tx}" y2="${m.t + ph}" stroke="black" stroke-dasharray="2,3"/>`);
    parts.push(
      `<text x="${tx}" y="${m.t + 12 + 14 * i}" text-anchor="end" dx="-3">FMR ${formatFmr(t.fmr)}: ${t.threshold.toFixed(3)}</text>`,
    );
  });
  SERIES.forEach((s, k) => {
    const lx = m.l + (k % 2) * (pw / 2);
    const ly = H - 30 + Math.floor(k / 2) * 16;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    parts.push(`<text x="${lx + 30}" y="${ly}">${esc(`${s.label} (n = ${d[s.key].length})`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** PNG bytes of an SVG document (sharp's librsvg). */
export function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
