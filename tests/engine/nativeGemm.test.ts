/**
 * The wasm kernels whose matrix products run on onnxruntime (`nativeGemm.ts`): values against
 * tfjs-backend-cpu (relErr ≤ 1e-4, see compare.ts) for every transpose and the 1×1 conv, the
 * cases left to the previous kernel (which must still be exact), gradients through a 1×1 conv,
 * run-to-run determinism, and no tensors or wasm buffers left behind.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerFastWasmKernels } from '../../src/engine/fastKernels.js';
import { registerWasmGradKernels } from '../../src/engine/wasmGradKernels.js';
import {
  GLIBC_MALLOC_TUNABLES,
  NATIVE_GEMM_FROM,
  NATIVE_GEMM_KERNEL_NAMES,
  NativeGemm,
  nativeGemmActive,
  nativeGemmWanted,
  registerNativeGemm,
  unregisterNativeGemm,
} from '../../src/engine/nativeGemm.js';
import { compareForward, compareGrads, random, TOLERANCE, type Named } from './compare.js';

// onnxruntime-node is a dependency: where its binding does not load (an unsupported platform)
// these tests are skipped, visibly.
const gemm = NativeGemm.load();
const describeNative = gemm ? describe : describe.skip;
if (!gemm) console.warn('nativeGemm tests skipped: onnxruntime-node does not load here');

/** Which products ran natively during `f` (by the kernel's multiply calls). */
function nativeCalls(f: () => void): number {
  const proto = NativeGemm.prototype as unknown as { multiply: (...args: unknown[]) => void };
  const original = proto.multiply;
  let calls = 0;
  proto.multiply = function (this: unknown, ...args: unknown[]) {
    calls++;
    original.apply(this, args);
  };
  try {
    f();
  } finally {
    proto.multiply = original;
  }
  return calls;
}

/** Native products during `f` on wasm tensors of `inputs` (built and disposed here). */
async function nativeCallsOn(f: (...ts: tf.Tensor[]) => tf.Tensor, inputs: Named[]): Promise<number> {
  await tf.setBackend('wasm');
  const ts = inputs.map((t) => tf.tensor(t.data, t.shape));
  try {
    return nativeCalls(() => f(...ts).dispose());
  } finally {
    tf.dispose(ts);
  }
}

beforeAll(async () => {
  registerWasmGradKernels();
  registerFastWasmKernels();
  expect(await tf.setBackend('wasm')).toBe(true);
  registerNativeGemm();
});

afterAll(() => unregisterNativeGemm());

describe('nativeGemmWanted', () => {
  test('on unless ARCINVERT_NATIVE_GEMM is 0', () => {
    expect(nativeGemmWanted({})).toBe(true);
    expect(nativeGemmWanted({ ARCINVERT_NATIVE_GEMM: '1' })).toBe(true);
    expect(nativeGemmWanted({ ARCINVERT_NATIVE_GEMM: ' 0 ' })).toBe(false);
  });
});

