/**
 * Adam (Kingma & Ba) on a plain tensor: the inversion optimises only the images, with a
 * learning rate that changes every step and a state that is reset when the resolution
 * changes, so a ten-line Adam is clearer than wrapping `tf.train.adam`.
 */
import * as tf from '@tensorflow/tfjs';

/** Adam moments of one tensor and the step count. */
export interface AdamState {
  m: tf.Tensor;
  v: tf.Tensor;
  t: number;
}

export function adamInit(x: tf.Tensor): AdamState {
  return { m: tf.zerosLike(x), v: tf.zerosLike(x), t: 0 };
}

/**
 * One Adam update. Returns the new parameter and state; the caller disposes the old ones.
 */
export function adamStep(
  x: tf.Tensor,
  grad: tf.Tensor,
  state: AdamState,
  opts: { lr: number; beta1: number; beta2: number; epsilon: number },
): { x: tf.Tensor; state: AdamState } {
  const t = state.t + 1;
  return tf.tidy(() => {
    const m = tf.add(tf.mul(state.m, opts.beta1), tf.mul(grad, 1 - opts.beta1));
    const v = tf.add(tf.mul(state.v, opts.beta2), tf.mul(tf.square(grad), 1 - opts.beta2));
    // PyTorch's form: x −= lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε).
    const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(1 - opts.beta2 ** t)), opts.epsilon);
    const next = tf.sub(x, tf.mul(tf.div(m, denom), opts.lr / (1 - opts.beta1 ** t)));
    return { x: next, state: { m, v, t } };
  });
}

export function adamDispose(state: AdamState): void {
  tf.dispose([state.m, state.v]);
}
