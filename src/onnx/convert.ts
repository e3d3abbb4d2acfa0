/**
 * ONNX graph → tfjs LayersModel, node by node, for the operators insightface's IResNet and
 * MobileFaceNet exports use. The graph is NCHW; the model is NHWC, so:
 *
 * - Conv weights OIHW → HWIO (`conv2d`) or, when `group` equals the channels, O1HW → HW O 1
 *   (`depthwiseConv2d`); other grouped convs (MobileFaceNet scale 2 has one) become a
 *   block-diagonal `conv2d`; ONNX `pads` become an explicit `zeroPadding2d` (PyTorch's symmetric
 *   padding; tfjs 'same' pads asymmetrically at stride 2); a conv's bias is kept (exports fold
 *   each conv→BN pair into the conv, leaving a bias).
 * - PRelu slopes [C] or [C, 1, 1] → a `prelu` with alpha [1, 1, C] shared over H and W.
 * - BatchNormalization (the layers that survive folding) → `batchNormalization` with its
 *   running statistics, so the BN prior can use them.
 * - Flatten (or Reshape to [N, −1], [1, −1] or [−1, D]) of an NCHW map flattens in C·H·W order;
 *   the Gemm or MatMul that follows gets its weight rows permuted to tfjs' H·W·C order instead
 *   of adding a transpose. The shape arithmetic of dynamic-batch exports (Shape → Gather →
 *   Unsqueeze → Concat → Reshape) is evaluated on constants with batch 1.
 * - Sub / Mul / Div by scalar constants applied to the graph input (MXNet-era insightface
 *   models normalise inside the graph) become the model's input normalisation; Pad (constant
 *   zeros on H and W) becomes a `zeroPadding2d`.
 *
 * Anything else — another operator, dilation, a Gemm
 * with transA, a Flatten that does not feed a Gemm — is refused with an error naming the node.
 * Layer names are the ONNX node names made safe, so taps and calibrations stay readable.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError, ConfigError } from '../errors.js';
import type { OnnxGraph, OnnxNode, OnnxTensor } from './read.js';

type Sym = tf.SymbolicTensor;

/** The operators the importer converts. */
export const SUPPORTED_OPS = [
  'Conv',
  'BatchNormalization',
  'PRelu',
  'Relu',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pad',
  'Flatten',
  'Reshape',
  'Gemm',
  'MatMul',
  'Dropout',
  'Identity',
  'Constant',
  'Shape',
  'Gather',
  'Unsqueeze',
  'Concat',
] as const;

export interface ConvertOptions {
  /** Input [height, width]; required when the graph's are symbolic. */
  inputSize?: [number, number];
  /** The model takes BGR: the first conv's input channels are reversed so the result takes RGB. */
  bgr: boolean;
}

export interface ConvertResult {
  model: tf.LayersModel;
  inputSize: [number, number];
  embeddingSize: number;
  /** Operator counts of the source graph. */
  ops: Record<string, number>;
  /** BatchNormalization nodes kept (with running statistics). */
  batchNorms: number;
  /** Convs that carry a bias (a folded BatchNorm, in insightface exports). */
  biasedConvs: number;
  /**
   * Input normalisation the graph does itself (Sub / Mul / Div by scalars on its input, as in
   * insightface's MXNet-converted models): the rebuilt model takes `(x − mean) / std` of 0–255
   * pixels with these values instead. Null when the graph has none.
   */
  inputNormalization: { mean: number; std: number } | null;
}

/** A value flowing through the graph: a symbolic NHWC tensor, or a flattened NCHW map. */
interface Value {
  sym: Sym;
  /** Set when `sym` is a flatten of an NCHW map [C, H, W] (in tfjs' H·W·C order). */
  flattenedFrom?: [number, number, number];
}

type SupportedOp = (typeof SUPPORTED_OPS)[number];

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z]/, 'n$&');

