/**
 * The optimiser of ArcFace training: SGD with momentum and L2 weight decay in PyTorch's form
 * (`torch.optim.SGD`, dampening 0, no Nesterov), as insightface arcface_torch `train_v2.py`
 * uses it, plus `torch.nn.utils.clip_grad_norm_`'s global-norm clipping.
 *
 * Written out rather than wrapped around `tf.train.momentum` because the learning rate changes
 * every step, weight decay is part of the update, and the momentum buffers must be saved and
 * restored exactly for resumable checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';

/** Hyper-parameters of one update. */
export interface SgdStepOptions {
  lr: number;
  momentum: number;
  /** L2 penalty: `weightDecay · w` is added to the gradient of w. */
  weightDecay: number;
}

/** Zero momentum buffers, one per parameter (PyTorch's first step then equals buf = d_p). */
export function sgdInit(params: readonly tf.Variable[]): tf.Tensor[] {
  return params.map((p) => tf.zerosLike(p));
}

/**
 * One update, in place on `params`:
 *   d = g + wd·w;  buf ← momentum·buf + d;  w ← w − lr·buf.
 * @returns the new momentum buffers (same shapes as the parameters); the caller disposes the
 *   old ones and the gradients.
 */
export function sgdStep(
  params: readonly tf.Variable[],
  grads: readonly tf.Tensor[],
  buffers: readonly tf.Tensor[],
  opts: SgdStepOptions,
): tf.Tensor[] {
  if (grads.length !== params.length || buffers.length !== params.length) {
    throw new ArcinvertError(`sgd: ${params.length} parameters, ${grads.length} gradients, ${buffers.length} buffers`);
  }
  return params.map((w, i) => {
    const buf = tf.tidy(() => {
      const d = opts.weightDecay === 0 ? grads[i] : tf.add(grads[i], tf.mul(w, opts.weightDecay));
      return tf.add(tf.mul(buffers[i], opts.momentum), d);
    });
    tf.tidy(() => {
      w.assign(tf.sub(w, tf.mul(buf, opts.lr)));
    });
    return buf;
  });
}

/**
 * Global L2-norm clipping (`clip_grad_norm_`): if ‖g‖ over all tensors exceeds `maxNorm`,
 * every gradient is scaled by maxNorm / (‖g‖ + 1e-6).
 * @returns the clipped gradients (new tensors) and the norm before clipping (a scalar).
 */
export function clipByGlobalNorm(
  grads: readonly tf.Tensor[],
  maxNorm: number,
): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { grads: grads.map((g) => tf.mul(g, coef)), norm };
  });
}
