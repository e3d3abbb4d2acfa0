/**
 * What the optimiser moves: the image parametrisation (Olah et al., *Feature Visualization*,
 * Distill 2017, "preconditioning"; Lucid's `image.py` / `color.py`).
 *
 * - `pixel` + `rgb`: the pixels themselves in [−1, 1], clipped after every step (DeepInversion,
 *   ArcFace). Raw-pixel RGB optimisation lets every pixel and channel move alike, which is
 *   where high-frequency magenta/green textures come from.
 * - `fourier`: the coefficients of an orthonormal 2-D cosine basis (DCT-II) per channel,
 *   scaled by 1/f^decay (f in cycles per pixel, floored at 1/max(H, W)): an equal Adam step
 *   on every coefficient then moves low frequencies far more than high ones, so the image
 *   grows coarse-to-fine with natural-image statistics. The DCT is used instead of Lucid's
 *   real FFT (the same frequency axis, real and matmul-only, and differentiable on every
 *   backend); the basis is unitary, as Lucid's √(HW)-scaled FFT is.
 * - `decorrelated` colour: three uncorrelated channels mixed into RGB by the square root of
 *   real faces' pixel covariance (`colour.ts`), around their mean colour.
 *
 * Any parametrisation other than pixel + rgb renders through tanh, centred so that zero
 * parameters give the mean face colour: pixels stay in (−1, 1) without clipping.
 */
import * as tf from '@tensorflow/tfjs';
import { colourMixing, FACE_COLOUR, type ColourStatistics } from './colour.js';

export type Parametrisation = 'pixel' | 'fourier';
export const PARAMETRISATIONS: readonly Parametrisation[] = ['pixel', 'fourier'];
export type ColourSpace = 'rgb' | 'decorrelated';
export const COLOUR_SPACES: readonly ColourSpace[] = ['rgb', 'decorrelated'];

/** Starting standard deviation of the Fourier coefficients (Lucid's `sd`). */
export const FOURIER_INIT_STD = 0.01;
/** Overall scale of the rendered spectrum (Lucid divides its FFT image by 4). */
const FOURIER_GAIN = 0.25;

/** The orthonormal DCT-II matrix D [n, n]: D[k][i] = α_k cos(π (2i + 1) k / 2n); D Dᵀ = I. */
export function dctMatrix(n: number): Float32Array {
  const d = new Float32Array(n * n);
  for (let k = 0; k < n; k++) {
    const a = Math.sqrt((k === 0 ? 1 : 2) / n);
    for (let i = 0; i < n; i++) d[k * n + i] = a * Math.cos((Math.PI * (2 * i + 1) * k) / (2 * n));
  }
  return d;
}

/** Per-coefficient gain [h, w]: FOURIER_GAIN / max(f, 1/max(h, w))^decay, f = √((u/2h)² + (v/2w)²). */
export function spectrumScale(h: number, w: number, decay: number): Float32Array {
  const s = new Float32Array(h * w);
  const floor = 1 / Math.max(h, w);
  for (let u = 0; u < h; u++)
    for (let v = 0; v < w; v++) {
      const f = Math.hypot(u / (2 * h), v / (2 * w));
      s[u * w + v] = FOURIER_GAIN / Math.max(f, floor) ** decay;
    }
  return s;
}

/** How parameters become images, for one resolution. */
export interface ImageParam {
  readonly parametrisation: Parametrisation;
  readonly colour: ColourSpace;
  /** True for pixel + rgb, whose parameters are the images (clipped after each step). */
  readonly identity: boolean;
  /** Images [B, h, w, 3] in [−1, 1] from parameters [B, h, w, 3] (differentiable). */
  render(p: tf.Tensor4D): tf.Tensor4D;
  dispose(): void;
}

export interface ImageParamOptions {
  parametrisation: Parametrisation;
  colour: ColourSpace;
  /** Exponent of the 1/f spectrum scale (Lucid: 1). */
  fourierDecay: number;
  statistics?: ColourStatistics;
}

/** The parametrisation at resolution [h, w]; owns its constant tensors. */
export function createImageParam(o: ImageParamOptions, h: number, w: number): ImageParam {
  if (o.parametrisation === 'pixel' && o.colour === 'rgb') {
    return { parametrisation: 'pixel', colour: 'rgb', identity: true, render: (p) => p, dispose: () => undefined };
  }
  const stats = o.statistics ?? FACE_COLOUR;
  const fourier = o.parametrisation === 'fourier';
  const mix = tf.tensor2d(o.colour === 'decorrelated' ? colourMixing(stats) : [1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3]);
  // tanh(centre) is the mean colour in rgb and the mean face colour in the decorrelated space.
  const centre = tf.tensor1d(stats.mean.map((m) => Math.atanh(Math.max(-0.99, Math.min(0.99, m)))));
  const dh = fourier ? tf.tensor2d(dctMatrix(h), [h, h]) : null;
  const dw = fourier ? tf.tensor2d(dctMatrix(w), [w, w]) : null;
  const scale = fourier ? tf.tensor4d(spectrumScale(h, w, o.fourierDecay), [1, h, w, 1]) : null;
  const owned = [mix, centre, ...(fourier ? [dh!, dw!, scale!] : [])];
  return {
    parametrisation: o.parametrisation,
    colour: o.colour,
    identity: false,
    render: (p) =>
      tf.tidy(() => {
        const b = p.shape[0];
        const channels = fourier ? inverseDct2d(tf.mul(p, scale!) as tf.Tensor4D, dh!, dw!) : p;
        const rgb = tf.matMul(tf.reshape(channels, [-1, 3]), mix, false, true);
        return tf.tanh(tf.add(rgb, centre)).reshape([b, h, w, 3]) as tf.Tensor4D;
      }),
    dispose: () => tf.dispose(owned),
  };
}

/** X[b, :, :, c] = D_hᵀ · C[b, :, :, c] · D_w for coefficients C [B, h, w, C], as two plain matmuls. */
function inverseDct2d(c: tf.Tensor4D, dh: tf.Tensor2D, dw: tf.Tensor2D): tf.Tensor4D {
  const [b, h, w, ch] = c.shape;
  // Along w: rows of [B·C·h, w] times D_w.
  const byRow = tf.matMul(tf.reshape(tf.transpose(c, [0, 3, 1, 2]), [b * ch * h, w]), dw);
  // Along h: rows of [B·C·w, h] times D_h.
  const t = tf.reshape(tf.transpose(tf.reshape(byRow, [b * ch, h, w]), [0, 2, 1]), [b * ch * w, h]);
  const byCol = tf.matMul(t, dh);
  return tf.transpose(tf.reshape(byCol, [b, ch, w, h]), [0, 3, 2, 1]) as tf.Tensor4D;
}

/**
 * Starting parameters for B images at [h, w]: `draw(k, std)` draws image k's normal noise
 * [h, w, 3] of standard deviation `std` (seeded per job). Pixel + rgb: `initStd`, clipped to
 * [−1, 1]; pixel + decorrelated: `initStd`; Fourier: FOURIER_INIT_STD.
 */
export function initialParams(
  param: ImageParam,
  draw: (k: number, std: number) => tf.Tensor3D,
  b: number,
  initStd: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const std = param.parametrisation === 'fourier' ? FOURIER_INIT_STD : initStd;
    const x = tf.stack(Array.from({ length: b }, (_, k) => draw(k, std))) as tf.Tensor4D;
    return param.identity ? (tf.clipByValue(x, -1, 1) as tf.Tensor4D) : x;
  });
}
