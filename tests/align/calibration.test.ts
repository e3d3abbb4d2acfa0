/** Landmark-convention offsets in the template frame, and the aligner's config validation. */
import {
  FACEAPI_TO_DLIB_OFFSETS_112,
  applyTemplateOffsets,
  estimateTemplateOffsets,
} from '../../src/align/calibration.js';
import { DEFAULT_ALIGN_CONFIG, resolveAlignConfig } from '../../src/align/config.js';
import { summarizeSidecars, type SidecarResult } from '../../src/align/evaluate.js';
import { ARCFACE_TEMPLATE_112, applyAffine, invertAffine, type Affine, type Point } from '../../src/align/geometry.js';

const offsets: Point[] = [
  [0.5, -1],
  [-0.25, -1],
  [0, 1.25],
  [0.5, 0],
  [-0.5, 0],
];
const faces: Affine[] = [
  [0.5, -0.1, -10, 0.1, 0.5, -20],
  [0.3, 0.05, 5, -0.05, 0.3, -7],
];

describe('template offsets', () => {
  // Found points map exactly onto the template; the references sit `offsets` away from it.
  const found = faces.map((s) => ARCFACE_TEMPLATE_112.map((p) => applyAffine(invertAffine(s), p)));
  const reference = faces.map((s) =>
    ARCFACE_TEMPLATE_112.map((p, i) => applyAffine(invertAffine(s), [p[0] - offsets[i][0], p[1] - offsets[i][1]])),
  );

  it('estimates the mean offset in the template frame', () => {
    estimateTemplateOffsets(found, reference).forEach((o, i) => {
      expect(o[0]).toBeCloseTo(offsets[i][0], 9);
      expect(o[1]).toBeCloseTo(offsets[i][1], 9);
    });
  });

  it('removing the offsets gives the reference points', () => {
    found.forEach((pts, f) =>
      applyTemplateOffsets(pts, offsets).forEach((p, i) => {
        expect(p[0]).toBeCloseTo(reference[f][i][0], 9);
        expect(p[1]).toBeCloseTo(reference[f][i][1], 9);
      }),
    );
  });

  it('leaves points alone with zero offsets; the shipped table is small', () => {
    const zero = offsets.map(() => [0, 0] as Point);
    applyTemplateOffsets(found[0], zero).forEach((p, i) => {
      expect(p[0]).toBeCloseTo(found[0][i][0], 9);
      expect(p[1]).toBeCloseTo(found[0][i][1], 9);
    });
    for (const [x, y] of FACEAPI_TO_DLIB_OFFSETS_112) expect(Math.hypot(x, y)).toBeLessThan(2);
    expect(() => estimateTemplateOffsets([], [])).toThrow(/non-zero/);
  });
});

describe('summarizeSidecars', () => {
  // Three faces found exactly on the template; references `offsets` away, but the third
  // reference is wrong (its mouth corners 10 template px lower). One photo is not detected.
  const sims: Affine[] = [...faces, [0.4, 0, -3, 0, 0.4, -4]];
  const results: SidecarResult[] = sims.map((s, f) => ({
    file: `/photos/p${f}.jpg`,
    detected: true,
    found: ARCFACE_TEMPLATE_112.map((p) => applyAffine(invertAffine(s), p)),
    reference: ARCFACE_TEMPLATE_112.map((p, i) =>
      applyAffine(invertAffine(s), [p[0] - offsets[i][0], p[1] - offsets[i][1] + (f === 2 && i >= 3 ? 10 : 0)]),
    ),
  }));
  results.push({ file: '/photos/none.jpg', detected: false, reference: results[0].reference });

  it('leaves a known-bad reference out of the fit and the means, and reports it', () => {
    const s = summarizeSidecars(
      results.map((r) => ({ ...r })),
      false,
      { 'p2.jpg': 'wrong mouth' },
    );
    expect([s.photos, s.detected, s.detectionRate, s.excluded]).toEqual([4, 3, 0.75, ['p2.jpg']]);
    // The fit on the two right references recovers the offsets exactly, so leave-one-out is 0.
    s.offsets.forEach((o, i) => {
      expect(o[0]).toBeCloseTo(offsets[i][0], 9);
      expect(o[1]).toBeCloseTo(offsets[i][1], 9);
    });
    expect(s.meanLeaveOneOutError).toBeCloseTo(0, 9);
    // Uncalibrated, each right face is off by its offsets: the mean over those two only.
    const own = results
      .slice(0, 2)
      .map(
        (r) =>
          r.found!.reduce((a, p, i) => a + Math.hypot(p[0] - r.reference[i][0], p[1] - r.reference[i][1]), 0) /
          5 /
          Math.hypot(r.reference[1][0] - r.reference[0][0], r.reference[1][1] - r.reference[0][1]),
      );
    expect(s.meanRawError).toBeCloseTo((own[0] + own[1]) / 2, 9);
    expect(s.all.meanRawError).toBeGreaterThan(s.meanRawError);
    const all = summarizeSidecars(
      results.map((r) => ({ ...r })),
      false,
    );
    expect(all.excluded).toEqual([]);
    expect(all.meanRawError).toBeCloseTo(s.all.meanRawError, 9);
    expect(all.offsets[3][1]).not.toBeCloseTo(offsets[3][1], 1);
  });
});

describe('resolveAlignConfig', () => {
  it('fills defaults and rejects unknown keys and bad values', () => {
    expect(resolveAlignConfig()).toEqual(DEFAULT_ALIGN_CONFIG);
    expect(resolveAlignConfig({ refineIterations: 0 }).refineIterations).toBe(0);
    expect(() => resolveAlignConfig({ nope: 1 } as never)).toThrow(/unknown key 'nope'/);
    expect(() => resolveAlignConfig({ minConfidence: 2 })).toThrow(/minConfidence/);
    expect(() => resolveAlignConfig({ ttaScales: [] })).toThrow(/ttaScales/);
    expect(() => resolveAlignConfig({ refineIterations: 1.5 })).toThrow(/refineIterations/);
  });
});
