/**
 * Backend selection on this machine, where the optional native packages are not installed:
 * `auto` must end on wasm and say why each native package was skipped.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import {
  BACKEND_PREFERENCES,
  parseBackendPreference,
  selectBackend,
  WASM_GRAD_KERNEL_NAMES,
} from '../../src/engine/index.js';
import { nativeGemmWanted } from '../../src/engine/nativeGemm.js';

/**
 * Node 20 gives SIMD and one thread, and onnxruntime-node (a dependency) the matrix products
 * unless ARCINVERT_NATIVE_GEMM=0, e.g. 'wasm (SIMD, 1 thread, matrix products on onnxruntime)'.
 */
const WASM_DEVICE = nativeGemmWanted()
  ? /^wasm \((SIMD|no SIMD), \d+ threads?, matrix products on onnxruntime\)$/
  : /^wasm \((SIMD|no SIMD), \d+ threads?\)$/;

describe('selectBackend', () => {
  test('wasm selects wasm and registers the gradient kernels', async () => {
    const info = await selectBackend('wasm');
    expect(info).toEqual({ name: 'wasm', preference: 'wasm', device: expect.stringMatching(WASM_DEVICE) });
    expect(tf.getBackend()).toBe('wasm');
    for (const name of WASM_GRAD_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });

  test('cpu selects cpu', async () => {
    const info = await selectBackend('cpu');
    expect(info).toEqual({ name: 'cpu', preference: 'cpu', device: 'cpu (plain JavaScript)' });
    expect(tf.getBackend()).toBe('cpu');
  });

  test('auto falls back past the missing native packages to wasm', async () => {
    const info = await selectBackend();
    expect(info).toEqual({
      name: 'wasm',
      preference: 'auto',
      device: expect.stringMatching(WASM_DEVICE),
      fellBackFrom: ['@tensorflow/tfjs-node-gpu: not installed', '@tensorflow/tfjs-node: not installed'],
    });
    expect(tf.getBackend()).toBe('wasm');
  });

  test('selecting twice, and switching back and forth, works', async () => {
    expect((await selectBackend('cpu')).name).toBe('cpu');
    expect((await selectBackend('auto')).name).toBe('wasm');
    expect((await selectBackend('auto')).name).toBe('wasm');
    const s = tf.sum(tf.tensor([1, 2, 3]));
    expect(await s.data()).toEqual(new Float32Array([6]));
    s.dispose();
  });

  test('tensorflow without tfjs-node fails with a one-line ArcinvertError', async () => {
    const before = tf.getBackend();
    const error = await selectBackend('tensorflow').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArcinvertError);
    const message = (error as ArcinvertError).message;
    expect(message).not.toContain('\n');
    expect(message).toBe(
      'backend tensorflow needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node ' +
        '(@tensorflow/tfjs-node-gpu: not installed; @tensorflow/tfjs-node: not installed); ' +
        'install one, or use backend wasm',
    );
    expect(tf.getBackend()).toBe(before);
  });
});

describe('parseBackendPreference', () => {
  test('accepts every preference', () => {
    for (const p of BACKEND_PREFERENCES) expect(parseBackendPreference(p)).toBe(p);
    expect(BACKEND_PREFERENCES).toEqual(['auto', 'tensorflow', 'wasm', 'cpu']);
    expect(parseBackendPreference(' WASM ')).toBe('wasm');
  });

  test('rejects anything else, naming the valid values', () => {
    expect(() => parseBackendPreference('webgl')).toThrow(ArcinvertError);
    expect(() => parseBackendPreference('webgl')).toThrow(
      "unknown backend 'webgl'; expected one of auto, tensorflow, wasm, cpu",
    );
    expect(() => parseBackendPreference('')).toThrow(ArcinvertError);
  });
});
