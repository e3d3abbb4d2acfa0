/**
 * The composed wasm backward kernels against tfjs-backend-cpu's reference kernels.
 *
 * Every case builds the same random inputs on both backends, takes `tf.grads` of the
 * convolution with the same upstream gradient dy, and compares the gradients with
 *   relErr(a, ref) = max|a - ref| / max(max|ref|, 1e-6)
 * where `ref` is the cpu result; the bound is 1e-4.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerSimdKernels } from '../../src/engine/simd/simd.js';
import { registerWasmGradKernels, WASM_GRAD_KERNEL_NAMES } from '../../src/engine/wasmGradKernels.js';
import { compareGrads as compare, gradsOn, random, relErr, TOLERANCE, type Named } from './compare.js';
import { cases, label, outShape, type Case, type Pad, type Rounding } from './convCases.js';

beforeAll(async () => {
  registerWasmGradKernels();
  registerSimdKernels(); // the strided depthwise dx scatters with one of them
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('registerWasmGradKernels', () => {
  test('adds the three missing kernels to wasm, once', () => {
    const names = tf.getKernelsForBackend('wasm').map((k) => k.kernelName);
    for (const name of WASM_GRAD_KERNEL_NAMES) expect(names).toContain(name);
    const before = WASM_GRAD_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm'));
    registerWasmGradKernels();
    expect(WASM_GRAD_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm'))).toEqual(before);
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')?.kernelFunc).toBe(before[0]?.kernelFunc);
  });

  test('composes wasm kernels rather than delegating to cpu', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = tf.tensor(random([1, 5, 5, 2], 1).data, [1, 5, 5, 2]);
    const w = tf.tensor(random([3, 3, 2, 2], 2).data, [3, 3, 2, 2]);
    const profile = await tf.profile(() => {
      const [dw] = tf.grads((f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'))([w]);
      return dw;
    });
    expect(profile.kernelNames).toEqual(
      expect.arrayContaining([tf.DepthwiseConv2dNativeBackpropFilter, 'Slice', 'Sum', 'PadV2']),
    );
    expect(tf.getBackend()).toBe('wasm');
    tf.dispose([x, w, profile.result as tf.Tensor]);
  });
});

describe('Conv2D gradients on wasm match cpu', () => {
  const all = cases(false);
  test.each(all.map((c) => [label(c), c] as const))('%s', async (_name, c) => {
    const filterShape = [c.k, c.k, c.c, c.out];
    const x = random([c.n, c.h, c.w, c.c], 11);
    const f = random(filterShape, 12);
    const dy = random(outShape(c, filterShape, false), 13);
    const conv = (xt: tf.Tensor, ft: tf.Tensor): tf.Tensor =>
      tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, c.stride, c.pad, 'NHWC', 1, c.rounding);
    const [errX, errFilter] = await compare(conv, [x, f], dy);
    expect(errX).toBeLessThanOrEqual(TOLERANCE);
    expect(errFilter).toBeLessThanOrEqual(TOLERANCE);
  });
  test('covers at least 40 cases', () => expect(all.length).toBeGreaterThanOrEqual(40));

  test("pad 1 with 'ceil' rounding matches cpu on the equivalent explicit padding", async () => {
    // 8x9 input, 3x3 filter, stride 2: pad 1 + ceil gives 5x5 outputs, as do the explicit
    // pads top/left 1, bottom/right 2, whose extra zero row and column add nothing.
    const explicit: Pad = [
      [0, 0],
      [1, 2],
      [1, 2],
      [0, 0],
    ];
    const x = random([2, 8, 9, 3], 41);
    const f = random([3, 3, 3, 2], 42);
    const dy = random([2, 5, 5, 2], 43);
    const conv =
      (pad: Pad, rounding?: Rounding) =>
      (xt: tf.Tensor, ft: tf.Tensor): tf.Tensor =>
        tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, 2, pad, 'NHWC', 1, rounding);
    const forward = (pad: Pad, rounding?: Rounding): Float32Array =>
      tf.tidy(
        () => conv(pad, rounding)(tf.tensor(x.data, x.shape), tf.tensor(f.data, f.shape)).dataSync() as Float32Array,
      );
    expect(await tf.setBackend('cpu')).toBe(true);
    expect(relErr(forward(1, 'ceil'), forward(explicit))).toBe(0);
    const ref = await gradsOn('cpu', conv(explicit), [x, f], dy);
    const got = await gradsOn('wasm', conv(1, 'ceil'), [x, f], dy);
    // Only the filter gradient: dx comes from wasm's own Conv2DBackpropInput, which gets the
    // same rounding-less attributes and is off on every backend.
    expect(relErr(got[1]!, ref[1]!)).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('DepthwiseConv2dNative gradients on wasm match cpu', () => {
  const all: Case[] = [
    ...cases(true),
    // One output pixel, dx as a broadcast product: MobileFaceNet's global depthwise conv at
    // 112 px (7×7) and at 64 px (4×4, multiplier 2), a 'same' one over 2×2 (the filter's
    // corner), and an input larger than the filter (its last row and column get no gradient).
    { n: 2, h: 7, w: 7, c: 8, out: 1, k: 7, stride: 1, pad: 'valid' },
    { n: 3, h: 4, w: 4, c: 4, out: 2, k: 4, stride: 1, pad: 'valid' },
    { n: 2, h: 2, w: 2, c: 4, out: 1, k: 3, stride: 2, pad: 'same' },
    { n: 2, h: 8, w: 8, c: 2, out: 2, k: 7, stride: 2, pad: 'valid' },
    // Strided, multiplier 1, channels a multiple of 4: dx by the SIMD scatter (depthwise_dx).
    { n: 2, h: 9, w: 8, c: 8, out: 1, k: 3, stride: 2, pad: 'same' },
    { n: 1, h: 10, w: 10, c: 4, out: 1, k: 3, stride: 2, pad: 'valid' },
    { n: 2, h: 11, w: 9, c: 12, out: 1, k: 5, stride: 3, pad: 'same' },
    { n: 2, h: 7, w: 7, c: 8, out: 1, k: 3, stride: 2, pad: 1 },
    // Multiplier 1 and 4k channels: the filter gradient by the SIMD sum (depthwise_dw), which the
    // cases above with such shapes also take; here at stride 1 and with 'ceil' rounding.
    { n: 2, h: 9, w: 8, c: 8, out: 1, k: 3, stride: 1, pad: 'same' },
    { n: 3, h: 6, w: 7, c: 4, out: 1, k: 5, stride: 1, pad: 'valid' },
    { n: 2, h: 8, w: 9, c: 4, out: 1, k: 3, stride: 2, pad: 1, rounding: 'ceil' },
  ];
  test.each(all.map((c) => [label(c), c] as const))('%s', async (_name, c) => {
    const filterShape = [c.k, c.k, c.c, c.out];
    const x = random([c.n, c.h, c.w, c.c], 21);
    const f = random(filterShape, 22);
    const dy = random(outShape(c, filterShape, true), 23);
    const conv = (xt: tf.Tensor, ft: tf.Tensor): tf.Tensor =>
      tf.depthwiseConv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, c.stride, c.pad, 'NHWC', 1, c.rounding);
    const [errX, errFilter] = await compare(conv, [x, f], dy);
    expect(errX).toBeLessThanOrEqual(TOLERANCE);
    expect(errFilter).toBeLessThanOrEqual(TOLERANCE);
  });
  test('a strided one with multiplier 1 and 4k channels scatters (one SIMD kernel), others convolve', async () => {
    await tf.setBackend('wasm');
    const kernelsOf = async (c: number, stride: number): Promise<string[]> => {
      const dy = tf.ones([1, stride === 2 ? 4 : 8, stride === 2 ? 4 : 8, c]) as tf.Tensor4D;
      const f = tf.ones([3, 3, c, 1]) as tf.Tensor4D;
      const p = await tf.profile(() =>
        tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: f }, {
          strides: [stride, stride],
          pad: 'same',
          dilations: 1,
          inputShape: [1, 8, 8, c],
        } as unknown as tf.NamedAttrMap),
      );
      tf.dispose([dy, f, p.result as tf.Tensor]);
      return p.kernelNames;
    };
    expect(await kernelsOf(8, 2)).toContain('ArcinvertDepthwiseDx');
    expect(await kernelsOf(8, 1)).not.toContain('ArcinvertDepthwiseDx');
    expect(await kernelsOf(6, 2)).not.toContain('ArcinvertDepthwiseDx');
  });
  test('the filter gradient with multiplier 1 and 4k channels is one SIMD kernel, others are per tap', async () => {
    await tf.setBackend('wasm');
    const kernelsOf = async (c: number, multiplier: number, stride: number): Promise<string[]> => {
      const x = tf.ones([2, 8, 8, c]) as tf.Tensor4D;
      const dy = tf.ones([2, 8 / stride, 8 / stride, c * multiplier]) as tf.Tensor4D;
      const p = await tf.profile(() =>
        tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
          strides: [stride, stride],
          pad: 'same',
          dilations: 1,
          filterShape: [3, 3, c, multiplier],
        } as unknown as tf.NamedAttrMap),
      );
      const dw = p.result as tf.Tensor;
      expect(dw.shape).toEqual([3, 3, c, multiplier]);
      tf.dispose([x, dy, dw]);
      return p.kernelNames;
    };
    for (const stride of [1, 2]) {
      expect(await kernelsOf(8, 1, stride)).toContain('ArcinvertDepthwiseDw');
      expect(await kernelsOf(8, 1, stride)).not.toContain('Slice');
    }
    expect(await kernelsOf(6, 1, 1)).not.toContain('ArcinvertDepthwiseDw');
    expect(await kernelsOf(4, 2, 1)).not.toContain('ArcinvertDepthwiseDw');
  });
  test('the SIMD filter gradient leaves no tensors behind', () => {
    const x = tf.tensor(random([2, 9, 8, 8], 24).data, [2, 9, 8, 8]);
    const w = tf.tensor(random([3, 3, 8, 1], 25).data, [3, 3, 8, 1]);
    const before = tf.memory().numTensors;
    const [dw] = tf.grads((f) => tf.sum(tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')))([w]);
    dw!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });
  test('covers at least 40 cases, half with channel multiplier 2', () => {
    expect(all.length).toBeGreaterThanOrEqual(40);
    expect(all.filter((c) => c.out === 2).length).toBeGreaterThanOrEqual(all.length / 2);
  });
});

/** conv 3×3/2 → relu → depthwise 3×3 (multiplier 2) → relu → conv 1×1; loss = Σ y². */
function stack(x: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor, w3: tf.Tensor): tf.Tensor {
  const a = tf.relu(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, 'same'));
  const b = tf.relu(tf.depthwiseConv2d(a, w2 as tf.Tensor4D, 1, 'same'));
  return tf.sum(tf.square(tf.conv2d(b, w3 as tf.Tensor4D, 1, 'valid')));
}
const stackInputs = (): Named[] => [
  random([2, 9, 9, 3], 31),
  random([3, 3, 3, 8], 32),
  random([3, 3, 8, 2], 33),
  random([1, 1, 16, 4], 34),
];

