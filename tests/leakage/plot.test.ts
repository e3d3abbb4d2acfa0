/** Score histograms of the leakage report (src/leakage/plot.ts): bin fractions by hand, the SVG's marks, the PNG. */
import sharp from 'sharp';
import { histogram, scoreHistogramSvg, svgToPng } from '../../src/leakage/plot.js';

test('histogram: fractions per equal bin, out-of-range values in the end bins', () => {
  // Bins over [0, 1] of width 0.25: 0.1 → 0, 0.3 → 1, 0.3 → 1, 0.99 → 3, 1.5 → 3 (clamped), −2 → 0 (clamped).
  expect(histogram([0.1, 0.3, 0.3, 0.99, 1.5, -2], 4, 0, 1)).toEqual([2 / 6, 2 / 6, 0, 2 / 6]);
  expect(histogram([], 3, 0, 1)).toEqual([0, 0, 0]);
});

test('the SVG marks each threshold and counts each series; it renders to a 720×360 PNG', async () => {
  const svg = scoreHistogramSvg(
    'attacked (white-box): <tiny>',
    { genuine: [0.8, 0.9], impostor: [0.1, 0.2, 0.3], typeI: [0.95], typeII: [] },
    [
      { fmr: 1e-3, threshold: 0.31, reachedFmr: 0, impostors: 3, allowed: 0 },
      { fmr: 1e-2, threshold: 0.25, reachedFmr: 1 / 3, impostors: 3, allowed: 0 },
    ],
  );
  expect(svg).toContain('attacked (white-box): &lt;tiny&gt;');
  expect(svg).toContain('FMR 1e-3: 0.310');
  expect(svg).toContain('FMR 1e-2: 0.250');
  expect(svg).toContain('impostor pairs (n = 3)');
  expect(svg).toContain('reconstruction vs other photos (type-II) (n = 0)');
  // Three non-empty series are drawn (the empty type-II is not).
  expect(svg.match(/<polyline/g)).toHaveLength(3);
  const meta = await sharp(await svgToPng(svg)).metadata();
  expect([meta.format, meta.width, meta.height]).toEqual(['png', 720, 360]);
});
