/**
 * Matrix products on onnxruntime's native CPU engine inside the wasm backend's kernels.
 *
 * On this engine three quarters of an inversion step are XNNPACK's wasm SIMD matrix products
 * (the 1×1 convolutions forward and their input gradients), at 25–40 GFLOP/s: 128-bit vectors
 * without fused multiply-add. onnxruntime-node's MLAS runs the same products with the CPU's own
 * AVX2 / AVX-512 FMA kernels, 3–5× faster on one thread (docs/PERFORMANCE.md, "Matrix products
 * on onnxruntime"). Its binding's `run` is synchronous underneath the promise of the public API,
 * so a tfjs kernel can call it directly: the operands are views of the wasm heap, and the product
 * is written straight into the output tensor's heap memory (the binding also hands back a copy,
 * which is dropped: see `GLIBC_MALLOC_TUNABLES`).
 *
 * Covered (float32, at least `NATIVE_GEMM_FROM` multiply-adds, else the previous kernel runs):
 *   - `BatchMatMul` of 2-D operands, or 3-D ones with a batch of 1, either operand transposed
 *     (the 1×1 convs' input gradients dy·Wᵀ, their weight gradients xᵀ·dy, the heads' products);
 *   - `Conv2D` with a 1×1 filter, stride 1, no padding, NHWC: `[N·H·W, Cin] × [Cin, Cout]`.
 *
 * One thread per engine (MLAS on the calling thread), as the wasm backend; arcinvert's workers
 * give each core its own. The products are deterministic run to run; they differ from XNNPACK's
 * in float rounding only (tests/engine/nativeGemm.test.ts compares them with the cpu backend).
 * Off where onnxruntime-node does not load, or with `ARCINVERT_NATIVE_GEMM=0`.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Products smaller than this many multiply-adds stay on the wasm kernels (a native call costs ~20 µs). */
export const NATIVE_GEMM_FROM = 2 ** 16;

/**
 * glibc malloc settings under which the native products pay (`GLIBC_TUNABLES`, read once at
 * process start: the README's quick start sets them on its command line, the bench for its cells): each
 * product's call hands back a fresh copy of its output, and with glibc's defaults the freed
 * copies' memory goes back to the kernel (trimmed, or unmapped above the dynamic mmap threshold)
 * and is faulted in again by the next: a step then costs as much as without the native products.
 * Never trimming, taking buffers up to 32 MiB from the heap and growing it 256 MiB at a time keeps
 * that memory mapped.
 */
export const GLIBC_MALLOC_TUNABLES =
  'glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=268435456';

/** The environment variable that turns the native products off ('0'). */
export const NATIVE_GEMM_ENV = 'ARCINVERT_NATIVE_GEMM';

interface OrtTensor {
  readonly data: Float32Array;
}
type OrtTensorConstructor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
interface BindingSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor | null>, options: object): unknown;
}
interface Binding {
  binding: { InferenceSession: new () => BindingSession };
  initOrt(): void;
}

/** `Y = op(A) · op(B)` for 2-D float32 operands, `op` a transpose where flagged. */
export class NativeGemm {
  private readonly sessions = new Map<string, BindingSession>();

  private constructor(
    private readonly binding: Binding,
    private readonly Tensor: OrtTensorConstructor,
  ) {}

  /** The native engine, or null where onnxruntime-node (or its binding's layout) is not there. */
  static load(): NativeGemm | null {
    try {
      const require = createRequire(import.meta.url);
      const ort = require('onnxruntime-node') as { Tensor: OrtTensorConstructor };
      const binding = require('onnxruntime-node/dist/binding.js') as Binding;
      if (typeof binding.initOrt !== 'function' || typeof binding.binding?.InferenceSession !== 'function') return null;
      binding.initOrt();
      const gemm = new NativeGemm(binding, ort.Tensor);
      gemm.session(false, false); // fails here, not in a kernel, if the binding cannot run a model
      return gemm;
    } catch {
      return null;
    }
  }

  /**
   * Writes op(a) · op(b) into `out` ([m, n], row-major): a is [m, k] ([k, m] when `transposeA`),
   * b is [k, n] ([n, k] when `transposeB`).
   */
  multiply(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    [m, k, n]: readonly [number, number, number],
    transposeA: boolean,
    transposeB: boolean,
  ): void {
    const { Tensor } = this;
    const feeds = {
      A: new Tensor('float32', a, transposeA ? [k, m] : [m, k]),
      B: new Tensor('float32', b, transposeB ? [n, k] : [k, n]),
    };
    this.session(transposeA, transposeB).run(feeds, { Y: new Tensor('float32', out, [m, n]) }, {});
  }

  private session(transposeA: boolean, transposeB: boolean): BindingSession {
    const key = `${transposeA ? 't' : 'n'}${transposeB ? 't' : 'n'}`;
    let s = this.sessions.get(key);
    if (!s) {
      const bytes = gemmModel(transposeA, transposeB);
      s = new this.binding.binding.InferenceSession();
      s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
        intraOpNumThreads: 1,
        extra: { session: { intra_op: { allow_spinning: '0' } } },
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      this.sessions.set(key, s);
    }
    return s;
  }
}