function unsupported(node: OnnxNode, why: string): never {
  throw new ArcinvertError(`unsupported ONNX ${why} at node '${node.name}' (${node.opType})`);
}

/**
 * HWIO from OIHW (HW·C·1 from C·1·H·W for depthwise), reversing the input channels if asked.
 * A grouped conv (`group` > 1, not depthwise) becomes a dense kernel that is zero between
 * groups: exact, at `group` times the FLOPs of that layer.
 */
function convKernel(w: OnnxTensor, group: number, depthwise: boolean, reverseInput: boolean): tf.Tensor4D {
  const [o, per, h, k] = w.dims;
  const i = depthwise ? 1 : per * group;
  const outPerGroup = o / group;
  const out = new Float32Array(depthwise ? w.data.length : h * k * i * o);
  for (let a = 0; a < o; a++) {
    const first = depthwise ? 0 : Math.floor(a / outPerGroup) * per;
    for (let b = 0; b < per; b++) {
      const ib = first + b;
      const bi = reverseInput ? i - 1 - ib : ib;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < k; x++) {
          const v = w.data[((a * per + b) * h + y) * k + x];
          // depthwise: [h, k, C = o, 1]; dense: [h, k, i, o]
          out[depthwise ? (y * k + x) * o + a : ((y * k + x) * i + bi) * o + a] = v;
        }
      }
    }
  }
  return tf.tensor4d(out, depthwise ? [h, k, o, 1] : [h, k, i, o]);
}

/**
 * One conversion in progress: the graph's constants (initializers, and shape arithmetic
 * evaluated so far), the symbolic values computed so far, and what the result reports.
 */
interface Conversion {
  opts: ConvertOptions;
  consts: Map<string, OnnxTensor>;
  values: Map<string, Value>;
  /** Weight tensors handed to layers (which copy them); disposed at the end. */
  created: tf.Tensor[];
  /** Layer names taken so far. */
  used: Set<string>;
  /** No Conv converted yet (input normalisation and `bgr` apply before the first). */
  firstConv: boolean;
  /** The graph input's value after in-graph normalisation: raw · scale + shift (identity at first). */
  inputAffine: { name: string; scale: number; shift: number };
  batchNorms: number;
  biasedConvs: number;
}

/** A unique layer name from the node's name. */
function layerName(cx: Conversion, n: OnnxNode, suffix = ''): string {
  let name = safeName(n.name) + suffix;
  for (let k = 2; cx.used.has(name); k++) name = `${safeName(n.name)}${suffix}_${k}`;
  cx.used.add(name);
  return name;
}

/** The constant `name` (an input of `n`); `what` names it in the error when it is computed. */
function constant(cx: Conversion, n: OnnxNode, name: string | undefined, what: string): OnnxTensor {
  const t = name !== undefined ? cx.consts.get(name) : undefined;
  if (!t) unsupported(n, `${what} that is not a constant`);
  return t;
}

/** The symbolic value `name` (an input of `n`). */
function value(cx: Conversion, n: OnnxNode, name: string): Value {
  const v = cx.values.get(name);
  if (!v) unsupported(n, `input '${name}' (computed, not a constant or a supported node's output)`);
  return v;
}

/** Sets `n`'s (first) output. */
function setOutput(cx: Conversion, n: OnnxNode, sym: Sym, extra: Partial<Value> = {}): void {
  cx.values.set(n.outputs[0], { sym, ...extra });
}

/** Keeps a weight tensor for disposal once the layers have copied it. */
function keep<T extends tf.Tensor>(cx: Conversion, t: T): T {
  cx.created.push(t);
  return t;
}

/** A zero padding of an NHWC map: [[top, bottom], [left, right]]. */
function zeroPad(sym: Sym, padding: [[number, number], [number, number]], name: string): Sym {
  return tf.layers.zeroPadding2d({ padding, name }).apply(sym) as Sym;
}

