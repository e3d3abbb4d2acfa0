/**
 * arcinvert's own SIMD kernels on the wasm backend (`kernels.wat`): memory-bound steps that tfjs
 * composes from several kernels, each a pass over the activation, done here in one. The module
 * imports the wasm backend's memory, so it works on tensors where they lie on the heap.
 *
 *   - `bnAct` (inference) and `bnTrainAct` (training): a BatchNorm, the PReLU that follows it
 *     and the statistics of its input as one op, forward and backward in one or two passes where
 *     tf ops make ~40 kernels (`FrozenGraph` and `TrainGraph` fuse the pairs; docs/PERFORMANCE.md).
 *   - `preluDx`: PReLU's input gradient dy·(x > 0 ? 1 : α) in one pass, where the element-wise
 *     form (`gradients.ts`) makes four (Step, Multiply, Add, Multiply).
 *   - `channelStatsValue`: per-channel mean and biased variance of an NHWC activation in two
 *     reads and no write, where tfjs makes a Mean (two average pools), a full-size
 *     SquaredDifference, another Mean and a Stack. Sums in float32 over blocks of 64 rows and
 *     over the blocks in float64, so the error does not grow with the batch.
 *   - `depthwiseDxStrided` and `depthwiseDw`: a depthwise conv's input gradient (strided) and
 *     filter gradient (channel multiplier 1) in one pass over dy, where `wasmGradKernels.ts`
 *     convolves a zero-inserted dy or cuts a window of the input per tap (wasmGradKernels.test.ts).
 *
 * Each returns undefined where it does not apply (another backend, another dtype, channels not
 * a multiple of 4, a parameter that is not one value per channel); the callers then run the
 * tf ops they replace, so coverage only costs speed. Tested against those ops on tfjs-backend-cpu
 * (tests/engine/simd.test.ts, bnAct.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KERNELS_WASM_BASE64 } from './kernels.js';
import { statsGradAffine } from '../statsGrad.js';

/** A BatchNorm's parameters as kernels.wat takes them: heap offsets of γ, β, μ, σ² and α (0: none), and ε. */
type BnPointers = [gamma: number, beta: number, mean: number, variance: number, eps: number, alpha: number];

/**
 * The depthwise kernels' arguments: three heap offsets (what is written, dy, and the filter or
 * the input), the input's [N, H, W, C], dy's [OH, OW], the filter's [KH, KW], the strides and the
 * top / left padding.
 */
type DepthwiseArgs = [
  out: number,
  dy: number,
  other: number,
  n: number,
  h: number,
  width: number,
  c: number,
  oh: number,
  ow: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
];

/** The exports of kernels.wat (byte offsets into the backend's heap). */
interface SimdExports {
  prelu_dx(dx: number, dy: number, x: number, alpha: number, rows: number, c: number): void;
  channel_stats(out: number, x: number, rows: number, c: number, scratch: number): void;
  bn_act(...args: [y: number, x: number, ...bn: BnPointers, rows: number, c: number, scratch: number]): void;
  bn_act_dx(
    ...args: [
      dx: number,
      dy: number,
      x: number,
      ...bn: BnPointers,
      a2: number,
      b2: number,
      rows: number,
      c: number,
      scratch: number,
    ]
  ): void;
  bn_act_sums(
    ...args: [out: number, dy: number, x: number, ...bn: BnPointers, rows: number, c: number, scratch: number]
  ): void;
  /** dw [KH, KW, C] from dy and x: `DepthwiseArgs` with the filter gradient, dy and x first. */
  depthwise_dw(...args: DepthwiseArgs): void;
  /** dx [N, H, W, C] from dy and the filter: `DepthwiseArgs` with dx, dy and the filter first. */
  depthwise_dx(...args: DepthwiseArgs): void;
}

/** The parts of tfjs-backend-wasm's backend these kernels use (not in its public types). */
interface WasmInternals {
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  wasm: { asm: { memory: object }; _malloc(bytes: number): number; _free(ptr: number): void };
}

