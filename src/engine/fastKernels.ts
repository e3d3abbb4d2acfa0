/**
 * Faster replacements for kernels tfjs-backend-wasm 4.22 has but runs slowly, each composed
 * from its fast kernels (XNNPACK matMul / conv, SIMD arithmetic) or reading the wasm heap
 * in place. Measured at [8, 56, 56, 128] on one wasm thread (see docs/PERFORMANCE.md).
 *
 *   - `Conv2DBackpropInput` (every conv's input gradient): wasm's own is a naive loop
 *     (~8× a forward conv of the same size). Here:
 *       1×1 filter: one `[N·OH·OW, Cout] × [Cout, Cin]` matMul with the transposed filter;
 *         strides and padding then only move rows (`zeroDilate` + `placeOnInput`).
 *       k×k filter: the transposed convolution as a forward one: zero-insert dy between rows
 *         and columns (stride > 1), pad by `K − 1 − padBefore`, and run a valid, stride-1
 *         `conv2d` with the filter reversed in space and its in/out channels swapped.
 *   - `FusedBatchNorm` (inference BN): x·f + (β − μ·f), f = γ/√(σ² + ε), one per-channel
 *     affine pass (`affine.ts`: a 1×1 depthwise conv with bias), ~4.5× faster than wasm's own
 *     (0.68 vs 3.05 ms at [8, 56, 56, 64]).
 *   - `Sum` / `Mean` over leading axes (BN statistics, BN gradients, the head's column
 *     norms): wasm transposes the input to make the axes innermost. Here XNNPACK's average
 *     pooling does it: over [N, H, W] of an NHWC tensor a pool over the whole H×W then the N
 *     per-image rows; over other leading axes x as one [P, 1] image of R channels, pooled
 *     whole. 1.5–3× faster than the earlier `[P, R]ᵀ × ones[P, 1]` matMul (1.1 vs 1.8 ms at
 *     [8, 56, 56, 64], 0.8 vs 1.4 ms for [512, 3000] over axis 0), itself ~3× faster than
 *     wasm's own. (`ones[1, P] × [P, R]` reaches XNNPACK's matMul but packs [P, R] as weights
 *     on every call: 2–3× slower on fresh tensors.)
 *   - `BatchMatMul` with a transposed operand: wasm reaches XNNPACK only when neither operand
 *     is flagged transposed, else runs a plain loop (~3 GFLOP/s). When the other operand's
 *     free dimension is ≥ 32 (e.g. the ArcFace head's weight gradient `[B, D]ᵀ × [B, C·K]`)
 *     the flagged operand is transposed first: 13.8 → 3.6 ms at B = 8, D = 512, C·K = 3,000.
 *     Below that, transposing the large operand and packing it as fresh weights costs more
 *     than the loop; a few rows of A times a large Bᵀ (the head's input gradient
 *     `[B, C·K] × [D, C·K]ᵀ`) are computed as (B · Aᵀ)ᵀ instead: XNNPACK then streams B and
 *     packs only the small Aᵀ (8.0 → ~1 ms at B = 8, C·K = 3,000, D = 512).
 *   - `Slice`: wasm's copies the whole input out of the heap first (`readSync`) and then
 *     copies innermost rows one by one; here the heap is read in place and dimensions the
 *     slice spans fully are merged, so rows are as long as possible. `SplitV` (wasm's calls
 *     its internal slice) becomes one such Slice per piece.
 *   - `Transpose` of ≥ 2¹⁹ elements that swaps two blocks of axes (after merging axes that
 *     stay adjacent): as a 2-D transpose, cache-blocked in JavaScript on the heap, or, with a
 *     contiguous trailing block, as row copies. wasm's own falls off once the tensor leaves
 *     the cache: 8.5 ms for the [25088, 64] dy of a 1×1 conv's weight gradient, 3.5 ms here;
 *     below ~500k elements wasm's is faster (0.24 vs 1.0 ms at [6272, 64]) and is kept.
 *   - `Reverse` and `PadV2` (the flip and roll augmentations of inversion and their
 *     gradients): wasm's copy element by element through index arithmetic (7.7 ms to flip
 *     [8, 112, 112, 3]); here the heap is copied in the longest contiguous runs the
 *     operation leaves intact (the flip: ~1 ms).
 *   - `Conv2DBackpropInput` of a strided k×k conv by phases (`phaseBackpropInput`), without
 *     the zero-inserted copy of dy and the products with its zeros; of a k×k conv with at
 *     most `COLUMN_BACKPROP_MAX_CIN` input channels (the stem's 3) by columns
 *     (`columnBackpropInput`): one matMul, then the taps added into dx on the heap.
 *   - `Identity` (`tf.clone`, and the engine's copy of every tensor it saves for a
 *     gradient): wasm's copies the buffer; here the output shares the input's data with one
 *     more reference, as tfjs-backend-cpu's Identity and wasm's own Reshape do. Sound because
 *     tfjs never writes into an existing tensor's data.
 * Inputs a replacement does not cover (NCHW convs, other dtypes, other reduction axes) go to
 * the stock kernel. `registerFastWasmKernels` swaps them in for the 'wasm' backend only.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-wasm';
import { channelAffine } from './affine.js';
import {
  asTensor,
  asTensor4D,
  correlationPadding,
  fullCorrelationInput,
  padOrCrop,
  placeOnInput,
  zeroDilate,
  type ExplicitPadding,
} from './convHelpers.js';

type Shape4D = [number, number, number, number];
type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Marks the kernel configs registered here, so registering twice changes nothing. */
const FAST = Symbol('arcinvert.fastWasmKernel');

