/**
 * Colour statistics of real face photos, for the decorrelated colour space of the inversion's
 * image parametrisation (Olah et al., *Feature Visualization*, Distill 2017; Lucid's
 * `color.py`): the optimiser moves three uncorrelated channels, and a fixed 3×3 matrix — the
 * square root of the pixel covariance of real faces — mixes them into RGB. Independent,
 * equally sized steps on the three channels then make the colour changes real faces make
 * (mostly luminance, then skin-tone hue) instead of saturated magenta/green ones.
 *
 * The statistics are a property of aligned face photos, not of a model, so they are computed
 * once from the training faces and shipped here (`FACE_COLOUR`, `faceColourStatistics`).
 */
import { decodeRgb } from '../io/image.js';
import { symmetricEigen } from '../util/eigen.js';

/** Mean RGB and RGB covariance of pixels in [−1, 1] ((byte − 127.5) / 127.5). */
export interface ColourStatistics {
  mean: [number, number, number];
  /** Row-major 3×3. */
  covariance: number[];
}

/**
 * Of the 112×112 aligned training faces in ../shared/data/train: 2,000 images, one in nine
 * of the ImageFolder listing in sorted order (`scripts/face-colour.mjs`). The covariance is
 * dominated by luminance (the first eigenvalue is 94.7 % of the trace).
 */
export const FACE_COLOUR: Readonly<ColourStatistics> = {
  mean: [0.0893072, -0.160987, -0.287647],
  covariance: [0.335481, 0.271514, 0.237119, 0.271514, 0.248697, 0.228019, 0.237119, 0.228019, 0.225113],
};

/** Pixel statistics over `files` (decoded at their own size). */
export async function faceColourStatistics(files: readonly string[]): Promise<ColourStatistics> {
  const s = [0, 0, 0];
  const ss = new Array<number>(9).fill(0);
  let n = 0;
  for (const file of files) {
    const { data } = await decodeRgb(file);
    for (let k = 0; k < data.length; k += 3) {
      const v = [(data[k] - 127.5) / 127.5, (data[k + 1] - 127.5) / 127.5, (data[k + 2] - 127.5) / 127.5];
      for (let i = 0; i < 3; i++) {
        s[i] += v[i];
        for (let j = 0; j < 3; j++) ss[i * 3 + j] += v[i] * v[j];
      }
    }
    n += data.length / 3;
  }
  const mean = s.map((v) => v / n) as [number, number, number];
  const covariance = ss.map((v, k) => v / n - mean[Math.floor(k / 3)] * mean[k % 3]);
  return { mean, covariance };
}

/** Eigen-decomposition of a symmetric 3×3 matrix (cyclic Jacobi): values descending, vectors as columns. */
export function symmetricEigen3(a: readonly number[]): { values: number[]; vectors: number[] } {
  return symmetricEigen(a, 3);
}

/**
 * The colour-mixing matrix M (row-major 3×3): rgb = M · channels. M = U·√Λ of the covariance,
 * divided by its largest column norm (Lucid's `color_correlation_normalized`), so a unit step
 * on the luminance channel is a unit step in RGB and M·Mᵀ is proportional to the covariance.
 */
export function colourMixing(stats: ColourStatistics): number[] {
  const { values, vectors } = symmetricEigen3(stats.covariance);
  const m = vectors.map((u, k) => u * Math.sqrt(Math.max(0, values[k % 3])));
  const maxNorm = Math.max(...[0, 1, 2].map((j) => Math.hypot(m[j], m[3 + j], m[6 + j])));
  return m.map((x) => x / maxNorm);
}