function convertConstant(cx: Conversion, n: OnnxNode): void {
  const t = n.attributes.value;
  if (typeof t !== 'object' || Array.isArray(t)) unsupported(n, 'Constant without a tensor value');
  cx.consts.set(n.outputs[0], t);
}

/** Sub / Mul / Div: only as input normalisation (Add by a scalar is handled with Add). */
function convertNormalisation(cx: Conversion, n: OnnxNode): void {
  const k = cx.consts.get(n.inputs[1]);
  if (n.inputs[0] !== cx.inputAffine.name || !k || k.data.length !== 1 || !cx.firstConv)
    unsupported(n, `${n.opType} other than by a scalar on the graph input`);
  const c = k.data[0];
  if (n.opType === 'Div' && c === 0) unsupported(n, 'Div by zero');
  const { scale, shift } = cx.inputAffine;
  cx.inputAffine =
    n.opType === 'Sub'
      ? { name: n.outputs[0], scale, shift: shift - c }
      : n.opType === 'Mul'
        ? { name: n.outputs[0], scale: scale * c, shift: shift * c }
        : { name: n.outputs[0], scale: scale / c, shift: shift / c };
  cx.values.set(n.outputs[0], value(cx, n, n.inputs[0]));
}

function convertPad(cx: Conversion, n: OnnxNode): void {
  const a = n.attributes;
  const x = value(cx, n, n.inputs[0]);
  const mode = (a.mode as string | undefined) ?? 'constant';
  const pads =
    (a.pads as number[] | undefined) ?? (n.inputs[1] ? Array.from(constant(cx, n, n.inputs[1], 'Pad pads').data) : []);
  const fill = n.inputs[2] ? constant(cx, n, n.inputs[2], 'Pad value').data[0] : ((a.value as number | undefined) ?? 0);
  if (x.flattenedFrom || x.sym.shape.length !== 4 || pads.length !== 8)
    unsupported(n, 'Pad other than of an image map');
  if (mode !== 'constant' || fill !== 0 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0))
    unsupported(n, `Pad mode ${mode}, value ${fill}, pads [${pads.join(', ')}] (only zeros on H and W)`);
  setOutput(
    cx,
    n,
    zeroPad(
      x.sym,
      [
        [pads[2], pads[6]],
        [pads[3], pads[7]],
      ],
      layerName(cx, n),
    ),
  );
}

/** Identity / Dropout (inference): the input, constant or not, under the output's name. */
function convertPassThrough(cx: Conversion, n: OnnxNode): void {
  const k = cx.consts.get(n.inputs[0]);
  if (k) cx.consts.set(n.outputs[0], k);
  else cx.values.set(n.outputs[0], value(cx, n, n.inputs[0]));
}

function convertConv(cx: Conversion, n: OnnxNode): void {
  const a = n.attributes;
  const x = value(cx, n, n.inputs[0]);
  if (x.flattenedFrom || x.sym.shape.length !== 4) unsupported(n, 'Conv on a tensor that is not an image map');
  const wt = constant(cx, n, n.inputs[1], 'Conv weight');
  const bias = n.inputs[2] ? constant(cx, n, n.inputs[2], 'Conv bias') : undefined;
  const group = (a.group as number | undefined) ?? 1;
  const cin = x.sym.shape[3] as number;
  const [cout, , kh, kw] = wt.dims;
  const dil = (a.dilations as number[] | undefined) ?? [1, 1];
  if (dil.some((d) => d !== 1)) unsupported(n, `dilation [${dil.join(', ')}]`);
  const depthwise = group > 1 && group === cin && cout === cin && wt.dims[1] === 1;
  if (wt.dims[1] * group !== cin || cout % group !== 0)
    unsupported(n, `Conv weight [${wt.dims.join(', ')}] with group ${group} on ${cin} channels`);
  if (a.auto_pad !== undefined && a.auto_pad !== 'NOTSET') unsupported(n, `auto_pad ${JSON.stringify(a.auto_pad)}`);
  const strides = (a.strides as number[] | undefined) ?? [1, 1];
  const pads = (a.pads as number[] | undefined) ?? [0, 0, 0, 0];
  let sym = x.sym;
  if (pads.some((p) => p !== 0)) {
    const padding: [[number, number], [number, number]] = [
      [pads[0], pads[2]],
      [pads[1], pads[3]],
    ];
    sym = zeroPad(sym, padding, layerName(cx, n, '_pad'));
  }
  const weights: tf.Tensor[] = [keep(cx, convKernel(wt, group, depthwise, cx.firstConv && cx.opts.bgr && !depthwise))];
  if (bias) {
    weights.push(keep(cx, tf.tensor1d(bias.data)));
    cx.biasedConvs++;
  }
  const common = {
    kernelSize: [kh, kw] as [number, number],
    strides: strides as [number, number],
    padding: 'valid' as const,
    useBias: bias !== undefined,
    name: layerName(cx, n),
    weights,
  };
  const layer = depthwise
    ? tf.layers.depthwiseConv2d({ ...common, depthMultiplier: 1 })
    : tf.layers.conv2d({ ...common, filters: cout });
  setOutput(cx, n, layer.apply(sym) as Sym);
  cx.firstConv = false;
}