/**
 * dx of `conv2d(x, filter, strides, pad)` for NHWC: inputs dy `[N, OH, OW, Cout]` and filter
 * `[KH, KW, Cin, Cout]`; attribute `inputShape` `[N, H, W, Cin]`.
 */
function conv2DBackpropInputNHWC(args: KernelArgs): tf.Tensor {
  const { strides, pad, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const name = tf.Conv2DBackpropInput;
  return tf.tidy(() => {
    const dy = asTensor4D(args.inputs.dy, name, 'dy');
    const filter = asTensor4D(args.inputs.filter, name, 'filter');
    const [kh, kw, cin, cout] = filter.shape;
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode);
    const [n, oh, ow] = dy.shape;
    if (kh === 1 && kw === 1) {
      // dy · Wᵀ: `untransposedMatMul` transposes the filter for XNNPACK; the native products
      // (`nativeGemm.ts`) take the flag as it is.
      const w = tf.reshape(filter, [cin, cout]);
      const grid = tf.reshape(tf.matMul(tf.reshape(dy, [n * oh * ow, cout]), w, false, true), [n, oh, ow, cin]);
      if (
        info.strideHeight === 1 &&
        info.strideWidth === 1 &&
        info.padInfo.top === 0 &&
        info.padInfo.left === 0 &&
        oh === info.inHeight &&
        ow === info.inWidth
      ) {
        return grid;
      }
      return placeOnInput(zeroDilate(grid as tf.Tensor4D, info.strideHeight, info.strideWidth), info);
    }
    if (info.strideHeight > 1 || info.strideWidth > 1) return phaseBackpropInput(dy, filter, info);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const explicit = correlationPadding(info, kh, kw);
    return explicit
      ? tf.conv2d(dy, flipped, 1, explicit)
      : tf.conv2d(fullCorrelationInput(dy, info, kh, kw), flipped, 1, 'valid');
  });
}

/**
 * dx of a strided k×k conv by phases: output row y (padded coordinate y + top = q·sh + p)
 * only meets filter rows i ≡ p (mod sh), so each of the sh·sw phases is a stride-1 full
 * correlation of dy with the reversed sub-filter of those taps, and the phases interleave into
 * dx. The same products as the zero-inserted form without its (sh·sw − 1)/(sh·sw) zeros
 * (MobileFaceNet's stem, 3×3, stride 2, dx [8, 112, 112, 3]: 15.7 → 7.8 ms; it now goes by
 * columns, `columnBackpropInput`).
 * Inside a tidy; dy `[N, OH, OW, Cout]`, filter `[KH, KW, Cin, Cout]`.
 */
function phaseBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, inHeight: h, inWidth: w, padInfo } = info;
  const [kh, kw, cin] = filter.shape;
  const [n, oh, ow] = dy.shape;
  // Rows (columns) per phase: enough for every padded coordinate up to top + H.
  const hq = Math.ceil((padInfo.top + h) / sh);
  const wq = Math.ceil((padInfo.left + w) / sw);
  const rows: tf.Tensor[] = [];
  for (let p = 0; p < sh; p++) {
    const cols: tf.Tensor[] = [];
    for (let pw = 0; pw < sw; pw++) {
      const mh = p < kh ? Math.ceil((kh - p) / sh) : 0;
      const mw = pw < kw ? Math.ceil((kw - pw) / sw) : 0;
      if (mh === 0 || mw === 0) {
        cols.push(tf.zeros([n, hq, wq, cin]));
        continue;
      }
      // Taps p, p + sh, … and pw, pw + sw, …, reversed, in/out swapped: [mh, mw, Cout, Cin].
      const taps = tf.stridedSlice(filter, [p, pw, 0, 0], [kh, kw, filter.shape[2], filter.shape[3]], [sh, sw, 1, 1]);
      const sub = tf.transpose(tf.reverse(taps, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      const pad: ExplicitPadding = [
        [0, 0],
        [mh - 1, hq - oh],
        [mw - 1, wq - ow],
        [0, 0],
      ];
      cols.push(
        pad[1][1] >= 0 && pad[2][1] >= 0
          ? tf.conv2d(dy, sub, 1, pad)
          : tf.conv2d(padOrCrop(dy, pad[1], pad[2]), sub, 1, 'valid'),
      );
    }
    rows.push(tf.stack(cols, 3)); // [N, hq, wq, sw, Cin]
  }
  const grid = tf.reshape(tf.stack(rows, 2), [n, hq * sh, wq * sw, cin]); // [N, hq, sh, wq, sw, Cin] interleaved
  return tf.slice(grid, [0, padInfo.top, padInfo.left, 0], [n, h, w, cin]) as tf.Tensor4D;
}

/** Input channels up to which a k×k filter's dx is computed by columns (`columnBackpropInput`). */
export const COLUMN_BACKPROP_MAX_CIN = 4;

/**
 * dx of a k×k conv with few input channels (the stem: 3) by columns: one matMul
 * `[N·OH·OW, Cout] × [Cout, KH·KW·Cin]` gives every output position's contribution to each tap,
 * which are then added into dx on the heap (col2im). XNNPACK's convolutions run far below
 * their rate with 3 output channels, and by phases the strided stem needs four of them and a
 * Pack: MobileFaceNet's stem at [4, 56, 56, 64] → [4, 112, 112, 3] 7.6 → 2.0 ms, at batch 32
 * 50.4 → 14.6 ms. Undefined where it does not apply.
 */
function columnBackpropInput(args: KernelArgs): tf.TensorInfo | undefined {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32' || dy.shape.length !== 4 || filter.shape.length !== 4)
    return undefined;
  const [kh, kw, cin, cout] = filter.shape as Shape4D;
  if (kh * kw === 1 || cin > COLUMN_BACKPROP_MAX_CIN) return undefined;
  const { strides, pad, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4D, strides, 1, pad, dimRoundingMode);
  const [n, oh, ow] = dy.shape as Shape4D;
  const { strideHeight: sh, strideWidth: sw, inHeight: h, inWidth: w, padInfo } = info;
  const taps = kh * kw * cin;
  const columns = tf.tidy(() =>
    tf.matMul(
      tf.reshape(asTensor(dy, tf.Conv2DBackpropInput, 'dy'), [n * oh * ow, cout]),
      tf.reshape(asTensor(filter, tf.Conv2DBackpropInput, 'filter'), [taps, cout]),
      false,
      true,
    ),
  );
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput([n, h, w, cin], 'float32');
  // Views after makeOutput: a heap that grows detaches older ones.
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(columns);
  dst.fill(0);
  // Tap by tap, the output positions of a row in one branch-free run.
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const row = (b * oh + oy) * ow * taps;
      for (let i = 0; i < kh; i++) {
        const y = oy * sh + i - padInfo.top;
        if (y < 0 || y >= h) continue;
        for (let j = 0; j < kw; j++) {
          // Output columns ox whose x = ox·sw + j − left lies inside [0, w).
          const first = Math.max(0, Math.ceil((padInfo.left - j) / sw));
          const last = Math.min(ow - 1, Math.floor((w - 1 + padInfo.left - j) / sw));
          let to = ((b * h + y) * w + first * sw + j - padInfo.left) * cin;
          let from = row + first * taps + (i * kw + j) * cin;
          for (let ox = first; ox <= last; ox++, to += sw * cin, from += taps) {
            for (let c = 0; c < cin; c++) dst[to + c] += src[from + c]!;
          }
        }
      }
    }
  }
  columns.dispose();
  return out;
}