/** Node's WebAssembly global, which this project's type libraries do not declare. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const { WebAssembly } = globalThis as unknown as { WebAssembly: WebAssemblyApi };

export const PRELU_DX = 'ArcinvertPreluDx';
export const CHANNEL_STATS = 'ArcinvertChannelStats';
export const BN_ACT = 'ArcinvertBnAct';
export const BN_ACT_DX = 'ArcinvertBnActDx';
export const BN_TRAIN_ACT = 'ArcinvertBnTrainAct';
export const BN_ACT_SUMS = 'ArcinvertBnActSums';
export const DEPTHWISE_DX = 'ArcinvertDepthwiseDx';
export const DEPTHWISE_DW = 'ArcinvertDepthwiseDw';

let compiled: object | undefined;
const instances = new WeakMap<object, SimdExports>();

function kernelsFor(backend: BackendWasm): SimdExports {
  let k = instances.get(backend);
  if (k === undefined) {
    compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
    const memory = (backend as unknown as WasmInternals).wasm.asm.memory;
    k = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdExports;
    instances.set(backend, k);
  }
  return k;
}

function offsetOf(backend: BackendWasm, t: tf.TensorInfo): number {
  const entry = (backend as unknown as WasmInternals).dataIdMap.get(t.dataId);
  if (entry === undefined) throw new Error('simd kernel: a tensor without data on the wasm heap');
  return entry.memoryOffset;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function preluDxKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const x = inputs.x!;
  const { at, rows, c } = heapView(wasm, x);
  const out = wasm.makeOutput(x.shape, 'float32');
  if (rows > 0) kernelsFor(wasm).prelu_dx(at(out), at(inputs.dy), at(x), at(inputs.alpha), rows, c);
  return out;
}

function channelStatsKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const x = inputs.x!;
  const { at, rows, c } = heapView(wasm, x);
  const out = wasm.makeOutput([2, c], 'float32');
  withScratch(wasm, 12 * c, (scratch) => kernelsFor(wasm).channel_stats(at(out), at(x), rows, c, scratch));
  return out;
}

/** Runs `f` with `bytes` of scratch memory on the backend's heap. */
function withScratch<T>(backend: BackendWasm, bytes: number, f: (scratch: number) => T): T {
  const internals = (backend as unknown as WasmInternals).wasm;
  const scratch = internals._malloc(bytes);
  try {
    return f(scratch);
  } finally {
    internals._free(scratch);
  }
}

/** A kernel's view of the heap: offsets of its tensors (0 for an absent one), rows and channels of x. */
function heapView(wasm: BackendWasm, x: tf.TensorInfo): { at: (t?: tf.TensorInfo) => number; rows: number; c: number } {
  const c = x.shape[x.shape.length - 1];
  return { at: (t) => (t === undefined ? 0 : offsetOf(wasm, t)), rows: tf.util.sizeFromShape(x.shape) / c, c };
}

/** The BatchNorm inputs of a kernel as `BnPointers`; `meanVariance` overrides μ and σ² (a [2, C] statistics tensor). */
function bnPointers(
  at: (t?: tf.TensorInfo) => number,
  inputs: Record<string, tf.TensorInfo | undefined>,
  epsilon: number,
  meanVariance?: [number, number],
): BnPointers {
  const [mean, variance] = meanVariance ?? [at(inputs.mean), at(inputs.variance)];
  return [at(inputs.gamma), at(inputs.beta), mean, variance, epsilon, at(inputs.alpha)];
}

/** Inputs x, gamma, beta, mean, variance[, alpha]; attrs epsilon, stats. Outputs y[, stats [2, C]]. */
function bnActKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { epsilon, stats } = attrs as unknown as { epsilon: number; stats: boolean };
  const wasm = backend as BackendWasm;
  const x = inputs.x!;
  const { at, rows, c } = heapView(wasm, x);
  const y = wasm.makeOutput(x.shape, 'float32');
  const s = stats ? wasm.makeOutput([2, c], 'float32') : undefined;
  withScratch(wasm, 12 * c, (scratch) => {
    const k = kernelsFor(wasm);
    k.bn_act(at(y), at(x), ...bnPointers(at, inputs, epsilon), rows, c, scratch);
    if (s !== undefined) k.channel_stats(at(s), at(x), rows, c, scratch);
  });
  return s === undefined ? [y] : [y, s];
}