describe('the malloc settings the native products need', () => {
  test("the README's quick start sets GLIBC_MALLOC_TUNABLES; the bin stays a plain node script", () => {
    // A shebang cannot carry them portably (kernels before 5.1 cut it at 127 bytes, npm's Windows
    // shims and BusyBox env do not take `env -S VAR=value`), so the command line does.
    expect(readFileSync('README.md', 'utf8')).toContain(`GLIBC_TUNABLES=${GLIBC_MALLOC_TUNABLES} npx arcinvert invert`);
    expect(readFileSync('bin/arcinvert.js', 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});

describeNative('registerNativeGemm', () => {
  test('wraps each kernel once, for wasm only, and unregistering puts the previous ones back', () => {
    const wrapped = NATIVE_GEMM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm'));
    const cpu = NATIVE_GEMM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'cpu'));
    expect(registerNativeGemm()).toBe(true);
    expect(NATIVE_GEMM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm'))).toEqual(wrapped);
    expect(NATIVE_GEMM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'cpu'))).toEqual(cpu);
    unregisterNativeGemm();
    expect(nativeGemmActive()).toBe(false);
    const previous = NATIVE_GEMM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm'));
    previous.forEach((k, i) => expect(k).not.toBe(wrapped[i]));
    registerNativeGemm();
    expect(nativeGemmActive()).toBe(true);
  });
});

describeNative('BatchMatMul on onnxruntime matches cpu', () => {
  // [m, k, n], each above NATIVE_GEMM_FROM multiply-adds.
  const sizes: Array<[number, number, number]> = [
    [300, 64, 40],
    [37, 129, 65],
  ];
  for (const [m, k, n] of sizes)
    for (const transposeA of [false, true])
      for (const transposeB of [false, true]) {
        test(`[${m}, ${k}] × [${k}, ${n}], transposeA ${transposeA}, transposeB ${transposeB}`, async () => {
          expect(m * k * n).toBeGreaterThanOrEqual(NATIVE_GEMM_FROM);
          const a = random(transposeA ? [k, m] : [m, k], 1);
          const b = random(transposeB ? [n, k] : [k, n], 2);
          const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor =>
            tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, transposeA, transposeB);
          expect(await compareForward(f, [a, b])).toBeLessThan(TOLERANCE);
          expect(await nativeCallsOn(f, [a, b])).toBe(1);
        });
      }

  test('3-D operands with a batch of 1 run natively and keep their rank', async () => {
    const a = random([1, 200, 48], 3);
    const b = random([1, 48, 32], 4);
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D);
    expect(await compareForward(f, [a, b])).toBeLessThan(TOLERANCE);
    const x = tf.tensor(a.data, a.shape);
    const y = tf.tensor(b.data, b.shape);
    let shape: number[] = [];
    expect(
      nativeCalls(() => {
        const z = f(x, y);
        shape = z.shape;
        z.dispose();
      }),
    ).toBe(1);
    expect(shape).toEqual([1, 200, 32]);
    tf.dispose([x, y]);
  });

  test('small products and batches > 1 stay on the previous kernel, exactly', async () => {
    const cases: Array<[Named, Named]> = [
      [random([8, 16], 5), random([16, 8], 6)], // 1,024 multiply-adds
      [random([3, 64, 32], 7), random([3, 32, 48], 8)], // a batch of 3
    ];
    for (const [a, b] of cases) {
      const x = tf.tensor(a.data, a.shape);
      const y = tf.tensor(b.data, b.shape);
      let wrapped: Float32Array = new Float32Array();
      expect(nativeCalls(() => (wrapped = tf.matMul(x, y).dataSync() as Float32Array))).toBe(0);
      unregisterNativeGemm();
      const plain = tf.matMul(x, y).dataSync();
      registerNativeGemm();
      expect(Array.from(wrapped)).toEqual(Array.from(plain));
      tf.dispose([x, y]);
    }
  });

  test('the same product twice is the same to the bit, and leaves nothing behind', () => {
    const x = tf.tensor(random([500, 96], 9).data, [500, 96]);
    const y = tf.tensor(random([96, 80], 10).data, [96, 80]);
    const first = tf.tidy(() => tf.matMul(x, y).dataSync());
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const second = tf.tidy(() => tf.matMul(x, y).dataSync());
    expect(Array.from(second)).toEqual(Array.from(first));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    tf.dispose([x, y]);
  });
});

describeNative('Conv2D 1×1 on onnxruntime matches cpu', () => {
  const x = random([2, 14, 12, 48], 11);
  const filter = random([1, 1, 48, 40], 12);

  test('values, and one native product', async () => {
    for (const pad of ['same', 'valid'] as const) {
      const f = (t: tf.Tensor, w: tf.Tensor): tf.Tensor => tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 1, pad);
      expect(await compareForward(f, [x, filter])).toBeLessThan(TOLERANCE);
      expect(await nativeCallsOn(f, [x, filter])).toBe(1);
    }
  });

  test('strided, padded and k×k convs stay on the previous kernel', async () => {
    const convs: Array<(t: tf.Tensor, w: tf.Tensor) => tf.Tensor> = [
      (t, w) => tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
      (t, w) =>
        tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 1, [
          [0, 0],
          [1, 1],
          [0, 2],
          [0, 0],
        ]),
    ];
    for (const f of convs) {
      expect(await compareForward(f, [x, filter])).toBeLessThan(TOLERANCE);
      expect(await nativeCallsOn(f, [x, filter])).toBe(0);
    }
    const k3x3 = (t: tf.Tensor, w: tf.Tensor): tf.Tensor => tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
    expect(await nativeCallsOn(k3x3, [x, random([3, 3, 48, 8], 13)])).toBe(0);
  });

  test('gradients of x and of the filter (the products dy·Wᵀ and xᵀ·dy) match cpu', async () => {
    const dy = random([2, 14, 12, 40], 14);
    const f = (t: tf.Tensor, w: tf.Tensor): tf.Tensor => tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid');
    for (const err of await compareGrads(f, [x, filter], dy)) expect(err).toBeLessThan(TOLERANCE);
    await tf.setBackend('wasm');
    const [tx, tw, tdy] = [x, filter, dy].map((t) => tf.tensor(t.data, t.shape));
    const tensors = tf.memory().numTensors;
    const calls = nativeCalls(() => tf.dispose(tf.grads(f)([tx, tw], tdy)));
    expect(calls).toBeGreaterThanOrEqual(2); // dx, and dW where wasmGradKernels uses a matMul
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([tx, tw, tdy]);
  });
});