function convertBatchNorm(cx: Conversion, n: OnnxNode): void {
  const x = value(cx, n, n.inputs[0]);
  if (x.flattenedFrom) unsupported(n, 'BatchNormalization of a flattened map');
  const ws = [1, 2, 3, 4].map((i) =>
    keep(cx, tf.tensor1d(constant(cx, n, n.inputs[i], 'BatchNormalization parameter').data)),
  );
  const epsilon = (n.attributes.epsilon as number | undefined) ?? 1e-5;
  const bn = tf.layers.batchNormalization({ axis: -1, epsilon, name: layerName(cx, n), weights: ws });
  setOutput(cx, n, bn.apply(x.sym) as Sym);
  cx.batchNorms++;
}

function convertPRelu(cx: Conversion, n: OnnxNode): void {
  const x = value(cx, n, n.inputs[0]);
  const slope = constant(cx, n, n.inputs[1], 'PRelu slope');
  const c = x.sym.shape[x.sym.shape.length - 1] as number;
  if (slope.data.length !== c) unsupported(n, `PRelu slope of ${slope.data.length} values for ${c} channels`);
  const rank4 = x.sym.shape.length === 4 && !x.flattenedFrom;
  const alpha = keep(cx, rank4 ? tf.tensor3d(slope.data, [1, 1, c]) : tf.tensor1d(slope.data));
  const prelu = tf.layers.prelu({ sharedAxes: rank4 ? [1, 2] : undefined, name: layerName(cx, n), weights: [alpha] });
  setOutput(cx, n, prelu.apply(x.sym) as Sym);
}

function convertRelu(cx: Conversion, n: OnnxNode): void {
  const x = value(cx, n, n.inputs[0]);
  setOutput(cx, n, tf.layers.reLU({ name: layerName(cx, n) }).apply(x.sym) as Sym, { flattenedFrom: x.flattenedFrom });
}

/** Add: a residual sum, or a scalar shift of the graph input (input normalisation). */
function convertAdd(cx: Conversion, n: OnnxNode): void {
  const k = cx.consts.get(n.inputs[1]);
  if (k && n.inputs[0] === cx.inputAffine.name && cx.firstConv && k.data.length === 1) {
    const { scale, shift } = cx.inputAffine;
    cx.inputAffine = { name: n.outputs[0], scale, shift: shift + k.data[0] };
    cx.values.set(n.outputs[0], value(cx, n, n.inputs[0]));
    return;
  }
  const [p, q] = n.inputs.map((i) => value(cx, n, i));
  if (p.flattenedFrom || q.flattenedFrom) unsupported(n, 'Add of flattened maps');
  setOutput(cx, n, tf.layers.add({ name: layerName(cx, n) }).apply([p.sym, q.sym]) as Sym);
}

