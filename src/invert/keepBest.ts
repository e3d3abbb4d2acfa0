/**
 * Keep-best (DeepInversion keeps the images of the lowest loss; arcinvert keeps, per image, the
 * one whose clean embedding is closest to its target): the best images so far, their cosines
 * and the step each was found at, updated from each evaluation of the current images.
 */
import * as tf from '@tensorflow/tfjs';

export class KeepBest {
  /** [B, H, W, 3]: per row, the image of the highest cosine so far (the initial image before any). */
  images: tf.Tensor4D;
  /** Best cosine of each row so far (−∞ before the first update). */
  readonly cosine: Float32Array;
  /** Step at which each row's best image was seen (0 before the first update). */
  readonly step: Int32Array;
  /** Cosines of the last update. */
  last: Float32Array;

  /** Takes ownership of `initial` [B, H, W, 3]. */
  constructor(initial: tf.Tensor4D) {
    const b = initial.shape[0];
    this.images = initial;
    this.cosine = new Float32Array(b).fill(-Infinity);
    this.step = new Int32Array(b);
    this.last = new Float32Array(b);
  }

  /**
   * Replaces the rows of `images` [B, H, W, 3] (not taken over) whose `cosines` beat the best
   * so far, recording `step` for them.
   */
  update(images: tf.Tensor4D, cosines: Float32Array, step: number): void {
    this.last = cosines;
    const improved = Array.from(cosines, (c, i) => c > this.cosine[i]);
    if (!improved.some(Boolean)) return;
    const [b, h, w] = this.images.shape;
    const mask = tf.tensor1d(
      improved.map((v) => (v ? 1 : 0)),
      'bool',
    );
    const next = tf.tidy(() => tf.where(tf.reshape(mask, [b, 1, 1, 1]).tile([1, h, w, 3]), images, this.images));
    tf.dispose([this.images, mask]);
    this.images = next;
    improved.forEach((v, i) => {
      if (v) {
        this.cosine[i] = cosines[i];
        this.step[i] = step;
      }
    });
  }

  dispose(): void {
    this.images.dispose();
  }
}
