/**
 * Image priors of the inversion (DeepInversion `get_image_prior_losses`; ArcFace TPAMI §3.3
 * uses TV 1e-3 and pixel L2 1e-4). Each returns one value per image, as means over pixels so
 * their scale does not depend on the resolution.
 */
import * as tf from '@tensorflow/tfjs';

/** Horizontal and vertical neighbour differences of [B, H, W, C] images. */
function neighbourDiffs(x: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  const [, h, w] = x.shape;
  const dx = tf.sub(
    tf.slice(x, [0, 0, 1, 0], [-1, h, w - 1, -1]),
    tf.slice(x, [0, 0, 0, 0], [-1, h, w - 1, -1]),
  ) as tf.Tensor4D;
  const dy = tf.sub(
    tf.slice(x, [0, 1, 0, 0], [-1, h - 1, w, -1]),
    tf.slice(x, [0, 0, 0, 0], [-1, h - 1, w, -1]),
  ) as tf.Tensor4D;
  return [dx, dy];
}

/**
 * Total variation, L1 form: mean |neighbour difference| over both axes, per image.
 *
 * @param x [B, H, W, C].
 * @returns [B].
 */
export function totalVariationL1(x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const [dx, dy] = neighbourDiffs(x);
    return tf.add(tf.mean(tf.abs(dx), [1, 2, 3]), tf.mean(tf.abs(dy), [1, 2, 3])) as tf.Tensor1D;
  });
}

/**
 * Total variation, L2 form: mean squared neighbour difference over both axes, per image
 * (the reference PyTorch run's TV).
 *
 * @param x [B, H, W, C].
 * @returns [B].
 */
export function totalVariationL2(x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const [dx, dy] = neighbourDiffs(x);
    return tf.add(tf.mean(tf.square(dx), [1, 2, 3]), tf.mean(tf.square(dy), [1, 2, 3])) as tf.Tensor1D;
  });
}

/**
 * Pixel L2 prior: mean squared (normalised) pixel value, per image.
 *
 * @param x [B, H, W, C].
 * @returns [B].
 */
export function pixelL2(x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.mean(tf.square(x), [1, 2, 3]) as tf.Tensor1D);
}