function fastConv2DBackpropInput(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { dataFormat } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (dataFormat === 'NCHW') return stock(args);
    return columnBackpropInput(args) ?? conv2DBackpropInputNHWC(args);
  };
}

function sharingIdentity(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return stock(args);
    (args.backend as tf.KernelBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** x·f + (β − μ·f) with f = γ/√(σ² + ε); parameters broadcast against x as in the stock kernel. */
function fusedBatchNorm(args: KernelArgs): tf.Tensor {
  const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
  const { x, mean, variance, scale, offset } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  return tf.tidy(() => {
    const t = (info: tf.TensorInfo, name: string): tf.Tensor => asTensor(info, tf.FusedBatchNorm, name);
    const r = tf.rsqrt(tf.add(t(variance!, 'variance'), varianceEpsilon));
    const factor = scale == null ? r : tf.mul(t(scale, 'scale'), r);
    // x·f + (β − μ·f): one per-channel affine pass over x.
    const shift = tf.sub(offset == null ? 0 : t(offset, 'offset'), tf.mul(t(mean!, 'mean'), factor));
    return channelAffine(t(x!, 'x'), factor, shift);
  });
}

/**
 * The leading axes `[0, k)` when `axis` is exactly those for some 0 < k < rank (the
 * reductions this module speeds up), else undefined.
 */
function leadingAxes(axis: number | number[], shape: readonly number[]): number | undefined {
  const axes = [...tf.util.parseAxisParam(axis, shape as number[])].sort((a, b) => a - b);
  const k = axes.length;
  return k > 0 && k < shape.length && axes.every((a, i) => a === i) ? k : undefined;
}

/** Sum (or mean) of float32 `x` over its leading `k` axes by one matMul with ones. */
function reduceLeading(args: KernelArgs, k: number, mean: boolean): tf.Tensor {
  const { keepDims } = args.attrs as unknown as tf.SumAttrs;
  return tf.tidy(() => {
    const x = asTensor(args.inputs.x, mean ? tf.Mean : tf.Sum, 'x');
    const p = x.shape.slice(0, k).reduce((a, d) => a * d, 1);
    const rest = x.shape.slice(k);
    const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...rest] : rest;
    // An empty input: the sum is 0 and the mean 0/0 (wasm's own kernels leave it unset).
    if (x.size === 0) return tf.fill(outShape, mean ? NaN : 0);
    if (x.rank === 4 && k === 3 && x.shape[1]! * x.shape[2]! > 1) {
      // Mean over H×W per image by pooling, then the N per-image means by the matMul below.
      const [n, h, w, c] = x.shape as Shape4D;
      const perImage = tf.reshape(tf.avgPool(x as tf.Tensor4D, [h, w], [h, w], 'valid'), [n, c]);
      return tf.reshape(tf.matMul(perImage, tf.fill([n, 1], mean ? 1 / n : h * w), true, false), outShape);
    }
    // Any other leading axes: x as one [P, 1] image of R channels, pooled whole.
    const r = x.size / p;
    const pooled = tf.avgPool(tf.reshape(x, [1, p, 1, r]) as tf.Tensor4D, [p, 1], [p, 1], 'valid');
    return tf.reshape(mean ? pooled : tf.mul(pooled, p), outShape);
  });
}

function fastReduction(mean: boolean): (stock: tf.KernelFunc) => tf.KernelFunc {
  return (stock) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis } = args.attrs as unknown as tf.SumAttrs;
    const k = x.dtype === 'float32' ? leadingAxes(axis, x.shape) : undefined;
    return k === undefined ? stock(args) : reduceLeading(args, k, mean);
  };
}

