/**
 * Identity losses of the inversion (ArcFace TPAMI §3.3): how far an image's embedding is
 * from its target, per image.
 *   - `cosine`: 1 − cos(ê, t̂) (default).
 *   - `l2`:     ‖ê − t̂‖² between L2-normalised embeddings (the paper's open-set form; = 2 − 2cos).
 *   - `arcface`: the closed-set form, the margin softmax cross-entropy of the image's
 *     embedding against the trained classifier (all class centres), the target class as label.
 */
import * as tf from '@tensorflow/tfjs';
import type { ArcFaceHead } from '../arcface/head.js';
import { softmaxCrossEntropyRows, type MarginFn } from '../arcface/margin.js';
import { l2Normalize, rowCosine } from '../arcface/normalize.js';

export type IdentityLossName = 'cosine' | 'l2' | 'arcface';

/** Closed-set data for the `arcface` identity loss. */
export interface ClassTargets {
  /** The trained classifier whose class centres are the targets. */
  head: ArcFaceHead;
  /** Target class of each image [B] int32. */
  labels: tf.Tensor1D;
  margin: MarginFn;
}

/**
 * Per-image identity loss.
 *
 * @param embeddings [B, D] model outputs (not normalised).
 * @param targets [B, D] target embeddings (normalised or not).
 * @param classes required for `arcface`.
 * @returns [B].
 */
export function identityLoss(
  name: IdentityLossName,
  embeddings: tf.Tensor2D,
  targets: tf.Tensor2D,
  classes?: ClassTargets,
): tf.Tensor1D {
  return tf.tidy(() => {
    if (name === 'cosine') return tf.sub(1, rowCosine(embeddings, targets)) as tf.Tensor1D;
    if (name === 'l2') {
      return tf.sum(tf.square(tf.sub(l2Normalize(embeddings, 1), l2Normalize(targets, 1))), 1) as tf.Tensor1D;
    }
    if (classes === undefined) throw new Error('identityLoss: arcface needs the classifier and class labels');
    const logits = classes.head.logits(embeddings, classes.labels, classes.margin);
    return softmaxCrossEntropyRows(logits, classes.labels);
  });
}