/** Flatten, or a Reshape that is one ([N, −1], [1, −1], [−1, D]). */
function convertFlatten(cx: Conversion, n: OnnxNode): void {
  const a = n.attributes;
  const x = value(cx, n, n.inputs[0]);
  if (n.opType === 'Flatten' && ((a.axis as number | undefined) ?? 1) !== 1)
    unsupported(n, `Flatten axis ${JSON.stringify(a.axis)}`);
  if (n.opType === 'Reshape') {
    const shape = Array.from(constant(cx, n, n.inputs[1], 'Reshape shape').data);
    const size = (x.sym.shape.slice(1) as number[]).reduce((s, d) => s * d, 1);
    const flat =
      shape.length === 2 &&
      (((shape[0] === -1 || shape[0] === 0 || shape[0] === 1) && (shape[1] === -1 || shape[1] === size)) ||
        (shape[0] === -1 && shape[1] === size));
    if (!flat) unsupported(n, `Reshape to [${shape.join(', ')}] (only a flatten to [N, ${size}] is supported)`);
  }
  if (x.sym.shape.length === 2) {
    cx.values.set(n.outputs[0], x);
    return;
  }
  const [, hh, ww, cc] = x.sym.shape as number[];
  setOutput(
    cx,
    n,
    tf.layers.flatten({ name: layerName(cx, n) }).apply(x.sym) as Sym,
    hh * ww > 1 ? { flattenedFrom: [cc, hh, ww] } : {},
  );
}

/** Shape of a value, as NCHW with batch 1 (the shape arithmetic of dynamic-batch exports). */
function convertShape(cx: Conversion, n: OnnxNode): void {
  const x = value(cx, n, n.inputs[0]);
  const sh = x.sym.shape;
  const nchw = sh.length === 4 && !x.flattenedFrom ? [1, sh[3], sh[1], sh[2]] : [1, ...(sh.slice(1) as number[])];
  cx.consts.set(n.outputs[0], { dims: [nchw.length], data: Float32Array.from(nchw as number[]) });
}

function convertGather(cx: Conversion, n: OnnxNode): void {
  const data = constant(cx, n, n.inputs[0], 'Gather data');
  const idx = constant(cx, n, n.inputs[1], 'Gather indices');
  if (data.dims.length !== 1 || ((n.attributes.axis as number | undefined) ?? 0) !== 0)
    unsupported(n, 'Gather other than of a shape vector');
  const picked = Array.from(idx.data, (i) => data.data[i < 0 ? i + data.data.length : i]);
  cx.consts.set(n.outputs[0], { dims: idx.dims, data: Float32Array.from(picked) });
}

function convertUnsqueeze(cx: Conversion, n: OnnxNode): void {
  const t = constant(cx, n, n.inputs[0], 'Unsqueeze input');
  if (t.dims.length > 1) unsupported(n, 'Unsqueeze of a tensor of rank > 1');
  cx.consts.set(n.outputs[0], { dims: [t.data.length], data: t.data });
}

function convertConcat(cx: Conversion, n: OnnxNode): void {
  const parts = n.inputs.map((i) => constant(cx, n, i, 'Concat input'));
  if (parts.some((t) => t.dims.length !== 1)) unsupported(n, 'Concat other than of shape vectors');
  const data = Float32Array.from(parts.flatMap((t) => Array.from(t.data)));
  cx.consts.set(n.outputs[0], { dims: [data.length], data });
}

/**
 * A dense kernel [in (tfjs order), out] · `alpha` from an ONNX weight ([in, out], or [out, in]
 * with `transB`) whose rows follow a flatten of the NCHW map [C, H, W]: tfjs row r = (h, w, c)
 * ↔ ONNX row c·H·W + h·W + w.
 */
