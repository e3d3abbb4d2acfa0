/**
 * The faster wasm kernels of `fastKernels.ts` against tfjs-backend-cpu's reference kernels
 * (relErr ≤ 1e-4, see compare.ts), their fall-backs to the stock kernels, and their memory
 * accounting: no tensors and no wasm buffers left behind.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  blockSwap,
  COLUMN_BACKPROP_MAX_CIN,
  FAST_WASM_KERNEL_NAMES,
  registerFastWasmKernels,
} from '../../src/engine/fastKernels.js';
import { registerWasmGradKernels } from '../../src/engine/wasmGradKernels.js';
import { compareForward, compareGrads, forwardOn, random, randomMapped, TOLERANCE, type Named } from './compare.js';
import { cases, label, outShape, type Case } from './convCases.js';

beforeAll(async () => {
  registerWasmGradKernels();
  registerFastWasmKernels();
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('registerFastWasmKernels', () => {
  test('replaces each kernel once, for wasm only', () => {
    const before = FAST_WASM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm'));
    const cpu = FAST_WASM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'cpu'));
    registerFastWasmKernels();
    expect(FAST_WASM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm'))).toEqual(before);
    expect(FAST_WASM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'cpu'))).toEqual(cpu);
  });
});

describe('Conv2DBackpropInput on wasm matches cpu', () => {
  const extra: Case[] = [
    // 1×1 filters whose strides and paddings move rows (placeOnInput's crops and pads).
    { n: 2, h: 7, w: 9, c: 3, out: 4, k: 1, stride: 2, pad: 1, rounding: 'floor' },
    {
      n: 1,
      h: 6,
      w: 6,
      c: 2,
      out: 3,
      k: 1,
      stride: 1,
      pad: [
        [0, 0],
        [1, 0],
        [0, 2],
        [0, 0],
      ],
    },
    { n: 2, h: 10, w: 8, c: 4, out: 2, k: 1, stride: 3, pad: 'valid' },
    { n: 1, h: 8, w: 8, c: 3, out: 2, k: 3, stride: 3, pad: 'same' },
    { n: 2, h: 6, w: 7, c: 2, out: 3, k: 2, stride: 1, pad: 'same' },
    { n: 2, h: 9, w: 9, c: 3, out: 5, k: 4, stride: 2, pad: 'valid' },
    // More input channels than COLUMN_BACKPROP_MAX_CIN: k×k filters by forward convolutions
    // (stride 1) and by phases (strided), where the cases above go by columns.
    { n: 2, h: 9, w: 8, c: 6, out: 5, k: 3, stride: 1, pad: 'same' },
    { n: 1, h: 8, w: 9, c: 5, out: 3, k: 3, stride: 2, pad: 'same' },
    { n: 2, h: 10, w: 10, c: 7, out: 4, k: 5, stride: 2, pad: 'valid' },
    { n: 1, h: 11, w: 9, c: 6, out: 2, k: 3, stride: 3, pad: 1, rounding: 'floor' },
    // The stem of MobileFaceNet at a small size: 3 input channels, 3×3, stride 2, 'same'.
    { n: 2, h: 16, w: 16, c: 3, out: 8, k: 3, stride: 2, pad: 'same' },
  ];
  const all = [...cases(false), ...extra];
  test.each(all.map((c) => [label(c), c] as const))('%s', async (_name, c) => {
    const filterShape = [c.k, c.k, c.c, c.out];
    const x = random([c.n, c.h, c.w, c.c], 61);
    const f = random(filterShape, 62);
    const dy = random(outShape(c, filterShape, false), 63);
    const conv = (xt: tf.Tensor, ft: tf.Tensor): tf.Tensor =>
      tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, c.stride, c.pad, 'NHWC', 1, c.rounding);
    const [errX, errFilter] = await compareGrads(conv, [x, f], dy);
    expect(errX).toBeLessThanOrEqual(TOLERANCE);
    expect(errFilter).toBeLessThanOrEqual(TOLERANCE);
  });
  test('covers at least 40 cases', () => expect(all.length).toBeGreaterThanOrEqual(40));

  test('conv2dTranspose (the op that calls the kernel directly) matches cpu', async () => {
    const y = random([2, 5, 5, 4], 64);
    const f = random([3, 3, 3, 4], 65);
    const op = (yt: tf.Tensor, ft: tf.Tensor): tf.Tensor =>
      tf.conv2dTranspose(yt as tf.Tensor4D, ft as tf.Tensor4D, [2, 10, 10, 3], 2, 'same');
    expect(await compareForward(op, [y, f])).toBeLessThanOrEqual(TOLERANCE);
  });

  test('composes fast kernels: a matMul for 1×1 filters and for k×k with few input channels, a forward conv for k×k', async () => {
    const dy = tf.tensor(random([1, 4, 4, 2], 66).data, [1, 4, 4, 2]) as tf.Tensor4D;
    const profileOf = async (k: number, cin: number): Promise<string[]> => {
      const f = tf.ones([k, k, cin, 2]) as tf.Tensor4D;
      const p = await tf.profile(() => tf.conv2dTranspose(dy, f, [1, 4, 4, cin], 1, 'same'));
      tf.dispose([f, p.result as tf.Tensor]);
      return p.kernelNames;
    };
    expect(await profileOf(1, 3)).toEqual(expect.arrayContaining([tf.Conv2DBackpropInput, 'BatchMatMul']));
    const narrow = await profileOf(3, COLUMN_BACKPROP_MAX_CIN);
    expect(narrow).toEqual(expect.arrayContaining([tf.Conv2DBackpropInput, 'BatchMatMul']));
    expect(narrow).not.toContain('Conv2D');
    const wide = await profileOf(3, COLUMN_BACKPROP_MAX_CIN + 1);
    expect(wide).toEqual(expect.arrayContaining([tf.Conv2DBackpropInput, 'Conv2D']));
    expect(wide).not.toContain('BatchMatMul');
    dy.dispose();
  });

  test('by columns leaves no tensors and no wasm buffers behind', () => {
    const dy = tf.randomNormal([2, 8, 8, 8]) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, 3, 8]) as tf.Tensor4D;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const [tensors, buffers] = [tf.memory().numTensors, backend.numDataIds()];
    tf.conv2dTranspose(dy, f, [2, 16, 16, 3], 2, 'same').dispose();
    expect([tf.memory().numTensors, backend.numDataIds()]).toEqual([tensors, buffers]);
    tf.dispose([dy, f]);
  });
});

describe('FusedBatchNorm on wasm matches cpu', () => {
  const withParams = (x: number[], p: number[]): Named[] => [
    random(x, 71),
    random(p, 72),
    randomMapped(p, 73, (v) => v * v + 0.1),
    random(p, 74),
    random(p, 75),
  ];
  test.each([
    ['rank 4, parameters [C]', [2, 5, 6, 4], [4]],
    ['rank 4, parameters [1, 1, 1, C]', [2, 3, 3, 5], [1, 1, 1, 5]],
    ['rank 2, parameters [C]', [6, 7], [7]],
  ] as const)('%s', async (_name, xShape, pShape) => {
    const bn = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor): tf.Tensor =>
      tf.batchNorm(x, m, v, o, s, 1e-3);
    expect(await compareForward(bn, withParams([...xShape], [...pShape]))).toBeLessThanOrEqual(TOLERANCE);
  });
  test('without scale and offset', async () => {
    const bn = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor): tf.Tensor =>
      tf.batchNorm(x, m, v, undefined, undefined, 1e-5);
    expect(await compareForward(bn, withParams([3, 4, 4, 6], [6]).slice(0, 3))).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('Sum and Mean on wasm match cpu', () => {
  const shapes: Array<[number[], number | number[], boolean]> = [
    [[4, 5, 6, 7], [0, 1, 2], false],
    [[4, 5, 6, 7], [2, 0, 1], true],
    // Over [N, H, W] by pooling: one image, a 1-wide image, one pixel (the matMul path), large H×W.
    [[1, 5, 6, 7], [0, 1, 2], false],
    [[3, 9, 1, 4], [0, 1, 2], true],
    [[6, 1, 1, 5], [0, 1, 2], false],
    [[2, 56, 56, 3], [0, 1, 2], false],
    [[4, 5, 6, 7], 0, false],
    [[4, 5, 6, 7], [0, 1], true],
    [[9, 3], [0], false],
    [[9, 3], -2, true],
    // Not leading axes: the stock kernels.
    [[4, 5, 6, 7], [1, 2], false],
    [[4, 5, 6, 7], [3], true],
    [[4, 5, 6, 7], [0, 1, 2, 3], false],
    [[5], 0, false],
  ];
  test.each(shapes.map(([s, a, k]) => [`[${s}] axis ${JSON.stringify(a)}${k ? ' keepDims' : ''}`, s, a, k] as const))(
    '%s',
    async (_name, shape, axis, keepDims) => {
      const x = random(shape, 81);
      expect(await compareForward((t) => tf.sum(t, axis, keepDims), [x])).toBeLessThanOrEqual(TOLERANCE);
      expect(await compareForward((t) => tf.mean(t, axis, keepDims), [x])).toBeLessThanOrEqual(TOLERANCE);
    },
  );
  test("an empty input sums to zeros and averages to NaN (wasm's own leaves the output unset)", async () => {
    const empty = [{ data: new Float32Array(0), shape: [0, 3] }];
    expect(await compareForward((t) => tf.sum(t, 0), empty)).toBe(0);
    const got = await forwardOn('wasm', (t) => tf.mean(t, 0), empty);
    expect(Array.from(got.data).every(Number.isNaN)).toBe(true);
  });
  test('int32 sums stay exact and int32 (stock kernel)', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const x = tf.tensor(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      undefined,
      'int32',
    );
    const s = tf.sum(x, 0);
    expect(s.dtype).toBe('int32');
    expect(Array.from(await s.data())).toEqual([9, 12]);
    tf.dispose([x, s]);
  });
});

describe('BatchMatMul with transposed operands on wasm matches cpu', () => {
  // [a shape, b shape, transposeA, transposeB]: below and above the explicit-transpose threshold
  // (the other operand's free dimension 32), rank 3 with batch 1 and 2, and a head-like product.
  const shapes: Array<[number[], number[], boolean, boolean]> = [
    [[5, 7], [5, 40], true, false],
    [[5, 7], [5, 31], true, false],
    [[40, 6], [9, 6], false, true],
    [[31, 6], [9, 6], false, true],
    [[6, 40], [33, 6], true, true],
    [[1, 4, 50], [1, 4, 36], true, false],
    [[2, 36, 4], [2, 5, 4], false, true],
    [[8, 64], [8, 300], true, false],
    [[8, 50], [40, 50], false, true],
    [[1, 50], [33, 50], false, true],
    [[3, 4], [4, 5], false, false],
  ];
  test.each(shapes)('%j × %j, transposeA %s, transposeB %s', async (sa, sb, ta, tb) => {
    const a = random(sa, 71);
    const b = random(sb, 72);
    expect(await compareForward((x, y) => tf.matMul(x!, y!, ta, tb), [a, b])).toBeLessThanOrEqual(TOLERANCE);
    const out = tf.tidy(() => tf.matMul(tf.zeros(sa), tf.zeros(sb), ta, tb).shape);
    const dy = random(out, 73);
    const errs = await compareGrads((x, y) => tf.matMul(x!, y!, ta, tb), [a, b], dy);
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOLERANCE);
    expect(await tf.setBackend('wasm')).toBe(true);
  });

  test('the head-like weight gradient takes the explicit transpose; no tensors left', async () => {
    const [a, b, c] = [tf.ones([8, 64]), tf.ones([8, 300]), tf.ones([8, 1])];
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => tf.matMul(a, b, true, false));
    expect(profile.kernelNames).toContain('Transpose');
    (profile.result as tf.Tensor).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const small = await tf.profile(() => tf.matMul(a, c, true, false));
    expect(small.kernelNames).not.toContain('Transpose');
    (small.result as tf.Tensor).dispose();
    expect(tf.memory().numTensors).toBe(before);
    // The head's input gradient: (B · Aᵀ)ᵀ, two small transposes around an untransposed matMul.
    const [g, w] = [tf.ones([8, 300]), tf.ones([64, 300])];
    const head = await tf.profile(() => tf.matMul(g, w, false, true));
    expect(head.kernels.filter((k) => k.name === 'Transpose')).toHaveLength(2);
    (head.result as tf.Tensor).dispose();
    tf.dispose([a, b, c, g, w]);
    expect(tf.memory().numTensors).toBe(before - 3);
  });
});

describe('Transpose on wasm matches cpu', () => {
  // Sizes at the threshold (2^19 = 524,288 elements), where the heap path takes over, and small.
  test.each([
    [
      [37, 21],
      [1, 0],
    ],
    [
      [1024, 512],
      [1, 0],
    ],
    [
      [997, 531],
      [1, 0],
    ],
    [
      [8, 64, 32, 32],
      [1, 2, 0, 3],
    ],
    [
      [8, 64, 32, 33],
      [3, 0, 1, 2],
    ],
    [
      [16, 8, 64, 65],
      [2, 0, 1, 3],
    ],
    [
      [8, 64, 32, 32],
      [3, 1, 2, 0],
    ],
    [
      [4, 33, 17],
      [0, 2, 1],
    ],
    [
      [2, 3, 4],
      [2, 1, 0],
    ],
    [
      [40, 1],
      [1, 0],
    ],
  ])('[%j] perm %j (and int32)', async (shape, perm) => {
    const x = random(shape, 91);
    expect(await compareForward((t) => tf.transpose(t, perm), [x])).toBe(0);
    expect(await tf.setBackend('wasm')).toBe(true);
    const xi = tf.tensor(
      Array.from(x.data, (v) => Math.round(v * 100)),
      shape,
      'int32',
    );
    const ti = tf.transpose(xi, perm);
    expect(ti.dtype).toBe('int32');
    const ref = tf.tidy(() =>
      Array.from(
        tf
          .transpose(
            tf.tensor(
              Array.from(x.data, (v) => Math.round(v * 100)),
              shape,
              'float32',
            ),
            perm,
          )
          .dataSync(),
        (v) => v + 0,
      ),
    );
    expect(ti.shape).toEqual(perm.map((a) => shape[a]));
    expect(Array.from(ti.dataSync())).toEqual(ref);
    tf.dispose([xi, ti]);
  });

  test('blockSwap recognises block swaps and nothing else', () => {
    expect(blockSwap([37, 21], [1, 0])).toEqual([37, 21, 1]);
    expect(blockSwap([5, 6, 7, 3], [1, 2, 0, 3])).toEqual([5, 42, 3]);
    expect(blockSwap([5, 6, 7, 3], [3, 0, 1, 2])).toEqual([210, 3, 1]);
    expect(blockSwap([5, 6, 7, 3], [2, 0, 1, 3])).toEqual([30, 7, 3]);
    expect(blockSwap([5, 6, 7, 3], [0, 1, 2, 3])).toBeUndefined();
    expect(blockSwap([5, 6, 7, 3], [3, 1, 2, 0])).toBeUndefined();
    expect(blockSwap([4, 33, 17], [0, 2, 1])).toBeUndefined();
    expect(blockSwap([2, 3, 4], [2, 1, 0])).toBeUndefined();
  });
});

describe('Reverse and PadV2 on wasm match cpu', () => {
  test.each([
    [[2, 5, 6, 3], [2]],
    [
      [2, 5, 6, 3],
      [1, 2],
    ],
    [[2, 5, 6, 3], [3]],
    [
      [2, 5, 6, 3],
      [0, 3],
    ],
    [[4, 40], [0]],
    [[7], [0]],
    [[3, 4], []],
  ])('reverse [%j] along %j', async (shape, dims) => {
    expect(await compareForward((t) => tf.reverse(t, dims), [random(shape, 93)])).toBe(0);
  });

  test.each([
    [
      [2, 5, 6, 3],
      [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
      0,
    ],
    [
      [2, 5, 6, 3],
      [
        [0, 0],
        [0, 0],
        [0, 1],
        [0, 0],
      ],
      0,
    ],
    [
      [2, 5, 6, 3],
      [
        [1, 0],
        [0, 0],
        [0, 0],
        [2, 1],
      ],
      1.5,
    ],
    [
      [4, 40],
      [
        [0, 0],
        [3, 0],
      ],
      -2,
    ],
    [[7], [[2, 5]], 0],
    [
      [3, 4],
      [
        [0, 0],
        [0, 0],
      ],
      0,
    ],
  ])('pad [%j] by %j with %d', async (shape, paddings, value) => {
    const p = paddings as Array<[number, number]>;
    expect(await compareForward((t) => tf.pad(t, p, value), [random(shape, 94)])).toBe(0);
  });

  test('int32 and the gradients of roll and flip', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const xi = tf.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      undefined,
      'int32',
    );
    const r = tf.reverse(xi, 1);
    const p = tf.pad(
      xi,
      [
        [1, 0],
        [0, 2],
      ],
      7,
    );
    expect(r.dtype).toBe('int32');
    expect(r.arraySync()).toEqual([
      [3, 2, 1],
      [6, 5, 4],
    ]);
    expect(p.arraySync()).toEqual([
      [7, 7, 7, 7, 7],
      [1, 2, 3, 7, 7],
      [4, 5, 6, 7, 7],
    ]);
    tf.dispose([xi, r, p]);
    const x = random([2, 6, 7, 3], 95);
    const f = (t: tf.Tensor): tf.Tensor => tf.reverse(tf.concat(tf.split(t, [5, 2], 2).reverse(), 2), 2);
    const errs = await compareGrads(f, [x], random([2, 6, 7, 3], 96));
    expect(errs[0]).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('Slice and SplitV on wasm match cpu', () => {
  const slices: Array<[number[], number[], number[]]> = [
    [
      [2, 6, 7, 3],
      [0, 0, 1, 0],
      [2, 6, 6, 3],
    ],
    [
      [2, 6, 7, 3],
      [0, 1, 0, 0],
      [2, 5, 7, 3],
    ],
    [
      [2, 6, 7, 3],
      [1, 2, 3, 1],
      [1, 3, 2, 2],
    ],
    [
      [2, 6, 7, 3],
      [0, 0, 0, 0],
      [-1, -1, -1, -1],
    ],
    [
      [3, 1, 5, 1, 4],
      [1, 0, 2, 0, 1],
      [2, 1, 2, 1, 3],
    ],
    [[10], [3], [4]],
    [
      [4, 5],
      [1, 0],
      [2, 5],
    ],
    [
      [4, 5],
      [0, 2],
      [4, 1],
    ],
    [
      [1, 1, 1],
      [0, 0, 0],
      [1, 1, 1],
    ],
    [
      [3, 4, 5],
      [0, 1, 0],
      [3, 0, 5],
    ],
  ];
  test.each(slices.map(([s, b, z]) => [`[${s}] begin [${b}] size [${z}]`, s, b, z] as const))(
    '%s',
    async (_name, shape, begin, size) => {
      expect(await compareForward((t) => tf.slice(t, begin, size), [random(shape, 91)])).toBe(0);
    },
  );
  test('int32 and bool slices', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const i = tf.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      undefined,
      'int32',
    );
    const b = tf.tensor(
      [
        [true, false, true],
        [false, true, true],
      ],
      undefined,
      'bool',
    );
    const si = tf.slice(i, [0, 1], [2, 2]);
    const sb = tf.slice(b, [1, 0], [1, 2]);
    expect([si.dtype, sb.dtype]).toEqual(['int32', 'bool']);
    expect(Array.from(await si.data())).toEqual([2, 3, 5, 6]);
    expect(Array.from(await sb.data())).toEqual([0, 1]);
    tf.dispose([i, b, si, sb]);
  });
  test.each([
    ['sizes on axis 2', [7, 5], 2],
    ['three equal pieces on axis 1', 3, 1],
    ['sizes with -1 on axis 0', [1, -1], 0],
  ] as const)('split: %s', async (_name, splits, axis) => {
    const x = random([3, 6, 12, 2], 92);
    for (let piece = 0; piece < (typeof splits === 'number' ? splits : splits.length); piece++) {
      const f = (t: tf.Tensor): tf.Tensor => tf.split(t, splits as number | number[], axis)[piece]!;
      expect(await compareForward(f, [x])).toBe(0);
    }
  });
});

describe('Identity on wasm', () => {
  test('a clone shares the data, and either can be disposed first', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const buffers = tf.engine().backend.numDataIds();
    const a = tf.tensor([1, 2, 3]);
    const b = tf.clone(a);
    expect(tf.engine().backend.numDataIds()).toBe(buffers + 1);
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1, 2, 3]);
    b.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });
});

/** conv 3×3/2 → BN (tfjs differentiates it only with scale and offset) → PReLU → conv 1×1 → slice; loss = mean of squares. */
function block(x: tf.Tensor, w1: tf.Tensor, m: tf.Tensor, v: tf.Tensor, a: tf.Tensor, w2: tf.Tensor): tf.Tensor {
  const h = tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, 'same');
  const n = tf.prelu(tf.batchNorm(h, m, tf.abs(v), m, v, 1e-3), a);
  const y = tf.conv2d(n as tf.Tensor4D, w2 as tf.Tensor4D, 1, 'valid');
  return tf.mean(tf.square(tf.slice(y, [0, 1, 0, 0], [-1, -1, -1, -1])));
}
const blockInputs = (): Named[] => [
  random([2, 9, 9, 3], 101),
  random([3, 3, 3, 8], 102),
  random([8], 103),
  random([8], 104),
  random([1, 1, 8], 105),
  random([1, 1, 8, 4], 106),
];

describe('a conv + BN + PReLU block', () => {
  test('gradients w.r.t. the input and the weights match cpu', async () => {
    const f = (x: tf.Tensor, w1: tf.Tensor, m: tf.Tensor, v: tf.Tensor, a: tf.Tensor, w2: tf.Tensor): tf.Tensor =>
      block(x, w1, m, v, a, w2);
    const errs = await compareGrads(f, blockInputs(), { data: new Float32Array([1]), shape: [] });
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOLERANCE);
  });

  test('leaks no tensors and no wasm buffers', async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
    const inputs = blockInputs().map((t) => tf.tensor(t.data, t.shape));
    const g = (...ts: tf.Tensor[]): tf.Tensor => block(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!);
    tf.dispose(tf.grads(g)(inputs));
    const before = tf.memory().numTensors;
    const buffersBefore = tf.engine().backend.numDataIds();
    for (let round = 0; round < 2; round++) {
      const gs = tf.grads(g)(inputs);
      expect(gs.map((t) => t.shape)).toEqual(inputs.map((t) => t.shape));
      tf.dispose(gs);
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.engine().backend.numDataIds()).toBe(buffersBefore);
    }
    tf.dispose(inputs);
  });
});