/** Inputs dy, x, gamma, beta, mean, variance, a2, b2[, alpha]; attr epsilon. Output dx. */
function bnActDxKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { epsilon } = attrs as unknown as { epsilon: number };
  const wasm = backend as BackendWasm;
  const x = inputs.x!;
  const { at, rows, c } = heapView(wasm, x);
  const dx = wasm.makeOutput(x.shape, 'float32');
  const bn = bnPointers(at, inputs, epsilon);
  withScratch(wasm, 12 * c, (scratch) =>
    kernelsFor(wasm).bn_act_dx(at(dx), at(inputs.dy), at(x), ...bn, at(inputs.a2), at(inputs.b2), rows, c, scratch),
  );
  return dx;
}

/** Training mode: inputs x, gamma, beta[, alpha]; attr epsilon. Outputs y and x's batch statistics [2, C], which normalise it. */
function bnTrainActKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { epsilon } = attrs as unknown as { epsilon: number };
  const wasm = backend as BackendWasm;
  const x = inputs.x!;
  const { at, rows, c } = heapView(wasm, x);
  const y = wasm.makeOutput(x.shape, 'float32');
  const stats = wasm.makeOutput([2, c], 'float32');
  withScratch(wasm, 12 * c, (scratch) => {
    const k = kernelsFor(wasm);
    k.channel_stats(at(stats), at(x), rows, c, scratch);
    const bn = bnPointers(at, inputs, epsilon, [at(stats), at(stats) + 4 * c]);
    k.bn_act(at(y), at(x), ...bn, rows, c, scratch);
  });
  return [y, stats];
}

/** Inputs dy, x, gamma, beta, mean, variance[, alpha]; attr epsilon. Output [3, C]: Σ g, Σ g·x̂, Σ dy·min(z, 0). */
function bnActSumsKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { epsilon } = attrs as unknown as { epsilon: number };
  const wasm = backend as BackendWasm;
  const x = inputs.x!;
  const { at, rows, c } = heapView(wasm, x);
  const out = wasm.makeOutput([3, c], 'float32');
  const bn = bnPointers(at, inputs, epsilon);
  withScratch(wasm, 52 * c, (scratch) =>
    kernelsFor(wasm).bn_act_sums(at(out), at(inputs.dy), at(x), ...bn, rows, c, scratch),
  );
  return out;
}

/** Inputs dy [N, OH, OW, C], filter [KH, KW, C, 1]; attrs inputShape, strides [sh, sw], top, left. Output dx. */
function depthwiseDxKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { inputShape, strides, top, left } = attrs as unknown as {
    inputShape: [number, number, number, number];
    strides: [number, number];
    top: number;
    left: number;
  };
  const wasm = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const [n, h, w, c] = inputShape;
  const [, oh, ow] = dy.shape;
  const [kh, kw] = filter.shape;
  const dx = wasm.makeOutput(inputShape, 'float32');
  const at = (t: tf.TensorInfo): number => offsetOf(wasm, t);
  kernelsFor(wasm).depthwise_dx(at(dx), at(dy), at(filter), n, h, w, c, oh!, ow!, kh!, kw!, ...strides, top, left);
  return dx;
}

/** Inputs x [N, H, W, C], dy [N, OH, OW, C]; attrs filterSize [KH, KW], strides [sh, sw], top, left. Output dw [KH, KW, C, 1]. */
function depthwiseDwKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { filterSize, strides, top, left } = attrs as unknown as {
    filterSize: [number, number];
    strides: [number, number];
    top: number;
    left: number;
  };
  const wasm = backend as BackendWasm;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape;
  const dw = wasm.makeOutput([...filterSize, c, 1], 'float32');
  const at = (t: tf.TensorInfo): number => offsetOf(wasm, t);
  kernelsFor(wasm).depthwise_dw(at(dw), at(dy), at(x), n, h, w, c, oh!, ow!, ...filterSize, ...strides, top, left);
  return dw;
}

