/**
 * arcinvert's own SIMD kernels on the wasm backend (`kernels.wat`): memory-bound steps that tfjs
 * composes from several kernels, each a pass over the activation, done here in one. The module
 * imports the wasm backend's memory, so it works on tensors where they lie on the heap.
 *
 *   - `preluDx`: PReLU's input gradient dy·(x > 0 ? 1 : α) in one pass, where the element-wise
 *     form (`gradients.ts`) makes four (Step, Multiply, Add, Multiply).
 *   - `channelStatsValue`: per-channel mean and biased variance of an NHWC activation in two
 *     reads and no write, where tfjs makes a Mean (two average pools), a full-size
 *     SquaredDifference, another Mean and a Stack. Sums in float32 over blocks of 64 rows and
 *     over the blocks in float64, so the error does not grow with the batch.
 *
 * Each returns undefined where it does not apply (another backend, another dtype, channels not
 * a multiple of 4, a parameter that is not one value per channel); the callers then run the
 * tf ops they replace, so coverage only costs speed. Tested against those ops on tfjs-backend-cpu
 * (tests/engine/simd.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KERNELS_WASM_BASE64 } from './kernels.js';

/** The exports of kernels.wat (byte offsets into the backend's heap). */
interface SimdExports {
  prelu_dx(dx: number, dy: number, x: number, alpha: number, rows: number, c: number): void;
  channel_stats(out: number, x: number, rows: number, c: number, scratch: number): void;
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
  const { dy, x, alpha } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; alpha: tf.TensorInfo };
  const wasm = backend as BackendWasm;
  const c = x.shape[x.shape.length - 1];
  const out = wasm.makeOutput(x.shape, 'float32');
  if (tf.util.sizeFromShape(x.shape) > 0) {
    kernelsFor(wasm).prelu_dx(
      offsetOf(wasm, out),
      offsetOf(wasm, dy),
      offsetOf(wasm, x),
      offsetOf(wasm, alpha),
      tf.util.sizeFromShape(x.shape) / c,
      c,
    );
  }
  return out;
}

function channelStatsKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { x } = inputs as { x: tf.TensorInfo };
  const wasm = backend as BackendWasm;
  const c = x.shape[x.shape.length - 1];
  const out = wasm.makeOutput([2, c], 'float32');
  const internals = (wasm as unknown as WasmInternals).wasm;
  const scratch = internals._malloc(12 * c);
  try {
    kernelsFor(wasm).channel_stats(
      offsetOf(wasm, out),
      offsetOf(wasm, x),
      tf.util.sizeFromShape(x.shape) / c,
      c,
      scratch,
    );
  } finally {
    internals._free(scratch);
  }
  return out;
}

/** Registers the kernels for the 'wasm' backend (idempotent). */
export function registerSimdKernels(): void {
  if (tf.getKernel(PRELU_DX, 'wasm') === undefined)
    tf.registerKernel({ kernelName: PRELU_DX, backendName: 'wasm', kernelFunc: preluDxKernel });
  if (tf.getKernel(CHANNEL_STATS, 'wasm') === undefined)
    tf.registerKernel({ kernelName: CHANNEL_STATS, backendName: 'wasm', kernelFunc: channelStatsKernel });
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
