/**
 * Geometry of ArcFace alignment (Deng et al. 2019, insightface `utils/face_align.py`
 * `estimate_norm` + `norm_crop`): the 5-point template of the 112×112 crop, the 5 points
 * derived from 68 iBUG landmarks, and the least-squares similarity transform of Umeyama
 * (1991, "Least-squares estimation of transformation parameters between two point
 * patterns"), rotation + uniform scale + translation, reflection excluded.
 *
 * Coordinates are pixels, x right, y down, pixel centres at integers (as cv2 and dlib). An
 * affine transform is a row-major 2×3 matrix `[a, b, tx, c, d, ty]` mapping (x, y) to
 * (a·x + b·y + tx, c·x + d·y + ty). Pure functions, no tensors.
 */
import { ArcinvertError } from '../errors.js';

/** A point [x, y] in pixels. */
export type Point = readonly [number, number];

/** Row-major 2×3 affine matrix `[a, b, tx, c, d, ty]`. */
export type Affine = readonly [number, number, number, number, number, number];

/**
 * The ArcFace 112×112 template (insightface `arcface_dst`): left eye centre, right eye
 * centre, nose tip, left mouth corner, right mouth corner; "left" = image left.
 */
export const ARCFACE_TEMPLATE_112: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** Side of the aligned crop the template belongs to, in pixels. */
export const ARCFACE_CROP_SIZE = 112;

/**
 * The 5 ArcFace points from 68 iBUG landmarks (0-based indices, as dlib and face-api):
 * eye centres = mean of 36–41 and 42–47, nose tip = 30, mouth corners = 48 and 54.
 *
 * @param landmarks68 68 points in image pixels.
 * @returns 5 points in template order.
 */
export function fivePointsFrom68(landmarks68: readonly Point[]): Point[] {
  if (landmarks68.length !== 68) throw new ArcinvertError(`expected 68 landmarks, got ${landmarks68.length}`);
  const mean = (from: number, to: number): Point => {
    let x = 0;
    let y = 0;
    for (let i = from; i <= to; i++) {
      x += landmarks68[i][0];
      y += landmarks68[i][1];
    }
    return [x / (to - from + 1), y / (to - from + 1)];
  };
  return [mean(36, 41), mean(42, 47), landmarks68[30], landmarks68[48], landmarks68[54]];
}

/**
 * Least-squares similarity `dst ≈ s·R·src + t` with R a rotation (det +1), Umeyama's method.
 * In 2-D it has a closed form: writing points as complex numbers, the centred
 * `z = Σ conj(x̃)·ỹ / Σ|x̃|²` gives s·R = [[Re z, −Im z], [Im z, Re z]] and
 * t = ȳ − s·R·x̄ (the same minimiser as the SVD with the reflection correction).
 *
 * @param src n ≥ 2 points; @param dst the n corresponding points.
 * @returns the affine matrix mapping `src` onto `dst`.
 * @throws ArcinvertError when the counts differ, n < 2, a value is not finite, or all
 *   `src` points coincide.
 */
export function similarityFit(src: readonly Point[], dst: readonly Point[]): Affine {
  if (src.length !== dst.length || src.length < 2) {
    throw new ArcinvertError(
      `similarity fit needs two lists of the same length ≥ 2, got ${src.length} and ${dst.length}`,
    );
  }
  if (![...src, ...dst].every((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]))) {
    throw new ArcinvertError('similarity fit: a landmark is not a finite number');
  }
  const n = src.length;
  const mean = (ps: readonly Point[]): Point => [
    ps.reduce((a, p) => a + p[0], 0) / n,
    ps.reduce((a, p) => a + p[1], 0) / n,
  ];
  const [mx, my] = mean(src);
  const [nx, ny] = mean(dst);
  let re = 0;
  let im = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const xa = src[i][0] - mx;
    const ya = src[i][1] - my;
    const xb = dst[i][0] - nx;
    const yb = dst[i][1] - ny;
    re += xa * xb + ya * yb;
    im += xa * yb - ya * xb;
    norm += xa * xa + ya * ya;
  }
  if (!(norm > 1e-12)) throw new ArcinvertError('similarity fit: the source points all coincide');
  const a = re / norm;
  const b = im / norm;
  return [a, -b, nx - (a * mx - b * my), b, a, ny - (b * mx + a * my)];
}

/** Applies `m` to a point. */
export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

/** The inverse transform. @throws ArcinvertError when `m` is singular. */
export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (!(Math.abs(det) > 1e-12)) throw new ArcinvertError('affine transform is singular');
  const ia = d / det;
  const ib = -b / det;
  const ic = -c / det;
  const id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/** `outer ∘ inner`: first `inner`, then `outer`. */
export function composeAffine(outer: Affine, inner: Affine): Affine {
  const [a, b, tx, c, d, ty] = outer;
  const [e, f, ux, g, h, uy] = inner;
  return [a * e + b * g, a * f + b * h, a * ux + b * uy + tx, c * e + d * g, c * f + d * h, c * ux + d * uy + ty];
}

/** Uniform scale of a similarity, √|det|. */
export function affineScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/** Euclidean distance between two points. */
export function distance(p: Point, q: Point): number {
  return Math.hypot(p[0] - q[0], p[1] - q[1]);
}

/**
 * Mean point-to-point distance divided by the reference inter-ocular distance (the distance
 * between the first two reference points, the eye centres): the usual normalised landmark error.
 */
export function normalizedLandmarkError(found: readonly Point[], reference: readonly Point[]): number {
  if (found.length !== reference.length || reference.length < 2) {
    throw new ArcinvertError(
      `landmark error needs two lists of the same length ≥ 2, got ${found.length} and ${reference.length}`,
    );
  }
  const iod = distance(reference[0], reference[1]);
  const mean = found.reduce((a, p, i) => a + distance(p, reference[i]), 0) / found.length;
  return mean / iod;
}