/**
 * The slice as `(size, begin, count)` triples after dropping unit dimensions and merging
 * each dimension the slice spans fully into the one before it; the last triple's count is
 * the length of the contiguous runs to copy.
 */
function mergedSlice(shape: readonly number[], begin: number[], size: number[]): Array<[number, number, number]> {
  const dims: Array<[number, number, number]> = [];
  shape.forEach((n, i) => {
    if (n === 1) return;
    const last = dims[dims.length - 1];
    if (last !== undefined && begin[i] === 0 && size[i] === n) {
      last[0] *= n;
      last[1] *= n;
      last[2] *= n;
    } else {
      dims.push([n, begin[i], size[i]]);
    }
  });
  return dims.length > 0 ? dims : [[1, 0, 1]];
}

function fastSlice(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return stock(args);
    const backend = args.backend as BackendWasm;
    const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
    const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
    const out = backend.makeOutput(s, x.dtype);
    if (s.some((d) => d === 0)) return out;
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const dims = mergedSlice(x.shape, b, s);
    const rank = dims.length;
    const strides = new Array<number>(rank).fill(1);
    for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * dims[i + 1][0];
    const run = dims[rank - 1][2];
    const index = new Array<number>(rank - 1).fill(0);
    for (let o = 0; o < dst.length; o += run) {
      let from = dims[rank - 1][1];
      for (let i = 0; i < rank - 1; i++) from += (dims[i][1] + index[i]) * strides[i];
      dst.set(src.subarray(from, from + run), o);
      for (let i = rank - 2; i >= 0; i--) {
        if (++index[i] < dims[i][2]) break;
        index[i] = 0;
      }
    }
    return out;
  };
}

/** SplitV as one Slice per piece (wasm's own uses its slow internal slice). */
function splitV(args: KernelArgs): tf.Tensor[] {
  const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
  return tf.tidy(() => {
    const x = asTensor(args.inputs.x, tf.SplitV, 'x');
    const a = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, a);
    const begin = x.shape.map(() => 0);
    return sizes.map((n) => {
      const piece = tf.slice(
        x,
        begin,
        x.shape.map((d, i) => (i === a ? n : d)),
      );
      begin[a] += n;
      return piece;
    });
  });
}

/** The free dimension of the other operand from which a flagged operand is transposed first. */
export const EXPLICIT_TRANSPOSE_FROM = 32;

/**
 * The transpose as [A, B, D] → [B, A, D] after merging input axes that stay adjacent and in
 * order in `perm` (D = 1 when the last axis moves), or undefined for other permutations.
 */
export function blockSwap(shape: readonly number[], perm: readonly number[]): [number, number, number] | undefined {
  // Runs of consecutive input axes, in output order.
  const runs: number[][] = [];
  for (const axis of perm) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] + 1 === axis) last.push(axis);
    else runs.push([axis]);
  }
  const size = (run: number[]): number => run.reduce((p, a) => p * shape[a], 1);
  const starts = runs.map((r) => r[0]);
  if (runs.length === 2 && starts[0] > starts[1]) return [size(runs[1]), size(runs[0]), 1];
  if (runs.length === 3 && starts[0] > starts[1] && starts[2] > starts[0])
    return [size(runs[1]), size(runs[0]), size(runs[2])];
  return undefined;
}