function denseKernel(
  wt: OnnxTensor,
  [cc, hh, ww]: [number, number, number],
  transB: boolean,
  alpha: number,
  [inDim, outDim]: [number, number],
): tf.Tensor2D {
  const kernel = new Float32Array(inDim * outDim);
  for (let yy = 0; yy < hh; yy++) {
    for (let xx = 0; xx < ww; xx++) {
      for (let c = 0; c < cc; c++) {
        const r = (yy * ww + xx) * cc + c;
        const src = c * hh * ww + yy * ww + xx;
        for (let o = 0; o < outDim; o++)
          kernel[r * outDim + o] = alpha * wt.data[transB ? o * inDim + src : src * outDim + o];
      }
    }
  }
  return tf.tensor2d(kernel, [inDim, outDim]);
}

/** Gemm or MatMul on a flat value → a dense layer. */
function convertDense(cx: Conversion, n: OnnxNode): void {
  const a = n.attributes;
  const x = value(cx, n, n.inputs[0]);
  if (x.sym.shape.length !== 2) unsupported(n, `${n.opType} on a tensor that is not flat`);
  if (((a.transA as number | undefined) ?? 0) !== 0) unsupported(n, 'Gemm with transA');
  const alpha = (a.alpha as number | undefined) ?? 1;
  const beta = (a.beta as number | undefined) ?? 1;
  const wt = constant(cx, n, n.inputs[1], 'Gemm weight');
  if (wt.dims.length !== 2) unsupported(n, `${n.opType} weight of rank ${wt.dims.length}`);
  const transB = ((a.transB as number | undefined) ?? 0) !== 0;
  const [inDim, outDim] = transB ? [wt.dims[1], wt.dims[0]] : [wt.dims[0], wt.dims[1]];
  if (inDim !== x.sym.shape[1]) unsupported(n, `Gemm weight for ${inDim} inputs on ${String(x.sym.shape[1])}`);
  const weights: tf.Tensor[] = [
    keep(cx, denseKernel(wt, x.flattenedFrom ?? [inDim, 1, 1], transB, alpha, [inDim, outDim])),
  ];
  const bias = n.opType === 'Gemm' && n.inputs[2] ? constant(cx, n, n.inputs[2], 'Gemm bias') : undefined;
  if (bias) {
    if (bias.data.length !== outDim)
      unsupported(n, `Gemm bias of shape [${bias.dims.join(', ')}] (only a vector of ${outDim} is supported)`);
    weights.push(keep(cx, tf.tensor1d(bias.data.map((v) => beta * v))));
  }
  const dense = tf.layers.dense({ units: outDim, useBias: bias !== undefined, name: layerName(cx, n), weights });
  setOutput(cx, n, dense.apply(x.sym) as Sym);
}

/** The converter of each supported operator. */
const CONVERTERS: Record<SupportedOp, (cx: Conversion, n: OnnxNode) => void> = {
  Conv: convertConv,
  BatchNormalization: convertBatchNorm,
  PRelu: convertPRelu,
  Relu: convertRelu,
  Add: convertAdd,
  Sub: convertNormalisation,
  Mul: convertNormalisation,
  Div: convertNormalisation,
  Pad: convertPad,
  Flatten: convertFlatten,
  Reshape: convertFlatten,
  Gemm: convertDense,
  MatMul: convertDense,
  Dropout: convertPassThrough,
  Identity: convertPassThrough,
  Constant: convertConstant,
  Shape: convertShape,
  Gather: convertGather,
  Unsqueeze: convertUnsqueeze,
  Concat: convertConcat,
};

