/**
 * timeKernels (diagnostics): counts every kernel call of the active backend, a composed
 * kernel's time without the kernels it runs, and puts the original kernels back on stop().
 * Times themselves are never asserted beyond their sign.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/backend.js';
import { timeKernels } from '../../src/engine/kernelTimes.js';

test('counts the calls of each kernel, nested ones apart, and restores the kernels', async () => {
  await selectBackend('wasm');
  const before = tf.getKernel(tf.Conv2DBackpropInput, 'wasm')!.kernelFunc;
  const dy = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
  const f = tf.ones([1, 1, 3, 2]) as tf.Tensor4D;
  const { totals, stop } = timeKernels();
  try {
    // arcinvert's wasm Conv2DBackpropInput of a 1×1 filter runs a BatchMatMul inside it.
    tf.conv2dTranspose(dy, f, [1, 4, 4, 3], 1, 'same').dispose();
  } finally {
    stop();
  }
  expect(totals.get(tf.Conv2DBackpropInput)?.calls).toBe(1);
  expect(totals.get(tf.BatchMatMul)?.calls).toBe(1);
  for (const t of totals.values()) expect(t.ms).toBeGreaterThanOrEqual(0);
  expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm')!.kernelFunc).toBe(before);
  tf.conv2dTranspose(dy, f, [1, 4, 4, 3], 1, 'same').dispose();
  expect(totals.get(tf.Conv2DBackpropInput)?.calls).toBe(1); // no longer timed
  tf.dispose([dy, f]);
});
