import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
test('wasm loads', async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  const s = tf.tensor([1, 2, 3]).sum();
  expect(await s.data()).toEqual(new Float32Array([6]));
});