/** The input size [H, W] of a face model's graph, checked. */
function checkInput(g: OnnxGraph, opts: ConvertOptions): [number, number] {
  const dims = g.input.dims;
  if (dims.length !== 4)
    throw new ArcinvertError(
      `${g.file}: the input '${g.input.name}' has rank ${dims.length}; a face model takes [N, 3, H, W]`,
    );
  if (dims[1] !== null && dims[1] !== 3)
    throw new ArcinvertError(`${g.file}: the input '${g.input.name}' has ${dims[1]} channels; a face model takes 3`);
  const h = opts.inputSize?.[0] ?? dims[2];
  const w = opts.inputSize?.[1] ?? dims[3];
  if (h === null || w === null)
    throw new ConfigError(
      ['inputSize'],
      (k) => `${g.file}: the input size is symbolic; give it with ${k('inputSize')}`,
    );
  if (dims[2] !== null && dims[2] !== h)
    throw new ConfigError(
      ['inputSize'],
      (k) => `${g.file}: ${k('inputSize')} ${h} differs from the graph's input height ${dims[2]}`,
    );
  if (h % 16 !== 0 || w % 16 !== 0)
    throw new ArcinvertError(`${g.file}: input size ${h}×${w} is not a multiple of 16 (four stride-2 stages)`);
  return [h, w];
}

/** Operator counts; refuses the first node of another operator or domain. */
function countOps(g: OnnxGraph): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of g.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  const bad = g.nodes.find(
    (n) => (n.domain !== '' && n.domain !== 'ai.onnx') || !(SUPPORTED_OPS as readonly string[]).includes(n.opType),
  );
  if (bad)
    unsupported(
      bad,
      `operator ${bad.domain ? `${bad.domain}.` : ''}${bad.opType} (supported: ${SUPPORTED_OPS.join(', ')})`,
    );
  return ops;
}

/** The graph's one output, an embedding [N, D]. */
function embeddingOutput(g: OnnxGraph, cx: Conversion): Sym {
  if (g.outputs.length !== 1)
    throw new ArcinvertError(
      `${g.file}: a face model has one output (the embedding), this graph has ${g.outputs.length}`,
    );
  const out = cx.values.get(g.outputs[0]);
  if (!out)
    throw new ArcinvertError(`${g.file}: the graph's output '${g.outputs[0]}' is not computed by a supported node`);
  if (out.sym.shape.length !== 2)
    throw new ArcinvertError(
      `${g.file}: the output '${g.outputs[0]}' has shape [${out.sym.shape.join(', ')}]; a face model outputs [N, D]`,
    );
  return out.sym;
}

/**
 * Converts a read ONNX graph.
 * @throws ArcinvertError naming the first node the importer cannot convert.
 */
export function convertOnnxGraph(g: OnnxGraph, opts: ConvertOptions): ConvertResult {
  const [h, w] = checkInput(g, opts);
  const ops = countOps(g);
  const input = tf.input({ shape: [h, w, 3], name: 'input' });
  const cx: Conversion = {
    opts,
    consts: new Map(g.initializers),
    values: new Map([[g.input.name, { sym: input }]]),
    created: [],
    used: new Set(),
    firstConv: true,
    inputAffine: { name: g.input.name, scale: 1, shift: 0 },
    batchNorms: 0,
    biasedConvs: 0,
  };
  try {
    for (const n of g.nodes) {
      const convert = CONVERTERS[n.opType as SupportedOp] as ((cx: Conversion, n: OnnxNode) => void) | undefined;
      if (!convert) unsupported(n, `operator ${n.opType}`);
      convert(cx, n);
    }
    const embedding = embeddingOutput(g, cx);
    const model = tf.model({ inputs: input, outputs: embedding, name: 'onnx_import' });
    // raw · scale + shift = (raw − mean) / std  ⇔  std = 1 / scale, mean = −shift / scale.
    const { name, scale, shift } = cx.inputAffine;
    const inputNormalization = name === g.input.name ? null : { mean: -shift / scale, std: 1 / scale };
    return {
      model,
      inputSize: [h, w],
      embeddingSize: embedding.shape[1] as number,
      ops,
      batchNorms: cx.batchNorms,
      biasedConvs: cx.biasedConvs,
      inputNormalization,
    };
  } finally {
    tf.dispose(cx.created);
  }
}
