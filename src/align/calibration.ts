/**
 * Landmark-convention calibration. arcinvert's data was aligned with dlib's 68-point shape
 * predictor; face-api's 68-point net, trained on other annotations, places the 5 derived
 * points with a small systematic offset (its eye centres sit ~0.9 template px higher, its
 * nose tip ~1.3 px lower and its mouth corners ~0.5 px wider than dlib's). Expressed in the
 * 112×112 template frame, where it does not depend on face size or roll, the offset is a
 * fixed 5×2 table; removing it makes our crops match the data's.
 *
 * `estimateTemplateOffsets` measures the table (mean over faces of S(found) − S(reference),
 * S = the similarity of the found points onto the template); `applyTemplateOffsets` removes
 * it. The table below was measured on the 59 photos of ../shared/data/raw-samples whose
 * reference is right (`KNOWN_BAD_REFERENCES`) with the default AlignConfig (docs/LEAKAGE.md
 * has the leave-one-out error).
 */
import { ArcinvertError } from '../errors.js';
import { ARCFACE_TEMPLATE_112, applyAffine, invertAffine, similarityFit, type Point } from './geometry.js';

/** face-api − dlib, per ArcFace point, in 112×112 template pixels. */
export const FACEAPI_TO_DLIB_OFFSETS_112: readonly Point[] = [
  [-0.094, -0.894],
  [-0.038, -0.956],
  [0.134, 1.322],
  [0.448, 0.008],
  [-0.543, 0.035],
];

/**
 * Removes per-point `offsets` (template pixels) from 5 points: p′ = S⁻¹(S·p − o) with S the
 * similarity of `points` onto the ArcFace template.
 */
export function applyTemplateOffsets(
  points: readonly Point[],
  offsets: readonly Point[],
  template: readonly Point[] = ARCFACE_TEMPLATE_112,
): Point[] {
  if (points.length !== offsets.length || points.length !== template.length) {
    throw new ArcinvertError(`need ${template.length} points and offsets, got ${points.length} and ${offsets.length}`);
  }
  const s = similarityFit(points, template);
  const back = invertAffine(s);
  return points.map((p, i) => {
    const q = applyAffine(s, p);
    return applyAffine(back, [q[0] - offsets[i][0], q[1] - offsets[i][1]]);
  });
}

/**
 * Mean offset of `found` from `reference` in the template frame of each face's found points.
 * @param found per face, 5 points in photo pixels; @param reference the same faces' reference points.
 */
export function estimateTemplateOffsets(
  found: readonly (readonly Point[])[],
  reference: readonly (readonly Point[])[],
  template: readonly Point[] = ARCFACE_TEMPLATE_112,
): Point[] {
  if (found.length === 0 || found.length !== reference.length) {
    throw new ArcinvertError(
      `need the same non-zero number of found and reference faces, got ${found.length} and ${reference.length}`,
    );
  }
  const sum = template.map(() => [0, 0]);
  found.forEach((pts, f) => {
    const s = similarityFit(pts, template);
    pts.forEach((p, i) => {
      const a = applyAffine(s, p);
      const b = applyAffine(s, reference[f][i]);
      sum[i][0] += a[0] - b[0];
      sum[i][1] += a[1] - b[1];
    });
  });
  return sum.map(([x, y]) => [x / found.length, y / found.length] as Point);
}
