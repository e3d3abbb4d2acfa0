/**
 * Tensor plumbing shared by the composed wasm convolution kernels (`wasmGradKernels.ts`,
 * `fastKernels.ts`): kernel inputs as Tensors, the supported-attribute check, and the
 * pad / crop / zero-insertion reshapes that turn a backward convolution into forward ones.
 * Every function here runs tf ops and must be called inside `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.js';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * A kernel input as a Tensor. Ops pass Tensors; a bare TensorInfo gets a view holding its own
 * reference to the data, so disposing the view (at the end of the caller's tidy) leaves the
 * caller's data alive. Call inside `tf.tidy`.
 */
export function asTensor(info: tf.TensorInfo | undefined, kernel: string, name: string): tf.Tensor {
  if (info == null) throw new Error(`${kernel}: missing input '${name}'`);
  if (info instanceof tf.Tensor) return info as tf.Tensor;
  const backend = tf.engine().backend;
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** `asTensor` for an input that must be rank 4. */
export function asTensor4D(info: tf.TensorInfo | undefined, kernel: string, name: string): tf.Tensor4D {
  const t = asTensor(info, kernel, name);
  if (t.rank !== 4) throw new Error(`${kernel}: input '${name}' must be rank 4, got shape [${t.shape.join(', ')}]`);
  return t as tf.Tensor4D;
}

/**
 * @throws ArcinvertError for NCHW or dilated convolutions, which the composed kernels do not
 *   implement.
 */
export function requireSupported(info: Conv2DInfo, kernel: string): void {
  if (info.dataFormat !== 'channelsLast') {
    throw new ConfigError(['backend'], (k) => `${kernel} on wasm supports NHWC only; use ${k('backend')} cpu for NCHW`);
  }
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new ConfigError(
      ['backend'],
      (k) =>
        `${kernel} on wasm supports dilation 1 only (got ${info.dilationHeight}x${info.dilationWidth}); ` +
        `use ${k('backend')} cpu for dilated convolutions`,
    );
  }
}

/** Crops (negative amounts) then zero-pads (positive amounts) the spatial axes of `[N, H, W, C]`. */
export function padOrCrop(t: tf.Tensor4D, h: [number, number], w: [number, number]): tf.Tensor4D {
  const [n, height, width, c] = t.shape;
  const top = Math.max(0, -h[0]);
  const left = Math.max(0, -w[0]);
  const cropped =
    top > 0 || left > 0 || h[1] < 0 || w[1] < 0
      ? tf.slice(t, [0, top, left, 0], [n, height - top - Math.max(0, -h[1]), width - left - Math.max(0, -w[1]), c])
      : t;
  if (h[0] <= 0 && h[1] <= 0 && w[0] <= 0 && w[1] <= 0) return cropped;
  return tf.pad(cropped, [
    [0, 0],
    [Math.max(0, h[0]), Math.max(0, h[1])],
    [Math.max(0, w[0]), Math.max(0, w[1])],
    [0, 0],
  ]);
}

/**
 * Inserts `stride - 1` zeros after every row and column (a transposed convolution's input).
 * @param dy `[N, OH, OW, C]`
 * @returns `[N, OH·sh, OW·sw, C]`, `out[b, r·sh, c·sw] = dy[b, r, c]`, zero elsewhere
 */
export function zeroDilate(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [n, oh, ow, c] = dy.shape;
  let out = dy;
  if (sh > 1) {
    const rows = tf.pad(tf.reshape(out, [n, oh, 1, ow * c]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
    ]);
    out = tf.reshape(rows, [n, oh * sh, ow, c]);
  }
  if (sw > 1) {
    const cols = tf.pad(tf.reshape(out, [n * oh * sh, ow, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    out = tf.reshape(cols, [n, oh * sh, ow * sw, c]);
  }
  return out;
}

/**
 * Places a transposed convolution's zero-dilated output grid onto the input grid: the value
 * for output position r lands on input row `r·stride − padBefore`, rows outside `[0, size)`
 * are dropped and missing ones are zero.
 * @param dilated `[N, OH·sh, OW·sw, C]` from `zeroDilate`
 * @returns `[N, H, W, C]`
 */
export function placeOnInput(dilated: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { top, left } = info.padInfo;
  return padOrCrop(
    dilated,
    [-top, info.inHeight - (dilated.shape[1] - top)],
    [-left, info.inWidth - (dilated.shape[2] - left)],
  );
}

/**
 * dy prepared for an input gradient as a stride-1 'valid' correlation with the spatially
 * reversed filter (a transposed convolution): zeros inserted between dy's rows and columns
 * for stride > 1, then padded (or cropped) so the result is exactly the input's H×W.
 *
 * @param dy [N, OH, OW, C]. @param kh, kw the filter size.
 * @returns [N, H + kh − 1, W + kw − 1, C].
 */
export function fullCorrelationInput(dy: tf.Tensor4D, info: Conv2DInfo, kh: number, kw: number): tf.Tensor4D {
  const dilated = zeroDilate(dy, info.strideHeight, info.strideWidth);
  const lo: [number, number] = [kh - 1 - info.padInfo.top, kw - 1 - info.padInfo.left];
  return padOrCrop(
    dilated,
    [lo[0], info.inHeight + kh - 1 - lo[0] - dilated.shape[1]],
    [lo[1], info.inWidth + kw - 1 - lo[1] - dilated.shape[2]],
  );
}

/** Per-side padding of an NHWC convolution, as tf ops accept it. */
export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/**
 * `fullCorrelationInput`'s padding as the convolution's own explicit padding, when the forward
 * stride is 1 and every amount is ≥ 0: the stride-1 correlation then pads inside XNNPACK's
 * convolution instead of copying dy first. Undefined otherwise (stride > 1 needs the
 * zero-inserted copy; a negative amount, a crop).
 */
export function correlationPadding(info: Conv2DInfo, kh: number, kw: number): ExplicitPadding | undefined {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = info.inHeight + kh - 1 - top - info.outHeight;
  const right = info.inWidth + kw - 1 - left - info.outWidth;
  if (Math.min(top, left, bottom, right) < 0) return undefined;
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}
