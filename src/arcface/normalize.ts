/**
 * Normalisation and cosine on the unit hypersphere (ArcFace, Deng et al. 2019, Sec. 2.1:
 * embeddings and class centres are L2-normalised, so their dot product is cos θ).
 *
 * Tensor forms for the losses and the head (`l2Normalize`, `rowCosine`), and plain-array forms
 * for embeddings already read back to the host (`l2NormalizeRowsInPlace`, `unitRowCosine`).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Divides x by its L2 norm along `axis`, with the norm floored at 1e-6 (as tf.math.l2_normalize
 * floors the squared norm at 1e-12) so a zero vector gives zeros and finite gradients.
 */
export function l2Normalize<T extends tf.Tensor>(x: T, axis: number): T {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-12))) as T);
}

/** Cosine between each embedding and its target: [B, D] × [B, D] → [B]. */
export function rowCosine(embeddings: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(l2Normalize(embeddings, 1), l2Normalize(targets, 1)), 1) as tf.Tensor1D);
}

/** L2-normalises the rows of an N×D host matrix in place (norm floored at 1e-12). */
export function l2NormalizeRowsInPlace(data: Float32Array, dim: number): Float32Array {
  for (let i = 0; i < data.length; i += dim) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += data[i + k] * data[i + k];
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let k = 0; k < dim; k++) data[i + k] *= inv;
  }
  return data;
}

/** Cosine of rows `i` and `j` of unit-row host matrices `a` and `b` (N×dim): their dot product. */
export function unitRowCosine(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += a[i * dim + k] * b[j * dim + k];
  return s;
}
