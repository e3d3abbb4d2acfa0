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
 * Converts a read ONNX graph.
 * @throws ArcinvertError naming the first node the importer cannot convert.
 */
export function convertOnnxGraph(g: OnnxGraph, opts: ConvertOptions): ConvertResult {
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

  const consts = new Map(g.initializers);
  const values = new Map<string, Value>();
  const input = tf.input({ shape: [h, w, 3], name: 'input' });
  values.set(g.input.name, { sym: input });
  const created: tf.Tensor[] = [];
  const used = new Set<string>();
  const layerName = (n: OnnxNode, suffix = ''): string => {
    let name = safeName(n.name) + suffix;
    for (let k = 2; used.has(name); k++) name = `${safeName(n.name)}${suffix}_${k}`;
    used.add(name);
    return name;
  };
  const constant = (n: OnnxNode, name: string | undefined, what: string): OnnxTensor => {
    const t = name !== undefined ? consts.get(name) : undefined;
    if (!t) unsupported(n, `${what} that is not a constant`);
    return t;
  };
  const value = (n: OnnxNode, name: string): Value => {
    const v = values.get(name);
    if (!v) unsupported(n, `input '${name}' (computed, not a constant or a supported node's output)`);
    return v;
  };
  let firstConv = true;
  // The graph input's value after in-graph normalisation: raw · scale + shift (identity at first).
  let inputAffine = { name: g.input.name, scale: 1, shift: 0 };
  let batchNorms = 0;
  let biasedConvs = 0;

  try {
    for (const n of g.nodes) {
      const a = n.attributes;
      const set = (sym: Sym, extra: Partial<Value> = {}) => values.set(n.outputs[0], { sym, ...extra });
      switch (n.opType) {
        case 'Constant': {
          const t = a.value;
          if (typeof t !== 'object' || Array.isArray(t)) unsupported(n, 'Constant without a tensor value');
          consts.set(n.outputs[0], t);
          break;
        }
        case 'Sub':
        case 'Mul':
        case 'Div': {
          // Only as input normalisation (Add by a scalar is handled with Add).
          const k = consts.get(n.inputs[1]);
          if (n.inputs[0] !== inputAffine.name || !k || k.data.length !== 1 || !firstConv)
            unsupported(n, `${n.opType} other than by a scalar on the graph input`);
          const c = k.data[0];
          if (n.opType === 'Div' && c === 0) unsupported(n, 'Div by zero');
          const { scale, shift } = inputAffine;
          inputAffine =
            n.opType === 'Sub'
              ? { name: n.outputs[0], scale, shift: shift - c }
              : n.opType === 'Mul'
                ? { name: n.outputs[0], scale: scale * c, shift: shift * c }
                : { name: n.outputs[0], scale: scale / c, shift: shift / c };
          values.set(n.outputs[0], value(n, n.inputs[0]));
          break;
        }
        case 'Pad': {
          const x = value(n, n.inputs[0]);
          const mode = (a.mode as string | undefined) ?? 'constant';
          const pads =
            (a.pads as number[] | undefined) ??
            (n.inputs[1] ? Array.from(constant(n, n.inputs[1], 'Pad pads').data) : []);
          const fill = n.inputs[2]
            ? constant(n, n.inputs[2], 'Pad value').data[0]
            : ((a.value as number | undefined) ?? 0);
          if (x.flattenedFrom || x.sym.shape.length !== 4 || pads.length !== 8)
            unsupported(n, 'Pad other than of an image map');
          if (mode !== 'constant' || fill !== 0 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0))
            unsupported(n, `Pad mode ${mode}, value ${fill}, pads [${pads.join(', ')}] (only zeros on H and W)`);
          set(
            tf.layers
              .zeroPadding2d({
                padding: [
                  [pads[2], pads[6]],
                  [pads[3], pads[7]],
                ],
                name: layerName(n),
              })
              .apply(x.sym) as Sym,
          );
          break;
        }
        case 'Identity':
        case 'Dropout': {
          if (consts.has(n.inputs[0])) consts.set(n.outputs[0], consts.get(n.inputs[0])!);
          else values.set(n.outputs[0], value(n, n.inputs[0]));
          break;
        }
        case 'Conv': {
          const x = value(n, n.inputs[0]);
          if (x.flattenedFrom || x.sym.shape.length !== 4) unsupported(n, 'Conv on a tensor that is not an image map');
          const wt = constant(n, n.inputs[1], 'Conv weight');
          const bias = n.inputs[2] ? constant(n, n.inputs[2], 'Conv bias') : undefined;
          const group = (a.group as number | undefined) ?? 1;
          const cin = x.sym.shape[3] as number;
          const [cout, , kh, kw] = wt.dims;
          const dil = (a.dilations as number[] | undefined) ?? [1, 1];
          if (dil.some((d) => d !== 1)) unsupported(n, `dilation [${dil.join(', ')}]`);
          const depthwise = group > 1 && group === cin && cout === cin && wt.dims[1] === 1;
          if (wt.dims[1] * group !== cin || cout % group !== 0)
            unsupported(n, `Conv weight [${wt.dims.join(', ')}] with group ${group} on ${cin} channels`);
          if (a.auto_pad !== undefined && a.auto_pad !== 'NOTSET') unsupported(n, `auto_pad ${String(a.auto_pad)}`);
          const strides = (a.strides as number[] | undefined) ?? [1, 1];
          const pads = (a.pads as number[] | undefined) ?? [0, 0, 0, 0];
          let sym = x.sym;
          if (pads.some((p) => p !== 0)) {
            sym = tf.layers
              .zeroPadding2d({
                padding: [
                  [pads[0], pads[2]],
                  [pads[1], pads[3]],
                ],
                name: layerName(n, '_pad'),
              })
              .apply(sym) as Sym;
          }
          const kernel = convKernel(wt, group, depthwise, firstConv && opts.bgr && !depthwise);
          created.push(kernel);
          const weights: tf.Tensor[] = [kernel];
          if (bias) {
            const b = tf.tensor1d(bias.data);
            created.push(b);
            weights.push(b);
            biasedConvs++;
          }
          const common = {
            kernelSize: [kh, kw] as [number, number],
            strides: strides as [number, number],
            padding: 'valid' as const,
            useBias: bias !== undefined,
            name: layerName(n),
            weights,
          };
          const layer = depthwise
            ? tf.layers.depthwiseConv2d({ ...common, depthMultiplier: 1 })
            : tf.layers.conv2d({ ...common, filters: cout });
          set(layer.apply(sym) as Sym);
          firstConv = false;
          break;
        }
        case 'BatchNormalization': {
          const x = value(n, n.inputs[0]);
          if (x.flattenedFrom) unsupported(n, 'BatchNormalization of a flattened map');
          const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) =>
            constant(n, n.inputs[i], 'BatchNormalization parameter'),
          );
          const ws = [scale, offset, mean, variance].map((t) => tf.tensor1d(t.data));
          created.push(...ws);
          const epsilon = (a.epsilon as number | undefined) ?? 1e-5;
          set(tf.layers.batchNormalization({ axis: -1, epsilon, name: layerName(n), weights: ws }).apply(x.sym) as Sym);
          batchNorms++;
          break;
        }
        case 'PRelu': {
          const x = value(n, n.inputs[0]);
          const slope = constant(n, n.inputs[1], 'PRelu slope');
          const c = x.sym.shape[x.sym.shape.length - 1] as number;
          if (slope.data.length !== c) unsupported(n, `PRelu slope of ${slope.data.length} values for ${c} channels`);
          const rank4 = x.sym.shape.length === 4 && !x.flattenedFrom;
          const alpha = rank4 ? tf.tensor3d(slope.data, [1, 1, c]) : tf.tensor1d(slope.data);
          created.push(alpha);
          set(
            tf.layers
              .prelu({ sharedAxes: rank4 ? [1, 2] : undefined, name: layerName(n), weights: [alpha] })
              .apply(x.sym) as Sym,
          );
          break;
        }
        case 'Relu': {
          const x = value(n, n.inputs[0]);
          set(tf.layers.reLU({ name: layerName(n) }).apply(x.sym) as Sym, { flattenedFrom: x.flattenedFrom });
          break;
        }
        case 'Add': {
          const k = consts.get(n.inputs[1]);
          if (k && n.inputs[0] === inputAffine.name && firstConv && k.data.length === 1) {
            inputAffine = { name: n.outputs[0], scale: inputAffine.scale, shift: inputAffine.shift + k.data[0] };
            values.set(n.outputs[0], value(n, n.inputs[0]));
            break;
          }
          const [p, q] = n.inputs.map((i) => value(n, i));
          if (p.flattenedFrom || q.flattenedFrom) unsupported(n, 'Add of flattened maps');
          set(tf.layers.add({ name: layerName(n) }).apply([p.sym, q.sym]) as Sym);
          break;
        }
        case 'Flatten':
        case 'Reshape': {
          const x = value(n, n.inputs[0]);
          if (n.opType === 'Flatten' && ((a.axis as number | undefined) ?? 1) !== 1)
            unsupported(n, `Flatten axis ${String(a.axis)}`);
          if (n.opType === 'Reshape') {
            const shape = Array.from(constant(n, n.inputs[1], 'Reshape shape').data);
            const size = (x.sym.shape.slice(1) as number[]).reduce((s, d) => s * d, 1);
            const flat =
              shape.length === 2 &&
              (((shape[0] === -1 || shape[0] === 0 || shape[0] === 1) && (shape[1] === -1 || shape[1] === size)) ||
                (shape[0] === -1 && shape[1] === size));
            if (!flat) unsupported(n, `Reshape to [${shape.join(', ')}] (only a flatten to [N, ${size}] is supported)`);
          }
          if (x.sym.shape.length === 2) {
            values.set(n.outputs[0], x);
            break;
          }
          const [, hh, ww, cc] = x.sym.shape as number[];
          set(
            tf.layers.flatten({ name: layerName(n) }).apply(x.sym) as Sym,
            hh * ww > 1 ? { flattenedFrom: [cc, hh, ww] } : {},
          );
          break;
        }
        case 'Shape': {
          const x = value(n, n.inputs[0]);
          const sh = x.sym.shape;
          const nchw =
            sh.length === 4 && !x.flattenedFrom ? [1, sh[3], sh[1], sh[2]] : [1, ...(sh.slice(1) as number[])];
          consts.set(n.outputs[0], { dims: [nchw.length], data: Float32Array.from(nchw as number[]) });
          break;
        }
        case 'Gather': {
          const data = constant(n, n.inputs[0], 'Gather data');
          const idx = constant(n, n.inputs[1], 'Gather indices');
          if (data.dims.length !== 1 || ((a.axis as number | undefined) ?? 0) !== 0)
            unsupported(n, 'Gather other than of a shape vector');
          const picked = Array.from(idx.data, (i) => data.data[i < 0 ? i + data.data.length : i]);
          consts.set(n.outputs[0], { dims: idx.dims, data: Float32Array.from(picked) });
          break;
        }
        case 'Unsqueeze': {
          const t = constant(n, n.inputs[0], 'Unsqueeze input');
          if (t.dims.length > 1) unsupported(n, 'Unsqueeze of a tensor of rank > 1');
          consts.set(n.outputs[0], { dims: [t.data.length], data: t.data });
          break;
        }
        case 'Concat': {
          const parts = n.inputs.map((i) => constant(n, i, 'Concat input'));
          if (parts.some((t) => t.dims.length !== 1)) unsupported(n, 'Concat other than of shape vectors');
          const data = Float32Array.from(parts.flatMap((t) => Array.from(t.data)));
          consts.set(n.outputs[0], { dims: [data.length], data });
          break;
        }
        case 'MatMul':
        case 'Gemm': {
          const x = value(n, n.inputs[0]);
          if (x.sym.shape.length !== 2) unsupported(n, `${n.opType} on a tensor that is not flat`);
          if (((a.transA as number | undefined) ?? 0) !== 0) unsupported(n, 'Gemm with transA');
          const alpha = (a.alpha as number | undefined) ?? 1;
          const beta = (a.beta as number | undefined) ?? 1;
          const wt = constant(n, n.inputs[1], 'Gemm weight');
          if (wt.dims.length !== 2) unsupported(n, `${n.opType} weight of rank ${wt.dims.length}`);
          const transB = ((a.transB as number | undefined) ?? 0) !== 0;
          const [inDim, outDim] = transB ? [wt.dims[1], wt.dims[0]] : [wt.dims[0], wt.dims[1]];
          if (inDim !== x.sym.shape[1]) unsupported(n, `Gemm weight for ${inDim} inputs on ${String(x.sym.shape[1])}`);
          // kernel [in (tfjs order), out]; tfjs row r = (h, w, c) ↔ ONNX row c·H·W + h·W + w.
          const kernel = new Float32Array(inDim * outDim);
          const [cc, hh, ww] = x.flattenedFrom ?? [inDim, 1, 1];
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
          const weights: tf.Tensor[] = [tf.tensor2d(kernel, [inDim, outDim])];
          const bias = n.opType === 'Gemm' && n.inputs[2] ? constant(n, n.inputs[2], 'Gemm bias') : undefined;
          if (bias) {
            if (bias.data.length !== outDim)
              unsupported(n, `Gemm bias of shape [${bias.dims.join(', ')}] (only a vector of ${outDim} is supported)`);
            weights.push(tf.tensor1d(bias.data.map((v) => beta * v)));
          }
          created.push(...weights);
          set(
            tf.layers
              .dense({ units: outDim, useBias: bias !== undefined, name: layerName(n), weights })
              .apply(x.sym) as Sym,
          );
          break;
        }
        default:
          unsupported(n, `operator ${n.opType}`);
      }
    }
    if (g.outputs.length !== 1)
      throw new ArcinvertError(
        `${g.file}: a face model has one output (the embedding), this graph has ${g.outputs.length}`,
      );
    const out = values.get(g.outputs[0]);
    if (!out)
      throw new ArcinvertError(`${g.file}: the graph's output '${g.outputs[0]}' is not computed by a supported node`);
    if (out.sym.shape.length !== 2)
      throw new ArcinvertError(
        `${g.file}: the output '${g.outputs[0]}' has shape [${out.sym.shape.join(', ')}]; a face model outputs [N, D]`,
      );
    const model = tf.model({ inputs: input, outputs: out.sym, name: 'onnx_import' });
    // raw · scale + shift = (raw − mean) / std  ⇔  std = 1 / scale, mean = −shift / scale.
    const inputNormalization =
      inputAffine.name === g.input.name
        ? null
        : { mean: -inputAffine.shift / inputAffine.scale, std: 1 / inputAffine.scale };
    return {
      model,
      inputSize: [h, w],
      embeddingSize: out.sym.shape[1] as number,
      ops,
      batchNorms,
      biasedConvs,
      inputNormalization,
    };
  } finally {
    tf.dispose(created);
  }
}
