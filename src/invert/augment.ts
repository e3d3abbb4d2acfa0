/**
 * Augmentation of the images being optimised (DeepInversion: random roll jitter and random
 * horizontal flip each step), so that the solution does not depend on exact pixel positions.
 * The random choices are drawn by the caller from a seeded `Rng` and passed in: these
 * functions are pure.
 */
import * as tf from '@tensorflow/tfjs';
import type { Mulberry32 } from '../util/random.js';

/** One step's augmentation: a circular shift (rows, columns) and whether to mirror. */
export interface Augmentation {
  dy: number;
  dx: number;
  flip: boolean;
}

/** Draws a step's augmentation: shifts uniform in [−jitter, jitter], flip with p = 0.5. */
export function drawAugmentation(rng: Mulberry32, jitter: number, flip: boolean): Augmentation {
  return { dy: rng.int(-jitter, jitter), dx: rng.int(-jitter, jitter), flip: flip && rng.chance(0.5) };
}

/** Circular shift along `axis` by `shift` (torch.roll): out[i] = x[(i − shift) mod n]. */
export function roll(x: tf.Tensor4D, shift: number, axis: 1 | 2): tf.Tensor4D {
  const n = x.shape[axis];
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  return tf.tidy(() => {
    const [head, tail] = tf.split(x, [n - s, s], axis);
    return tf.concat([tail, head], axis) as tf.Tensor4D;
  });
}

/**
 * Applies an augmentation to a batch.
 *
 * @param x [B, H, W, C].
 * @returns [B, H, W, C], shifted and maybe mirrored (differentiable).
 */
export function augment(x: tf.Tensor4D, a: Augmentation): tf.Tensor4D {
  return tf.tidy(() => {
    const shifted = roll(roll(x, a.dy, 1), a.dx, 2);
    return a.flip ? (tf.reverse(shifted, 2) as tf.Tensor4D) : shifted;
  });
}