/** Registers the kernels for the 'wasm' backend (idempotent). */
export function registerSimdKernels(): void {
  const kernels: Array<[string, tf.KernelFunc]> = [
    [PRELU_DX, preluDxKernel],
    [CHANNEL_STATS, channelStatsKernel],
    [BN_ACT, bnActKernel as tf.KernelFunc],
    [BN_ACT_DX, bnActDxKernel],
    [BN_TRAIN_ACT, bnTrainActKernel as tf.KernelFunc],
    [BN_ACT_SUMS, bnActSumsKernel],
    [DEPTHWISE_DX, depthwiseDxKernel],
    [DEPTHWISE_DW, depthwiseDwKernel],
  ];
  for (const [kernelName, kernelFunc] of kernels)
    if (tf.getKernel(kernelName, 'wasm') === undefined)
      tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
}

/** Whether `name` runs here for float32 `x` of `c % 4 == 0` channels. */
function applies(name: string, x: tf.Tensor): boolean {
  const c = x.shape[x.rank - 1];
  return (
    x.dtype === 'float32' &&
    x.rank >= 1 &&
    c > 0 &&
    c % 4 === 0 &&
    tf.getBackend() === 'wasm' &&
    tf.getKernel(name, 'wasm') !== undefined
  );
}

/** dy·(x > 0 ? 1 : α) for α of one value per channel of x (any shape of C elements whose last axis is C); else undefined. */
export function preluDx(dy: tf.Tensor, x: tf.Tensor, alpha: tf.Tensor): tf.Tensor | undefined {
  const c = x.shape[x.rank - 1];
  const perChannel = alpha.size === c && alpha.shape[alpha.rank - 1] === c && alpha.dtype === 'float32';
  if (!perChannel || !applies(PRELU_DX, x) || !tf.util.arraysEqual(dy.shape, x.shape) || dy.dtype !== 'float32')
    return undefined;
  return tf.engine().runKernel(PRELU_DX, { dy, x, alpha } as unknown as tf.NamedTensorMap) as tf.Tensor;
}

/** [2, C]: per-channel mean and biased variance over every axis but the last; else undefined. */
export function channelStatsValue(x: tf.Tensor): tf.Tensor2D | undefined {
  if (!applies(CHANNEL_STATS, x) || x.size === 0) return undefined;
  return tf.engine().runKernel(CHANNEL_STATS, { x } as unknown as tf.NamedTensorMap) as tf.Tensor2D;
}

/** An inference-mode BatchNorm over the last axis, optionally followed by a PReLU with one α per channel. */
export interface BnAct {
  gamma: tf.Tensor;
  beta: tf.Tensor;
  mean: tf.Tensor;
  variance: tf.Tensor;
  epsilon: number;
  alpha?: tf.Tensor;
}

/** Whether `bnAct` runs for `x` and `p` here: wasm, float32, C % 4 = 0, every parameter C values. */
export function bnActApplies(x: tf.Tensor, p: BnAct): boolean {
  const c = x.shape[x.rank - 1];
  const params = [p.gamma, p.beta, p.mean, p.variance, ...(p.alpha ? [p.alpha] : [])];
  return (
    (x.rank === 2 || x.rank === 4) &&
    x.size > 0 &&
    applies(BN_ACT, x) &&
    tf.getKernel(BN_ACT_DX, 'wasm') !== undefined &&
    params.every((t) => t.dtype === 'float32' && t.size === c && t.shape[t.rank - 1] === c)
  );
}

/**
 * prelu(batchNorm(x)) (inference mode; no PReLU without `alpha`) and, with `withStats`, x's
 * per-channel batch statistics [2, C] (`channelStats`), as one op whose gradient reaches x only
 * (the parameters are constants of it, as in `FrozenGraph`): dx = (z > 0 ? dy : dy·α)·f + the
 * statistics' gradient (`channelStats`'), one pass where the separate ops make five (PReLU's,
 * BatchNorm's and the statistics' gradients and two adds). Call only where `bnActApplies`.
 */
