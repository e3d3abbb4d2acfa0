/**
 * Backward convolution kernels that tfjs-backend-wasm 4.22 lacks.
 *
 * The wasm backend has Conv2D, Conv2DBackpropInput and DepthwiseConv2dNative but not
 * `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropInput` or
 * `DepthwiseConv2dNativeBackpropFilter`, so `tf.grad` through any convolutional backbone
 * (MobileFaceNet's depthwise blocks above all) fails there. Each kernel below is a
 * composition of kernels wasm already has (PadV2, Slice, Reshape, Transpose, BatchMatMul,
 * Multiply, Pack, Reverse, DepthwiseConv2dNative, Sum), run through tf ops inside `tf.tidy`,
 * so the work stays on wasm rather than being handed to the cpu backend.
 *
 * Semantics follow tfjs-backend-cpu's kernels and tfjs-core's gradient definitions
 * (`Conv2D_grad.ts`, `DepthwiseConv2dNative_grad.ts`): NHWC, dilation 1, and every padding
 * form `backend_util.computeConv2DInfo` accepts ('same', 'valid', a number with
 * `dimRoundingMode`, explicit per-side pads).
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor4D, correlationPadding, fullCorrelationInput, padOrCrop, requireSupported } from './convHelpers.js';
import { depthwiseDw, depthwiseDxStrided } from './simd/simd.js';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** Names of the kernels `registerWasmGradKernels` adds to the 'wasm' backend. */
export const WASM_GRAD_KERNEL_NAMES: readonly string[] = [
  tf.Conv2DBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropInput,
  tf.DepthwiseConv2dNativeBackpropFilter,
];

/**
 * The input zero-padded (or cropped) to exactly `sh·(OH + ⌊(KH-1)/sh⌋)` rows and
 * `sw·(OW + ⌊(KW-1)/sw⌋)` columns: every tap's window fits, and the height and width are
 * multiples of the strides so `tapWindow` can split them into phases by reshaping.
 * @param x `[N, H, W, C]`
 * @returns `[N, Hp, Wp, C]`, `xp[b, r + top, c + left] = x[b, r, c]`
 */
function padForTaps(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { padInfo, strideHeight: sh, strideWidth: sw } = info;
  const height = sh * (info.outHeight + Math.floor((info.filterHeight - 1) / sh));
  const width = sw * (info.outWidth + Math.floor((info.filterWidth - 1) / sw));
  return padOrCrop(
    x,
    [padInfo.top, height - padInfo.top - info.inHeight],
    [padInfo.left, width - padInfo.left - info.inWidth],
  );
}

/**
 * The pixels filter tap (i, j) meets: `out[b, r, c] = xp[b, i + r·sh, j + c·sw]`.
 * Built from two plain slices of reshaped views (row phase, then column phase) because
 * wasm's Slice copies whole contiguous runs while its StridedSlice gathers element by
 * element (~50× slower here).
 * @param xp `[N, Hp, Wp, C]` from `padForTaps`
 * @returns `[N, OH, OW, C]`
 */
function tapWindow(xp: tf.Tensor4D, i: number, j: number, info: Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const [n, hp, wp, c] = xp.shape;
  // Stride 1: one slice, copied as N·OH rows of OW·C values.
  if (sh === 1 && sw === 1) return tf.slice(xp, [0, i, j, 0], [n, oh, ow, c]);
  const rowView = tf.reshape(xp, [n, hp / sh, sh, wp * c]);
  const rows = tf.slice(rowView, [0, Math.floor(i / sh), i % sh, 0], [n, oh, 1, wp * c]);
  const cols =
    sw === 1
      ? tf.slice(tf.reshape(rows, [n * oh, wp * c]), [0, j * c], [n * oh, ow * c])
      : tf.slice(tf.reshape(rows, [n * oh, wp / sw, sw * c]), [0, Math.floor(j / sw), (j % sw) * c], [n * oh, ow, c]);
  return tf.reshape(cols, [n, oh, ow, c]);
}

/**
 * One tensor per filter tap (i, j), in row-major tap order, each computed in its own tidy so
 * a tap's temporaries are freed before the next.
 */