/** An ONNX model of one Gemm node with symbolic sizes: inputs A, B, output Y. */
function gemmModel(transposeA: boolean, transposeB: boolean): Uint8Array {
  const value = (name: string, dims: string[]): object => ({
    name,
    type: {
      tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimParam: d })) } },
    },
  });
  const INT = onnx.AttributeProto.AttributeType.INT;
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'gemm',
      node: [
        {
          opType: 'Gemm',
          input: ['A', 'B'],
          output: ['Y'],
          attribute: [
            { name: 'transA', type: INT, i: transposeA ? 1 : 0 },
            { name: 'transB', type: INT, i: transposeB ? 1 : 0 },
          ],
        },
      ],
      input: [value('A', transposeA ? ['K', 'M'] : ['M', 'K']), value('B', transposeB ? ['N', 'K'] : ['K', 'N'])],
      output: [value('Y', ['M', 'N'])],
    },
  }).finish();
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** `t`'s float32 values on the wasm heap, in place. */
function heap(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** BatchMatMul by `gemm` where it is a single product of float32 matrices large enough; else `previous`. */
function nativeBatchMatMul(gemm: NativeGemm, previous: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    const single = (t: tf.TensorInfo): boolean => t.shape.length === 2 || (t.shape.length === 3 && t.shape[0] === 1);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !single(a) || !single(b)) return previous(args);
    const [ra, rb] = [a.shape.length, b.shape.length];
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (m * k * n < NATIVE_GEMM_FROM) return previous(args);
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(ra === 3 || rb === 3 ? [1, m, n] : [m, n], 'float32');
    gemm.multiply(heap(backend, a), heap(backend, b), heap(backend, out), [m, k, n], !!transposeA, !!transposeB);
    return out;
  };
}

/** Conv2D by `gemm` where it is a 1×1, stride-1, unpadded NHWC conv large enough; else `previous`. */
function nativeConv2D(gemm: NativeGemm, previous: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = args.attrs as unknown as tf.Conv2DAttrs;
    if (x.dtype !== 'float32' || filter.dtype !== 'float32' || dataFormat === 'NCHW') return previous(args);
    const [kh, kw, cin, cout] = filter.shape;
    if (kh !== 1 || kw !== 1 || x.shape.length !== 4) return previous(args);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
    );
    const { padInfo } = info;
    const plain =
      info.strideHeight === 1 &&
      info.strideWidth === 1 &&
      padInfo.top + padInfo.bottom + padInfo.left + padInfo.right === 0 &&
      info.outHeight === info.inHeight &&
      info.outWidth === info.inWidth;
    const m = info.batchSize * info.inHeight * info.inWidth;
    if (!plain || m * cin * cout < NATIVE_GEMM_FROM) return previous(args);
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(info.outShape, 'float32');
    gemm.multiply(heap(backend, x), heap(backend, filter), heap(backend, out), [m, cin, cout], false, false);
    return out;
  };
}

/** Marks the kernel configs registered here; holds the one each replaced. */
const NATIVE = Symbol('arcinvert.nativeGemm');
type NativeConfig = tf.KernelConfig & { [NATIVE]: tf.KernelConfig };

const WRAPPERS: ReadonlyArray<[string, (gemm: NativeGemm, previous: tf.KernelFunc) => tf.KernelFunc]> = [
  [tf.BatchMatMul, nativeBatchMatMul],
  [tf.Conv2D, nativeConv2D],
];

/** Names of the wasm kernels `registerNativeGemm` wraps. */
export const NATIVE_GEMM_KERNEL_NAMES: readonly string[] = WRAPPERS.map(([name]) => name);

let engine: NativeGemm | null | undefined;

/** Whether the environment asks for the native products (anything but `ARCINVERT_NATIVE_GEMM=0`). */
export function nativeGemmWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[NATIVE_GEMM_ENV]?.trim() !== '0';
}

/**
 * Wraps the wasm kernels in `NATIVE_GEMM_KERNEL_NAMES` (whatever is registered now: register
 * after `registerFastWasmKernels`) so that they run their matrix products on onnxruntime.
 * Returns whether they are wrapped: false where onnxruntime-node does not load. Idempotent.
 */
export function registerNativeGemm(): boolean {
  engine ??= NativeGemm.load();
  if (!engine) return false;
  for (const [kernelName, wrap] of WRAPPERS) {
    const current = tf.getKernel(kernelName, 'wasm');
    if (current == null || NATIVE in current) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ ...current, kernelFunc: wrap(engine, current.kernelFunc), [NATIVE]: current } as NativeConfig);
  }
  return true;
}

/** Puts back the kernels `registerNativeGemm` wrapped (tests compare both paths). */
export function unregisterNativeGemm(): void {
  for (const [kernelName] of WRAPPERS) {
    const current = tf.getKernel(kernelName, 'wasm') as NativeConfig | undefined;
    if (current == null || !(NATIVE in current)) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel(current[NATIVE]);
  }
}

/** Whether the wasm kernels run their products on onnxruntime now. */
export function nativeGemmActive(): boolean {
  const k = tf.getKernel(tf.BatchMatMul, 'wasm');
  return k != null && NATIVE in k;
}