/** Calls `visit(index)` for every index of `shape`, in row-major order (once for `[]`). */
function forEachIndex(shape: readonly number[], visit: (index: readonly number[]) => void): void {
  const index = new Array<number>(shape.length).fill(0);
  const total = shape.reduce((p, d) => p * d, 1);
  for (let k = 0; k < total; k++) {
    visit(index);
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++index[i] < shape[i]) break;
      index[i] = 0;
    }
  }
}

/** Copies `run` elements, element by element for short runs (faster than subarray + set). */
function copyRun(
  src: tf.backend_util.TypedArray,
  from: number,
  dst: tf.backend_util.TypedArray,
  to: number,
  run: number,
): void {
  if (run >= 16) dst.set(src.subarray(from, from + run), to);
  else for (let i = 0; i < run; i++) dst[to + i] = src[from + i]!;
}

/** Reverse along `dims`, copying the trailing unreversed axes as contiguous runs. */
function fastReverse(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return stock(args);
    const { dims } = args.attrs as unknown as tf.ReverseAttrs;
    const axes = new Set(tf.util.parseAxisParam(dims, x.shape));
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(x.shape, x.dtype);
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    if (src.length === 0) return out;
    let k = x.shape.length;
    while (k > 0 && !axes.has(k - 1)) k--;
    const run = x.shape.slice(k).reduce((p, d) => p * d, 1);
    const lead = x.shape.slice(0, k);
    const strides = lead.map((_, i) => x.shape.slice(i + 1).reduce((p, d) => p * d, 1));
    // The last leading axis (reversed: k − 1 is in `axes`) in a tight loop, the others visited.
    const last = k - 1;
    const count = lead[last] ?? 1;
    const step = strides[last] ?? run;
    let to = 0;
    forEachIndex(lead.slice(0, last), (index) => {
      let base = 0;
      for (let i = 0; i < index.length; i++) base += (axes.has(i) ? lead[i] - 1 - index[i] : index[i]) * strides[i];
      for (let l = count - 1; l >= 0; l--, to += run) copyRun(src, base + l * step, dst, to, run);
    });
    return out;
  };
}

/** Constant padding: fill, then copy the input in runs from its innermost padded axis inwards. */
function fastPadV2(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return stock(args);
    const { paddings, constantValue } = args.attrs as unknown as tf.PadV2Attrs;
    if (paddings.some(([a, b]) => a < 0 || b < 0)) return stock(args);
    const backend = args.backend as BackendWasm;
    const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const out = backend.makeOutput(outShape, x.dtype);
    const dst = backend.typedArrayFromHeap(out);
    dst.fill(constantValue);
    const src = backend.typedArrayFromHeap(x);
    if (src.length === 0) return out;
    let k = x.shape.length - 1;
    while (k > 0 && paddings[k][0] === 0 && paddings[k][1] === 0) k--;
    const run = x.shape.slice(k).reduce((p, d) => p * d, 1);
    const lead = x.shape.slice(0, k);
    const outStrides = outShape.map((_, i) => outShape.slice(i + 1).reduce((p, d) => p * d, 1));
    const offset = paddings[k][0] * outStrides[k];
    let from = 0;
    forEachIndex(lead, (index) => {
      let to = offset;
      for (let i = 0; i < index.length; i++) to += (index[i] + paddings[i][0]) * outStrides[i];
      copyRun(src, from, dst, to, run);
      from += run;
    });
    return out;
  };
}

/** Elements from which `Transpose` runs here (`blockSwap` permutations only). */
export const FAST_TRANSPOSE_FROM = 2 ** 19;

