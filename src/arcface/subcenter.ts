/**
 * Sub-centre pooling for Sub-center ArcFace (Deng et al., "Sub-center ArcFace: Boosting Face
 * Recognition by Large-scale Noisy Web Faces", ECCV 2020, the sub-center ArcFace loss).
 *
 * Each class owns K sub-centres; a sample's cosine to a class is its cosine to the closest
 * sub-centre (max over the K), so noisy samples can gather around a non-dominant sub-centre
 * instead of pulling the dominant one. After training, the dominant sub-centre of each class
 * (the one most of its samples pick) is kept and far-away samples are dropped (the paper's
 * purification of noisy data); `dominantSubcenters` provides the first half of that step.
 *
 * Column layout (everywhere in arcinvert): in a [B, C·K] cosine matrix, column `c·K + j` is
 * sub-centre j of class c, i.e. the K sub-centres of a class are adjacent. This is the layout of
 * insightface's mxnet implementation (reshape [B, C, K], max over the last axis).
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';

function checkLayout(cols: number, numClasses: number, k: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new ArcinvertError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new ArcinvertError(`sub-centres k must be a positive integer, got ${k}`);
  if (cols !== numClasses * k) {
    throw new ArcinvertError(`cosine matrix has ${cols} columns, expected numClasses·k = ${numClasses}·${k}`);
  }
}

/**
 * Class cosines as the max over each class's K sub-centres.
 * @param cos sub-centre cosines [B, C·K]; column c·K + j is sub-centre j of class c.
 * @returns class cosines [B, C]. The gradient goes to the maximising sub-centre only (to all
 *   of them on an exact tie, as tf.max's gradient does).
 */
export function subcenterMax(cos: tf.Tensor2D, numClasses: number, k: number): tf.Tensor2D {
  checkLayout(cos.shape[1], numClasses, k);
  return tf.tidy(() => {
    const b = cos.shape[0];
    if (k === 1) return tf.reshape(cos, [b, numClasses]) as tf.Tensor2D;
    return tf.max(tf.reshape(cos, [b, numClasses, k]), 2) as tf.Tensor2D;
  });
}

/**
 * For each sample, which of its own class's sub-centres is closest.
 * @param cos sub-centre cosines [N, C·K] (same layout as `subcenterMax`).
 * @param labels class per sample [N] int32 in [0, C).
 * @returns sub-centre index j ∈ [0, K) per sample [N] int32 (lowest j on a tie).
 */
export function assignSubcenters(cos: tf.Tensor2D, labels: tf.Tensor1D, numClasses: number, k: number): tf.Tensor1D {
  checkLayout(cos.shape[1], numClasses, k);
  return tf.tidy(() => {
    const n = cos.shape[0];
    const perClass = tf.reshape(cos, [n, numClasses, k]);
    const classes = tf.range(0, numClasses, 1, 'int32').expandDims(0);
    const mask = tf.cast(tf.equal(classes, tf.cast(labels, 'int32').expandDims(1)), 'float32').expandDims(2); // [N, C, 1]
    const own = tf.sum(tf.mul(perClass, mask), 1); // [N, K]
    return tf.argMax(own, 1).toInt() as tf.Tensor1D;
  });
}

/**
 * The dominant sub-centre of each class: the index chosen by most of the class's samples.
 * Pure bookkeeping on host arrays (the assignments come from `assignSubcenters`).
 * @param assignments sub-centre index per sample, length N, values in [0, K).
 * @param labels class per sample, length N, values in [0, C).
 * @returns Int32Array [C]: dominant index per class (lowest index on a tie), −1 for a class
 *   with no samples.
 */
export function dominantSubcenters(
  assignments: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
  k: number,
): Int32Array {
  checkLayout(numClasses * k, numClasses, k);
  if (assignments.length !== labels.length) {
    throw new ArcinvertError(`assignments (${assignments.length}) and labels (${labels.length}) differ in length`);
  }
  const counts = new Int32Array(numClasses * k);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    const j = assignments[i];
    if (!(Number.isInteger(c) && c >= 0 && c < numClasses && Number.isInteger(j) && j >= 0 && j < k)) {
      throw new ArcinvertError(`sample ${i}: label ${c} or sub-centre ${j} out of range`);
    }
    counts[c * k + j]++;
  }
  const dominant = new Int32Array(numClasses).fill(-1);
  for (let c = 0; c < numClasses; c++) {
    let best = 0;
    for (let j = 0; j < k; j++) {
      if (counts[c * k + j] > best) {
        best = counts[c * k + j];
        dominant[c] = j;
      }
    }
  }
  return dominant;
}
