/**
 * arcinvert's own SIMD kernels (`src/engine/simd/`): the committed module is the assembly of
 * kernels.wat; each kernel against the tf ops it replaces on tfjs-backend-cpu; where they do
 * not apply, undefined (the callers then run those ops); and no tensors, wasm buffers or
 * scratch memory left behind.
 */
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/engine/backend.js';
import { channelStats } from '../../src/engine/moments.js';
import { channelStatsValue, preluDx } from '../../src/engine/simd/simd.js';
import { forwardOn, random, randomMapped, relErr, type Named } from './compare.js';

beforeAll(async () => {
  await selectBackend('wasm');
});

afterAll(async () => {
  await tf.setBackend('wasm');
});

test('src/engine/simd/kernels.ts is the assembly of kernels.wat (npm run build:simd -- --check)', () => {
  expect(() => execFileSync(process.execPath, ['scripts/build-simd.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
});

/** The element-wise definition: where(x > 0, dy, dy·α). */
const stockPreluDx = (dy: tf.Tensor, x: tf.Tensor, alpha: tf.Tensor): tf.Tensor =>
  tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha));

describe('preluDx', () => {
  const cases: Array<[number[], number[]]> = [
    [
      [2, 5, 7, 8],
      [1, 1, 8],
    ],
    [[3, 4, 4, 12], [12]],
    [[6, 16], [16]],
    [
      [1, 1, 1, 4],
      [1, 1, 1, 4],
    ],
  ];
  test.each(cases)('x %j, α %j equals where(x > 0, dy, dy·α) on cpu', async (shape, alphaShape) => {
    // x with exact zeros (they take the α branch, as in tfjs's own gradient).
    const x = randomMapped(shape, 81, (v) => (Math.abs(v) < 0.1 ? 0 : v));
    const dy = random(shape, 82);
    const alpha = random(alphaShape, 83);
    const ref = await forwardOn('cpu', stockPreluDx, [dy, x, alpha]);
    await tf.setBackend('wasm');
    const [dyT, xT, aT] = [dy, x, alpha].map((t) => tf.tensor(t.data, t.shape));
    const got = preluDx(dyT!, xT!, aT!);
    expect(got).toBeDefined();
    expect(got!.shape).toEqual(shape);
    expect(Array.from(got!.dataSync())).toEqual(Array.from(ref.data));
    tf.dispose([dyT!, xT!, aT!, got!]);
  });

  test('does not apply to channels that are not a multiple of 4, α not per channel, or another backend', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const x6 = tf.ones([2, 3, 3, 6]);
      const x8 = tf.ones([2, 3, 3, 8]);
      expect(preluDx(x6, x6, tf.ones([6]))).toBeUndefined();
      expect(preluDx(x8, x8, tf.ones([3, 1, 8]))).toBeUndefined();
      expect(preluDx(x8, x8, tf.ones([1]))).toBeUndefined();
      expect(preluDx(x8, tf.ones([2, 3, 3, 8], 'int32'), tf.ones([8]))).toBeUndefined();
    });
    await tf.setBackend('cpu');
    tf.tidy(() => {
      const c = tf.ones([2, 8]);
      expect(preluDx(c, c, tf.ones([8]))).toBeUndefined();
      expect(channelStatsValue(c)).toBeUndefined();
    });
    await tf.setBackend('wasm');
  });
});

/** The stock statistics: tf.moments over all but the channel axis, stacked [2, C]. */
function stockStats(x: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, x.rank === 4 ? [0, 1, 2] : [0]);
  return tf.stack([mean, variance]);
}

describe('channelStatsValue', () => {
  const cases: Array<[string, Named]> = [
    ['[3, 7, 7, 8]', random([3, 7, 7, 8], 91)],
    ['[8, 28, 28, 16] (12,544 rows, many blocks)', random([8, 28, 28, 16], 92)],
    ['[10, 12] rank 2', random([10, 12], 93)],
    ['[2, 9, 9, 4], 162 rows (a partial last block)', random([2, 9, 9, 4], 94)],
    // A large offset and a small spread: the variance about the mean, not E[x²] − μ².
    ['[4, 20, 20, 8] at 100 ± 0.01', randomMapped([4, 20, 20, 8], 95, (v) => 100 + 0.01 * v)],
  ];
  test.each(cases)('%s equals tf.moments on cpu', async (_name, x) => {
    const ref = await forwardOn('cpu', stockStats, [x]);
    await tf.setBackend('wasm');
    const xt = tf.tensor(x.data, x.shape);
    const got = channelStatsValue(xt);
    expect(got).toBeDefined();
    expect(got!.shape).toEqual(ref.shape);
    const data = got!.dataSync();
    const c = x.shape[x.shape.length - 1]!;
    // Means and variances each to 1e-6 of their own scale.
    expect(relErr(data.subarray(0, c), Array.from(ref.data).slice(0, c))).toBeLessThanOrEqual(1e-6);
    expect(relErr(data.subarray(c), Array.from(ref.data).slice(c))).toBeLessThanOrEqual(1e-5);
    tf.dispose([xt, got!]);
  });

  test('is what channelStats returns on wasm, and does not apply to 6 channels', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor(random([2, 5, 5, 8], 96).data, [2, 5, 5, 8]);
    const a = channelStats(x);
    const b = channelStatsValue(x)!;
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const x6 = tf.ones([2, 5, 5, 6]);
    expect(channelStatsValue(x6)).toBeUndefined();
    tf.dispose([x, a, b, x6]);
  });
});

test('leave no tensors, wasm buffers or heap behind', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number; wasm: { HEAPU8: Uint8Array } };
  const x = tf.tensor(random([4, 14, 14, 32], 97).data, [4, 14, 14, 32]);
  const dy = tf.tensor(random([4, 14, 14, 32], 98).data, [4, 14, 14, 32]);
  const alpha = tf.fill([32], 0.25);
  const once = (): void => tf.dispose([preluDx(dy, x, alpha)!, channelStatsValue(x)!]);
  once();
  const [tensors, buffers, heap] = [tf.memory().numTensors, backend.numDataIds(), backend.wasm.HEAPU8.length];
  for (let i = 0; i < 20; i++) once();
  expect([tf.memory().numTensors, backend.numDataIds(), backend.wasm.HEAPU8.length]).toEqual([tensors, buffers, heap]);
  tf.dispose([x, dy, alpha]);
});