function perTap(
  info: { filterHeight: number; filterWidth: number },
  tap: (i: number, j: number) => tf.Tensor,
): tf.Tensor[] {
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < info.filterHeight; i++) {
    for (let j = 0; j < info.filterWidth; j++) taps.push(tf.tidy(() => tap(i, j)));
  }
  return taps;
}

/**
 * dW of `conv2d(x, W, strides, pad)`. Inputs x `[N, H, W, Cin]`, dy `[N, OH, OW, Cout]`;
 * output `[KH, KW, Cin, Cout]`.
 *   1×1 filter: dWᵀ = dyᵀ · x, one `[Cout, P] × [P, Cin]` matMul (P = N·OH·OW), dy transposed
 *     first because wasm's BatchMatMul only reaches XNNPACK when no operand is flagged.
 *   k×k filter: dW[i, j, c, o] = Σ_{n,r,s} xp[n, i + r·sh, j + s·sw, c] · dy[n, r, s, o] is a
 *     convolution of the padded x with dy as its filter: channels and batch swap roles
 *     (x as `[Cin, Hp, Wp, N]`, dy as the filter `[OH, OW, N, Cout]`), stride 1, dilation
 *     (sh, sw), valid; its `[Cin, KH, KW, Cout]` output is dW transposed. One XNNPACK
 *     convolution instead of a slice and a matMul per tap: 3× faster for MobileFaceNet's
 *     stem (20 → 6.8 ms at [8, 112, 112, 3], stride 2), 1.6–1.9× for IResNet's 3×3 layers.
 */
function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }): tf.Tensor {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const name = tf.Conv2DBackpropFilter;
  return tf.tidy(() => {
    const x = asTensor4D(args.inputs.x, name, 'x');
    const dy = asTensor4D(args.inputs.dy, name, 'dy');
    const computed = tf.backend_util.computeConv2DInfo(
      x.shape,
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC'),
    );
    requireSupported(computed, name);
    // tfjs-core's Conv2D gradient drops dimRoundingMode, so trust dy's spatial size.
    const info = { ...computed, outHeight: dy.shape[1], outWidth: dy.shape[2] };
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    if (kh === 1 && kw === 1) {
      // xᵀ · dy with the flag: the native products (`nativeGemm.ts`) take it as it is, and
      // `untransposedMatMul` transposes x for XNNPACK.
      const xp = padForTaps(x, info);
      const x2d = tf.reshape(tapWindow(xp, 0, 0, info), [-1, info.inChannels]);
      return tf.reshape(tf.matMul(x2d, tf.reshape(dy, [-1, info.outChannels]), true, false), filterShape);
    }
    // Rows and columns the windows reach: (OH − 1)·sh + KH; pad (or crop) x to exactly that.
    const hp = (info.outHeight - 1) * sh + kh;
    const wp = (info.outWidth - 1) * sw + kw;
    const { top, left } = info.padInfo;
    const xp = padOrCrop(x, [top, hp - info.inHeight - top], [left, wp - info.inWidth - left]);
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const out = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [sh, sw]);
    return tf.transpose(out, [1, 2, 0, 3]);
  });
}

/**
 * dW[i, j, c, m] = Σ_{b,r,s} xWindow(i, j)[b, r, s, c] · dy[b, r, s, c·M + m]. With channel
 * multiplier 1 and C % 4 == 0 (MobileFaceNet's) one SIMD pass over dy (`depthwiseDw`); else per tap a
 * broadcast product `[P, C, 1] · [P, C, M]` summed over the P = N·OH·OW positions by a Sum
 * over [N, OH, OW] (with `fastKernels.ts` registered: a pool over OH×OW, then the N rows).
 * Inputs x `[N, H, W, C]`, dy `[N, OH, OW, C·M]`; output `[KH, KW, C, M]`.
 */
function depthwiseBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }): tf.Tensor {
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const name = tf.DepthwiseConv2dNativeBackpropFilter;
  return tf.tidy(() => {
    const x = asTensor4D(args.inputs.x, name, 'x');
    const dy = asTensor4D(args.inputs.dy, name, 'dy');
    const info = tf.backend_util.computeConv2DInfo(
      x.shape,
      filterShape,
      strides,
      dilations ?? 1,
      pad,
      dimRoundingMode,
      true,
    );
    requireSupported(info, name);
    const [, , channels, multiplier] = filterShape;
    const summed = multiplier === 1 ? depthwiseDw(x, dy, info) : undefined;
    if (summed) return summed;
    const positions = dy.size / (channels * multiplier);
    const xp = padForTaps(x, info);
    const dy3 = tf.reshape(dy, [positions, channels, multiplier]);
    const [n, oh, ow] = dy.shape;
    const taps = perTap(info, (i, j) => {
      const window = tf.reshape(tapWindow(xp, i, j, info), [positions, channels, 1]);
      return tf.sum(tf.reshape(tf.mul(window, dy3), [n, oh, ow, channels * multiplier]), [0, 1, 2]);
    });
    return tf.reshape(tf.stack(taps), filterShape);
  });
}

/**
 * dx = valid depthwise correlation of the zero-dilated dy, padded by `K - 1 - padBefore`
 * before, with the spatially reversed filter; the M multiplier channels of each input
 * channel are then summed. For stride 1 the padding is the convolution's own (no copy of dy).
 * Inputs dy `[N, OH, OW, C·M]`, filter `[KH, KW, C, M]`; output `inputShape` `[N, H, W, C]`.
 */
function depthwiseBackpropInput(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }): tf.Tensor {
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const name = tf.DepthwiseConv2dNativeBackpropInput;
  return tf.tidy(() => {
    const dy = asTensor4D(args.inputs.dy, name, 'dy');
    const filter = asTensor4D(args.inputs.filter, name, 'filter');
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape,
      strides,
      dilations ?? 1,
      pad,
      dimRoundingMode,
      true,
    );
    requireSupported(info, name);
    const [kh, kw, channels, multiplier] = filter.shape;
    const [n, h, w] = inputShape;
    if (info.outHeight === 1 && info.outWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0) {
      // One output pixel (MobileFaceNet's global depthwise conv, 7×7 over 7×7): dx[n, y, x, c] =
      // Σₘ dy[n, c·M + m]·w[y, x, c, m], a broadcast product; as a convolution, a 1×1 dy padded
      // by 6 on every side, it took 5.4 ms at batch 4 against ~0.1.
      const taps = tf.slice(filter, [0, 0, 0, 0], [Math.min(h, kh), Math.min(w, kw), channels, multiplier]);
      const [th, tw] = taps.shape;
      const prod = tf.mul(
        tf.reshape(dy, [n, 1, 1, channels, multiplier]),
        tf.reshape(taps, [1, th, tw, channels, multiplier]),
      );
      const dx = multiplier === 1 ? tf.reshape(prod, [n, th, tw, channels]) : tf.sum(prod, 4);
      // Rows and columns beyond the filter (an input larger than it) get no gradient.
      return th === h && tw === w
        ? dx
        : tf.pad(dx, [
            [0, 0],
            [0, h - th],
            [0, w - tw],
            [0, 0],
          ]);
    }
    const scattered = depthwiseDxStrided(dy, filter, info);
    if (scattered) return scattered;
    const reversed = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, channels * multiplier, 1]) as tf.Tensor4D;
    const explicit = correlationPadding(info, kh, kw);
    const dx = explicit
      ? tf.depthwiseConv2d(dy, reversed, 1, explicit)
      : tf.depthwiseConv2d(fullCorrelationInput(dy, info, kh, kw), reversed, 1, 'valid');
    if (multiplier === 1) return dx;
    return tf.sum(tf.reshape(dx, [n, h, w, channels, multiplier]), 4);
  });
}

const WASM_GRAD_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, backendName: 'wasm', kernelFunc: depthwiseBackpropInput },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, backendName: 'wasm', kernelFunc: depthwiseBackpropFilter },
];

/**
 * Registers the three backward convolution kernels for the 'wasm' backend. Idempotent: a
 * kernel already registered (by an earlier call, or natively by a later tfjs-backend-wasm)
 * is left as it is. Safe to call before or after `tf.setBackend('wasm')`.
 */
export function registerWasmGradKernels(): void {
  for (const config of WASM_GRAD_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') == null) tf.registerKernel(config);
  }
}
