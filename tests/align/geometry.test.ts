/** Similarity fit (Umeyama), affine helpers, 5-point derivation and landmark error, on hand values. */
import {
  ARCFACE_TEMPLATE_112,
  affineScale,
  applyAffine,
  composeAffine,
  fivePointsFrom68,
  invertAffine,
  normalizedLandmarkError,
  similarityFit,
  type Affine,
  type Point,
} from '../../src/align/geometry.js';
import { ArcinvertError } from '../../src/errors.js';

const close = (a: readonly number[], b: readonly number[], digits = 9): void =>
  a.forEach((v, i) => expect(v).toBeCloseTo(b[i], digits));

describe('similarityFit', () => {
  it('recovers a known rotation + scale + translation exactly', () => {
    const [s, th] = [1.7, (20 * Math.PI) / 180];
    const m: Affine = [s * Math.cos(th), -s * Math.sin(th), 5, s * Math.sin(th), s * Math.cos(th), -3];
    const dst = ARCFACE_TEMPLATE_112.map((p) => applyAffine(m, p));
    close(similarityFit(ARCFACE_TEMPLATE_112, dst), m);
    expect(affineScale(similarityFit(ARCFACE_TEMPLATE_112, dst))).toBeCloseTo(1.7, 9);
  });

  it('reproduces the similarity of a raw-samples sidecar (dlib points → template)', () => {
    // cacd_18_Ashley_Hinshaw_0006.jpg.json: landmarks5 and similarity_to_template.
    const pts: Point[] = [
      [97.33, 112.5],
      [149.33, 105.17],
      [128.0, 145.0],
      [107.0, 161.0],
      [153.0, 154.0],
    ];
    close(similarityFit(pts, ARCFACE_TEMPLATE_112), [0.715408, -0.09677, -21.66645, 0.09677, 0.715408, -37.344588], 4);
  });

  it('never reflects: a mirrored pattern gets a rotation, not a flip', () => {
    const mirrored = ARCFACE_TEMPLATE_112.map(([x, y]) => [112 - x, y] as Point);
    const m = similarityFit(ARCFACE_TEMPLATE_112, mirrored);
    expect(m[0] * m[4] - m[1] * m[3]).toBeGreaterThan(0);
    expect(m[0]).toBeCloseTo(m[4], 12);
    expect(m[1]).toBeCloseTo(-m[3], 12);
  });

  it('fits two points exactly and rejects degenerate input', () => {
    close(
      similarityFit(
        [
          [0, 0],
          [1, 0],
        ],
        [
          [1, 1],
          [1, 3],
        ],
      ),
      [0, -2, 1, 2, 0, 1],
    );
    expect(() =>
      similarityFit(
        [
          [1, 1],
          [1, 1],
        ],
        [
          [0, 0],
          [1, 0],
        ],
      ),
    ).toThrow(ArcinvertError);
    expect(() => similarityFit([[0, 0]], [[0, 0]])).toThrow(/length/);
    expect(() =>
      similarityFit(
        [
          [0, NaN],
          [1, 0],
        ],
        [
          [0, 0],
          [1, 0],
        ],
      ),
    ).toThrow(/finite/);
  });
});

describe('affine helpers', () => {
  const m: Affine = [2, -1, 3, 1, 2, -4];
  it('inverts and composes', () => {
    const inv = invertAffine(m);
    close(composeAffine(inv, m), [1, 0, 0, 0, 1, 0]);
    close(applyAffine(inv, applyAffine(m, [7, -2])), [7, -2]);
    // (2·7 − 1·(−2) + 3, 1·7 + 2·(−2) − 4) = (19, −1)
    close(applyAffine(m, [7, -2]), [19, -1]);
    expect(() => invertAffine([1, 2, 0, 2, 4, 0])).toThrow(/singular/);
  });
});

describe('fivePointsFrom68', () => {
  it('averages the eye contours and picks nose tip and mouth corners', () => {
    const pts = Array.from({ length: 68 }, (_, i) => [i, 2 * i] as Point);
    expect(fivePointsFrom68(pts)).toEqual([
      [38.5, 77],
      [44.5, 89],
      [30, 60],
      [48, 96],
      [54, 108],
    ]);
    expect(() => fivePointsFrom68(pts.slice(1))).toThrow(/68/);
  });
});

describe('normalizedLandmarkError', () => {
  it('is the mean distance over the reference eye distance', () => {
    const ref: Point[] = [
      [0, 0],
      [10, 0],
      [5, 5],
      [2, 9],
      [8, 9],
    ];
    const found: Point[] = [
      [3, 4],
      [10, 0],
      [5, 5],
      [2, 9],
      [8, 8],
    ];
    // distances 5, 0, 0, 0, 1 → mean 1.2, IOD 10
    expect(normalizedLandmarkError(found, ref)).toBeCloseTo(0.12, 12);
  });
});
