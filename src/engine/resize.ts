/**
 * Bilinear resizing with half-pixel centres whose gradient is right, and shrinking by area.
 *
 * tfjs 4.22's `ResizeBilinearGrad` (cpu and wasm) ignores `halfPixelCenters`: the gradient of
 * `tf.image.resizeBilinear(x, size, false, true)` is that of the resize without half-pixel
 * centres, a quarter-pixel off for a 2× upsampling, so an optimiser moving pixels through
 * the resize is pushed by a shifted gradient. `resizeBilinear` here computes the same
 * forward values as tfjs (its sampling positions and edge clamping) as two plain matrix
 * products, one per axis, whose gradients are exact on every backend.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The [out, in] interpolation matrix of one axis, as tfjs samples it with half-pixel centres:
 * source position f = (i + 0.5)·in/out − 0.5, rows ⌊f⌋ and ⌈f⌉ clamped to [0, in − 1],
 * weights 1 − frac and frac.
 */
export function bilinearMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const ratio = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const f = (i + 0.5) * ratio - 0.5;
    const top = Math.max(0, Math.floor(f));
    const bottom = Math.min(inSize - 1, Math.ceil(f));
    const frac = f - top;
    m[i * inSize + top] += 1 - frac;
    m[i * inSize + bottom] += frac;
  }
  return m;
}

/**
 * The [out, in] matrix of one axis that shrinks by area (a box filter): output i averages the
 * input interval [i·r, (i + 1)·r), r = in/out, each input weighted by its overlap, so every
 * input contributes (bilinear sampling skips inputs once r > 2). Upsampling (r < 1) is
 * bilinear. At r = 2 it equals the bilinear matrix (each output the mean of two inputs).
 */
export function areaMatrix(inSize: number, outSize: number): Float32Array {
  if (outSize >= inSize) return bilinearMatrix(inSize, outSize);
  const m = new Float32Array(outSize * inSize);
  const r = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const lo = i * r;
    const hi = (i + 1) * r;
    for (let k = Math.floor(lo); k < Math.min(inSize, Math.ceil(hi)); k++)
      m[i * inSize + k] = (Math.min(hi, k + 1) - Math.max(lo, k)) / r;
  }
  return m;
}

/**
 * `x` [B, H, W, C] resized to [h, w] (bilinear, half-pixel centres, no corner alignment), with
 * exact gradients; `x` itself when the size is unchanged.
 */
export function resizeBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  return separableResize(x, size, bilinearMatrix);
}

/**
 * `x` [B, H, W, C] shrunk to [h, w] by area (`areaMatrix`; bilinear along an axis that grows),
 * with exact gradients; `x` itself when the size is unchanged.
 */
export function resizeArea(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  return separableResize(x, size, areaMatrix);
}

/** `x` resized by one [out, in] matrix per axis, as two matrix products. */
function separableResize(
  x: tf.Tensor4D,
  [h, w]: readonly [number, number],
  matrix: (inSize: number, outSize: number) => Float32Array,
): tf.Tensor4D {
  const [b, H, W, c] = x.shape;
  if (h === H && w === W) return x;
  return tf.tidy(() => {
    // Columns: [B·H·C, W] × Mwᵀ → [B·H·C, w].
    const mw = tf.tensor2d(matrix(W, w), [w, W]);
    const cols = tf.matMul(tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [b * H * c, W]), mw, false, true);
    // Rows: [B·w·C, H] × Mhᵀ → [B·w·C, h].
    const mh = tf.tensor2d(matrix(H, h), [h, H]);
    const byRow = tf.transpose(tf.reshape(cols, [b, H, c, w]), [0, 3, 2, 1]);
    const rows = tf.matMul(tf.reshape(byRow, [b * w * c, H]), mh, false, true);
    return tf.transpose(tf.reshape(rows, [b, w, c, h]), [0, 3, 1, 2]) as tf.Tensor4D;
  });
}
