/** Backend set-up for tests: wasm with arcinvert's gradient kernels (fast), or cpu (reference). */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/backend.js';

/** Selects the wasm backend with the extra backward kernels registered. */
export async function useWasm(): Promise<void> {
  await selectBackend('wasm');
  if (tf.getBackend() !== 'wasm') throw new Error('wasm backend did not initialise');
}