describe('a conv + depthwise stack', () => {
  test('gradients w.r.t. input and every weight match cpu', async () => {
    const errs = await compare(stack, stackInputs(), { data: new Float32Array([1]), shape: [] });
    expect(errs).toHaveLength(4);
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOLERANCE);
  });

  test('leaks no tensors', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const inputs = stackInputs().map((t) => tf.tensor(t.data, t.shape));
    const before = tf.memory().numTensors;
    const buffersBefore = tf.engine().backend.numDataIds();
    for (let round = 0; round < 2; round++) {
      const gs = tf.grads(stack)(inputs);
      expect(gs.map((g) => g.shape)).toEqual(inputs.map((t) => t.shape));
      tf.dispose(gs);
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.engine().backend.numDataIds()).toBe(buffersBefore);
    }
    tf.dispose(inputs);
  });
});

describe('kernel inputs and attributes', () => {
  test('accepts bare TensorInfo inputs and leaves them alive', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = random([1, 5, 5, 2], 51);
    const dy = random([1, 5, 5, 2], 52);
    const attrs = { strides: 1, pad: 'same', dilations: 1, filterShape: [3, 3, 2, 1] };
    const viaGrad = await gradsOn(
      'cpu',
      (xt: tf.Tensor, ft: tf.Tensor) => tf.depthwiseConv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, 1, 'same'),
      [x, random([3, 3, 2, 1], 53)],
      dy,
    );
    expect(await tf.setBackend('wasm')).toBe(true);
    const xt = tf.tensor(x.data, x.shape);
    const dyt = tf.tensor(dy.data, dy.shape);
    const before = tf.memory().numTensors;
    const kernel = tf.getKernel(tf.DepthwiseConv2dNativeBackpropFilter, 'wasm')!;
    const info = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    const out = kernel.kernelFunc({
      inputs: { x: info(xt), dy: info(dyt) },
      backend: tf.engine().backend,
      attrs,
    }) as tf.Tensor;
    expect(relErr(out.dataSync() as Float32Array, viaGrad[1]!)).toBeLessThanOrEqual(TOLERANCE);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(xt.isDisposed).toBe(false);
    expect(Array.from(xt.dataSync())).toEqual(Array.from(x.data));
    tf.dispose([xt, dyt]);
  });

  test('a dilated depthwise backprop names the limit', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = tf.zeros([1, 7, 7, 2]);
    const dy = tf.zeros([1, 3, 3, 2]);
    expect(() =>
      tf.engine().runKernel(
        tf.DepthwiseConv2dNativeBackpropFilter,
        { x, dy },
        {
          strides: 1,
          pad: 'valid',
          dilations: 2,
          filterShape: [3, 3, 2, 1],
        },
      ),
    ).toThrow(/dilation 1 only/);
    tf.dispose([x, dy]);
  });
});