/** `blockSwap` transposes on the heap; anything else (and non-4-byte dtypes) goes to the stock kernel. */
function fastTranspose(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { perm } = args.attrs as unknown as tf.TransposeAttrs;
    const large = tf.util.sizeFromShape(x.shape) >= FAST_TRANSPOSE_FROM;
    const swap = large && (x.dtype === 'float32' || x.dtype === 'int32') ? blockSwap(x.shape, perm) : undefined;
    if (swap === undefined) return stock(args);
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(
      perm.map((a) => x.shape[a]),
      x.dtype,
    );
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const [a, b, d] = swap;
    if (d === 1) {
      // dst[j, i] = src[i, j] for the [a, b] matrix, in 16×16 tiles (measured best in Node 20).
      const tile = 16;
      for (let i0 = 0; i0 < a; i0 += tile) {
        const i1 = Math.min(a, i0 + tile);
        for (let j0 = 0; j0 < b; j0 += tile) {
          const j1 = Math.min(b, j0 + tile);
          for (let i = i0; i < i1; i++) {
            const row = i * b;
            for (let j = j0; j < j1; j++) dst[j * a + i] = src[row + j]!;
          }
        }
      }
    } else {
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < b; j++) dst.set(src.subarray((i * b + j) * d, (i * b + j + 1) * d), (j * a + i) * d);
      }
    }
    return out;
  };
}

/** matMul with a flagged operand's transpose made explicit where that pays (see above). */
function untransposedMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    const [ra, rb] = [a.shape.length, b.shape.length];
    const rowsA = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const colsB = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const swapA = transposeA && colsB >= EXPLICIT_TRANSPOSE_FROM;
    const swapB = transposeB && rowsA >= EXPLICIT_TRANSPOSE_FROM;
    if (!swapA && !swapB) {
      // A few rows times a large Bᵀ (the head's input gradient [B, C·K] × [D, C·K]ᵀ): as
      // (B · Aᵀ)ᵀ, XNNPACK streams the large B as its input and packs only the small Aᵀ.
      if (transposeB && !transposeA && ra === 2 && rb === 2 && colsB >= EXPLICIT_TRANSPOSE_FROM) {
        return tf.tidy(() =>
          tf.transpose(tf.matMul(asTensor(b, tf.BatchMatMul, 'b'), tf.transpose(asTensor(a, tf.BatchMatMul, 'a')))),
        );
      }
      return stock(args);
    }
    return tf.tidy(() => {
      const swap = (t: tf.Tensor): tf.Tensor =>
        tf.transpose(
          t,
          [...t.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)),
        );
      const ta = asTensor(a, tf.BatchMatMul, 'a');
      const tb = asTensor(b, tf.BatchMatMul, 'b');
      return tf.matMul(swapA ? swap(ta) : ta, swapB ? swap(tb) : tb, transposeA && !swapA, transposeB && !swapB);
    });
  };
}

const REPLACEMENTS: ReadonlyArray<[string, (stock: tf.KernelFunc) => tf.KernelFunc]> = [
  [tf.Conv2DBackpropInput, fastConv2DBackpropInput],
  [tf.FusedBatchNorm, () => fusedBatchNorm],
  [tf.Sum, fastReduction(false)],
  [tf.Mean, fastReduction(true)],
  [tf.Slice, fastSlice],
  [tf.SplitV, () => splitV],
  [tf.Identity, sharingIdentity],
  [tf.BatchMatMul, untransposedMatMul],
  [tf.Transpose, fastTranspose],
  [tf.Reverse, fastReverse],
  [tf.PadV2, fastPadV2],
];

/** Names of the wasm kernels `registerFastWasmKernels` replaces. */
export const FAST_WASM_KERNEL_NAMES: readonly string[] = REPLACEMENTS.map(([name]) => name);

/**
 * Replaces the wasm kernels in `FAST_WASM_KERNEL_NAMES` with the faster versions above (the
 * stock kernels stay reachable for the cases those delegate). Idempotent; other backends are
 * untouched. Call after `@tensorflow/tfjs-backend-wasm` is imported (this module imports it).
 */
export function registerFastWasmKernels(): void {
  for (const [kernelName, make] of REPLACEMENTS) {
    const current = tf.getKernel(kernelName, 'wasm');
    if (current == null || FAST in current) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    // Keep the stock setupFunc: it binds the wasm function the stock kernelFunc still calls.
    tf.registerKernel({ ...current, kernelFunc: make(current.kernelFunc), [FAST]: true } as tf.KernelConfig);
  }
}
