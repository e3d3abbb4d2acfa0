/**
 * Per-channel affine maps of NHWC activations, x·a + b with a and b of one value per channel:
 * BatchNorm's normalisation and the input gradients of BatchNorm and of the batch statistics
 * are all of this form. Written as a 1×1 depthwise convolution with a bias, which the wasm
 * backend runs as one XNNPACK pass: 0.68 ms at [8, 56, 56, 64] against 1.25 ms for a
 * broadcast multiply and add (wasm's broadcasting binary kernels are its slow path). Other
 * shapes (rank 2, parameters that broadcast along more than the channel axis) use mul / add.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The C values of a per-channel parameter of x ([C], [1, 1, 1, C], …) as a rank-1 tensor of
 * its own data, or undefined. (Own data: wasm's FusedDepthwiseConv2D checks the bias's rank
 * from the shape its data was created with, so a reshaped [1, 1, 1, C] would be refused.)
 */
function channelVector(p: tf.Tensor, channels: number): tf.Tensor1D | undefined {
  const perChannel = p.size === channels && p.shape.length >= 1 && p.shape[p.shape.length - 1] === channels;
  if (!perChannel) return undefined;
  return (p.rank === 1 ? p : tf.mul(tf.reshape(p, [channels]), 1)) as tf.Tensor1D;
}

/**
 * x·a (+ b), broadcasting a and b against x.
 * @param x any shape; the fast path needs rank 4 (NHWC) float32.
 * @param a, b parameters broadcastable to x.
 */
export function channelAffine(x: tf.Tensor, a: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1];
    const av = x.rank === 4 && x.dtype === 'float32' ? channelVector(a, c) : undefined;
    const bv = b === undefined ? undefined : av ? channelVector(b, c) : undefined;
    if (av && (b === undefined || bv)) {
      const filter = tf.reshape(av, [1, 1, c, 1]) as tf.Tensor4D;
      return tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter, strides: 1, pad: 'valid', bias: bv });
    }
    const ax = tf.mul(x, a);
    return b === undefined ? ax : tf.add(ax, b);
  });
}