export function bnAct(x: tf.Tensor, p: BnAct, withStats: boolean): { y: tf.Tensor; stats?: tf.Tensor2D } {
  const params: tf.NamedTensorMap = {
    gamma: p.gamma,
    beta: p.beta,
    mean: p.mean,
    variance: p.variance,
    ...(p.alpha ? { alpha: p.alpha } : {}),
  };
  const c = x.shape[x.rank - 1];
  const n = x.size / c;
  // tf.customGrad allows one output only; the engine's own entry point takes several (its
  // tape hands a zero dy to an output the loss does not reach).
  const engine = tf.engine() as unknown as { runKernelFunc(params: object): tf.Tensor | tf.Tensor[] };
  const out = engine.runKernelFunc({
    inputs: { x },
    forwardFunc: (_backend: unknown, save: tf.GradSaveFunc) => {
      const outs = tf.engine().runKernel(BN_ACT, { x, ...params }, {
        epsilon: p.epsilon,
        stats: withStats,
      } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
      save(withStats ? [x, outs[1]!] : [x]);
      return withStats ? outs : outs[0]!;
    },
    backwardsFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => ({
      x: () => {
        const [dy, dStats] = Array.isArray(dys) ? dys : [dys];
        const [xs, stats] = saved;
        let a2: tf.Tensor;
        let b2: tf.Tensor;
        if (dStats !== undefined && stats !== undefined) {
          // channelStats' gradient: dx = x·a2 + b2.
          const mu = tf.reshape(tf.slice(stats, [0, 0], [1, c]), [c]);
          [a2, b2] = statsGradAffine(dStats, mu, n);
        } else {
          [a2, b2] = [tf.zeros([c]), tf.zeros([c])];
        }
        return tf.engine().runKernel(BN_ACT_DX, { dy: dy!, x: xs!, a2, b2, ...params }, {
          epsilon: p.epsilon,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
      },
    }),
  });
  return Array.isArray(out) ? { y: out[0]!, stats: out[1] as tf.Tensor2D } : { y: out };
}

/** A training-mode BatchNorm over the last axis, optionally followed by a PReLU with one α per channel. */
export interface BnTrainAct {
  gamma: tf.Tensor;
  beta: tf.Tensor;
  epsilon: number;
  alpha?: tf.Tensor;
}

/** Whether `bnTrainAct` runs for `x` and `p` here (as `bnActApplies`). */
export function bnTrainActApplies(x: tf.Tensor, p: BnTrainAct): boolean {
  return (
    bnActApplies(x, { ...p, mean: p.gamma, variance: p.gamma }) &&
    tf.getKernel(BN_TRAIN_ACT, 'wasm') !== undefined &&
    tf.getKernel(BN_ACT_SUMS, 'wasm') !== undefined
  );
}

/**
 * Training mode: prelu(γ·(x − μ)/√(σ² + ε) + β) with μ, σ² x's batch statistics (biased), and
 * those statistics [2, C], as one op differentiable w.r.t. x, γ, β and α. Forward: the
 * statistics (two reads) and the output (one pass). Backward: one pass for the per-channel sums
 * Σg, Σg·x̂ and Σdy·min(z, 0) (g the PReLU-gated dy; they are β's, γ's and α's gradients) and one
 * for dx = f·g + x·A + B (`bn_act_dx`), with f = γ/√(σ² + ε), A = −f·Σg·x̂/(n·√(σ² + ε)) and
 * B = −f·Σg/n − A·μ, plus the statistics' own gradient where the loss reads them. tf.batchNorm +
 * channelStats + PReLU make about 25 kernels of it. Call only where `bnTrainActApplies`.
 */
export function bnTrainAct(x: tf.Tensor, p: BnTrainAct): { y: tf.Tensor; stats: tf.Tensor2D } {
  const c = x.shape[x.rank - 1];
  const n = x.size / c;
  const inputs: tf.NamedTensorMap = { x, gamma: p.gamma, beta: p.beta, ...(p.alpha ? { alpha: p.alpha } : {}) };
  const attrs = { epsilon: p.epsilon } as unknown as tf.NamedAttrMap;
  const engine = tf.engine() as unknown as { runKernelFunc(params: object): tf.Tensor[] };
  const [y, stats] = engine.runKernelFunc({
    inputs,
    forwardFunc: (_backend: unknown, save: tf.GradSaveFunc) => {
      const outs = tf.engine().runKernel(BN_TRAIN_ACT, inputs, attrs) as unknown as tf.Tensor[];
      save([x, outs[1]!]);
      return outs;
    },
    backwardsFunc: ([dy, dStats]: tf.Tensor[], saved: tf.Tensor[]) => {
      const [xs, s] = saved as [tf.Tensor, tf.Tensor2D];
      const [mean, variance] = tf.unstack(s) as [tf.Tensor1D, tf.Tensor1D];
      const params = { gamma: p.gamma, beta: p.beta, mean, variance, ...(p.alpha ? { alpha: p.alpha } : {}) };
      const sums = tf.engine().runKernel(BN_ACT_SUMS, { dy: dy!, x: xs, ...params }, attrs) as tf.Tensor2D;
      const [sumG, sumGx, sumA] = tf.unstack(sums) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      const r = tf.rsqrt(tf.add(variance, p.epsilon));
      const f = tf.mul(p.gamma, r);
      let a2 = tf.neg(tf.mul(tf.mul(f, r), tf.div(sumGx, n)));
      let b2 = tf.sub(tf.neg(tf.mul(f, tf.div(sumG, n))), tf.mul(a2, mean));
      if (dStats !== undefined) {
        // The statistics' own gradient, where the loss reads them (channelStats').
        const [a, b] = statsGradAffine(dStats, mean, n);
        a2 = tf.add(a2, a);
        b2 = tf.add(b2, b);
      }
      return {
        x: () => tf.engine().runKernel(BN_ACT_DX, { dy: dy!, x: xs, a2, b2, ...params }, attrs) as tf.Tensor,
        gamma: () => tf.reshape(sumGx, p.gamma.shape),
        beta: () => tf.reshape(sumG, p.beta.shape),
        ...(p.alpha ? { alpha: () => tf.reshape(sumA, p.alpha!.shape) } : {}),
      };
    },
  });
  return { y: y!, stats: stats as tf.Tensor2D };
}

/**
 * dx of a strided depthwise conv with channel multiplier 1 by scattering each dy pixel's
 * channels times the taps into dx (`depthwise_dx`), instead of a stride-1 conv over a
 * zero-inserted, padded dy four times dy's size; undefined where it does not apply (another
 * backend or dtype, a multiplier, channels not a multiple of 4, stride 1, dilation).
 */
export function depthwiseDxStrided(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D | undefined {
  const { strideHeight: sh, strideWidth: sw, dilationHeight, dilationWidth, padInfo } = info;
  if (sh === 1 && sw === 1) return undefined;
  if (dilationHeight !== 1 || dilationWidth !== 1 || filter.shape[3] !== 1 || filter.dtype !== 'float32')
    return undefined;
  if (!applies(DEPTHWISE_DX, dy) || dy.size === 0) return undefined;
  const inputShape = [info.batchSize, info.inHeight, info.inWidth, info.inChannels];
  return tf.engine().runKernel(DEPTHWISE_DX, { dy, filter }, {
    inputShape,
    strides: [sh, sw],
    top: padInfo.top,
    left: padInfo.left,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * The filter gradient [KH, KW, C, 1] of a depthwise conv with channel multiplier 1 and no
 * dilation (`depthwise_dw`: every dy pixel times the input under each tap, summed, in one pass
 * over dy), for float32 with C % 4 == 0 on wasm; else undefined.
 */
export function depthwiseDw(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D | undefined {
  const { dilationHeight, dilationWidth, padInfo } = info;
  if (dilationHeight !== 1 || dilationWidth !== 1 || info.outChannels !== info.inChannels) return undefined;
  if (dy.dtype !== 'float32' || !applies(DEPTHWISE_DW, x) || x.size === 0 || dy.size === 0) return undefined;
  return tf.engine().runKernel(DEPTHWISE_DW, { x, dy }, {
    filterSize: [info.filterHeight, info.filterWidth],
    strides: [info.strideHeight, info.strideWidth],
    top: padInfo.top,
    left: padInfo.left,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
