/**
 * Export of a face model as an ONNX file, in the layout insightface's exports use
 * (`torch.onnx.export` of arcface_torch's backbones): input `[N, 3, H, W]` float32 in the
 * model's normalisation (for arcinvert's models (x − 127.5) / 127.5 of RGB pixels), output
 * `[N, D]`, the embedding before L2 normalisation. The BatchNorm layers stay BatchNormalization
 * nodes with their running statistics (an inversion needs them); every conv carries its own
 * padding (a ZeroPadding2D that feeds only a conv is merged into it).
 *
 * The graph is rebuilt layer by layer from the tfjs LayersModel, NHWC → NCHW: kernels
 * `[kh, kw, in, out]` → `[out, in, kh, kw]`, depthwise kernels → grouped convs, PReLU slopes
 * `[1, 1, C]` → `[C, 1, 1]`, and a Dense that reads a flattened `h×w×c` map gets its rows
 * reordered from tfjs's HWC order to ONNX's CHW order, so the file computes what the model
 * computes (checked by onnxruntime in `arcinvert export`). A layer the mapping does not know
 * is refused with one line naming it.
 */
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { ArcinvertError } from '../errors.js';
import type { FaceModel } from '../model/types.js';

const { onnx } = onnxProto;

/** The opset the exported file declares (every op used has had its current form since 13). */
export const EXPORT_OPSET = 13;

type Sym = tf.SymbolicTensor;
type Attr = { name: string; type: number; i?: number; f?: number; ints?: number[]; s?: Uint8Array };
interface Node {
  opType: string;
  name: string;
  input: string[];
  output: string[];
  attribute: Attr[];
}

/** What an exported tensor is: a NCHW map or a [N, F] matrix (flattened from an HWC map when `hwc`). */
interface Value {
  name: string;
  /** [C, H, W] of a map; [F] of a matrix. */
  shape: number[];
  /** A matrix whose features come from flattening a map of this [H, W, C] (ONNX order C, H, W). */
  flatFrom?: [number, number, number];
}

const AT = onnx.AttributeProto.AttributeType;
const ints = (name: string, v: number[]): Attr => ({ name, type: AT.INTS, ints: v });
const int = (name: string, v: number): Attr => ({ name, type: AT.INT, i: v });
const float = (name: string, v: number): Attr => ({ name, type: AT.FLOAT, f: v });

interface LayerCfg {
  filters?: number;
  kernelSize?: number[];
  poolSize?: number[];
  strides?: number[];
  padding?: 'same' | 'valid' | number | number[][];
  dilationRate?: number[] | number;
  activation?: string;
  useBias?: boolean;
  depthMultiplier?: number;
  epsilon?: number;
  alpha?: number;
  maxValue?: number | null;
  targetShape?: number[];
  dataFormat?: string;
}

const node0 = (l: tf.layers.Layer): { inputTensors: Sym[]; outputTensors: Sym[] } =>
  (l as unknown as { inboundNodes: { inputTensors: Sym[]; outputTensors: Sym[] }[] }).inboundNodes[0];

/** The graph under construction: nodes, initialisers and the value of every symbolic tensor. */
class Builder {
  readonly nodes: Node[] = [];
  readonly inits: { name: string; dims: number[]; data: Float32Array }[] = [];
  readonly values = new Map<Sym, Value>();

  constructor(readonly model: tf.LayersModel) {}

  add(opType: string, name: string, input: string[], attribute: Attr[] = [], output = name): string {
    this.nodes.push({ opType, name, input, output: [output], attribute });
    return output;
  }

  init(name: string, dims: number[], data: Float32Array): string {
    this.inits.push({ name, dims, data });
    return name;
  }

  fail(layer: tf.layers.Layer, why: string): never {
    throw new ArcinvertError(`cannot export layer ${layer.name} (${layer.getClassName()}) to ONNX: ${why}`);
  }
}

/** A layer's weight by the end of its name (`kernel`, `gamma`, …), as a [shape, values] pair. */
function weight(layer: tf.layers.Layer, suffix: string): { shape: number[]; data: Float32Array } | null {
  const w = layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.name.endsWith(`/${suffix}`));
  if (!w) return null;
  const t = w.read();
  return { shape: t.shape, data: t.dataSync() as Float32Array };
}

/** `data` of `shape` with its axes permuted by `perm` (plain strides; weights are small). */
export function permute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const out = new Float32Array(data.length);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((p) => shape[p]);
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < perm.length; k++) src += idx[k] * strides[perm[k]];
    out[o] = data[src];
    for (let k = perm.length - 1; k >= 0; k--) {
      if (++idx[k] < outShape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** TF's padding of one spatial axis as [before, after] ('same': the extra pixel after). */
function tfPads(size: number, k: number, stride: number, dilation: number, padding: string): [number, number] {
  if (padding !== 'same') return [0, 0];
  const ke = (k - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + ke - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

const pair = (v: number[] | number | undefined, dflt: number): [number, number] =>
  v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];

/** A ZeroPadding2D layer's [top, bottom, left, right]. */
function zeroPads(layer: tf.layers.Layer): [number, number, number, number] {
  const p = (layer.getConfig() as LayerCfg).padding as number | number[] | number[][];
  if (typeof p === 'number') return [p, p, p, p];
  if (typeof p[0] === 'number') return [p[0], p[0], p[1] as number, p[1] as number];
  const [[t, b], [l, r]] = p as number[][];
  return [t, b, l, r];
}

/** Conv2D / DepthwiseConv2D (with a merged zero padding) as one Conv node, plus its activation. */
function conv(b: Builder, layer: tf.layers.Layer, x: Value, extra: [number, number, number, number]): Value {
  const cfg = layer.getConfig() as LayerCfg;
  const depthwise = layer.getClassName() === 'DepthwiseConv2D';
  const k = weight(layer, depthwise ? 'depthwise_kernel' : 'kernel')!;
  const [kh, kw, cin, cout] = k.shape;
  const [sh, sw] = pair(cfg.strides, 1);
  const [dh, dw] = pair(cfg.dilationRate, 1);
  const [c, h0, w0] = x.shape;
  const h = h0 + extra[0] + extra[1];
  const w = w0 + extra[2] + extra[3];
  const [pt, pb] = tfPads(h, kh, sh, dh, cfg.padding as string);
  const [pl, pr] = tfPads(w, kw, sw, dw, cfg.padding as string);
  // tfjs [kh, kw, in, out] → ONNX [out, in, kh, kw]; depthwise [kh, kw, C, m] → [C·m, 1, kh, kw].
  const kernel = depthwise
    ? permute(k.data, [kh, kw, cin * cout, 1], [2, 3, 0, 1])
    : permute(k.data, k.shape, [3, 2, 0, 1]);
  const outC = depthwise ? cin * cout : cout;
  const inputs = [x.name, b.init(`${layer.name}.weight`, depthwise ? [outC, 1, kh, kw] : [cout, cin, kh, kw], kernel)];
  const bias = cfg.useBias ? weight(layer, 'bias') : null;
  if (bias) inputs.push(b.init(`${layer.name}.bias`, [outC], bias.data));
  const pads = [pt + extra[0], pl + extra[2], pb + extra[1], pr + extra[3]];
  const attrs = [
    ints('kernel_shape', [kh, kw]),
    ints('strides', [sh, sw]),
    ints('dilations', [dh, dw]),
    ints('pads', pads),
  ];
  if (depthwise) attrs.push(int('group', c));
  const hOut = Math.floor((h0 + pads[0] + pads[2] - ((kh - 1) * dh + 1)) / sh) + 1;
  const wOut = Math.floor((w0 + pads[1] + pads[3] - ((kw - 1) * dw + 1)) / sw) + 1;
  const name = activation(b, layer, b.add('Conv', layer.name, inputs, attrs, `${layer.name}.conv`), cfg.activation);
  return { name, shape: [outC, hOut, wOut] };
}

/** The activation a Conv2D or Dense carries in its config ('linear' or 'relu'). */
function activation(b: Builder, layer: tf.layers.Layer, input: string, act: string | undefined): string {
  if (act === undefined || act === 'linear') return input;
  if (act === 'relu') return b.add('Relu', `${layer.name}.relu`, [input]);
  return b.fail(layer, `activation '${act}'`);
}

function batchNorm(b: Builder, layer: tf.layers.Layer, x: Value): Value {
  const cfg = layer.getConfig() as LayerCfg & { axis?: number | number[] };
  const axis = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis;
  if (axis !== -1 && axis !== x.shape.length) b.fail(layer, `BatchNorm over axis ${String(axis)}`);
  const c = x.shape[0];
  const get = (s: string, dflt: number): Float32Array => weight(layer, s)?.data ?? new Float32Array(c).fill(dflt);
  const inputs = [
    x.name,
    b.init(`${layer.name}.weight`, [c], get('gamma', 1)),
    b.init(`${layer.name}.bias`, [c], get('beta', 0)),
    b.init(`${layer.name}.running_mean`, [c], get('moving_mean', 0)),
    b.init(`${layer.name}.running_var`, [c], get('moving_variance', 1)),
  ];
  return { ...x, name: b.add('BatchNormalization', layer.name, inputs, [float('epsilon', cfg.epsilon ?? 1e-3)]) };
}

function prelu(b: Builder, layer: tf.layers.Layer, x: Value): Value {
  const a = weight(layer, 'alpha')!;
  let slope = a.data;
  let dims = a.shape;
  if (x.shape.length === 3) {
    // tfjs alpha [h, w, C] (h = w = 1 with shared axes) → ONNX [C, h, w], broadcast over N.
    if (a.shape.length !== 3) b.fail(layer, `alpha of shape [${a.shape.join(', ')}]`);
    slope = permute(a.data, a.shape, [2, 0, 1]);
    dims = [a.shape[2], a.shape[0], a.shape[1]];
  }
  if (x.flatFrom) b.fail(layer, 'PReLU of a flattened map');
  return { ...x, name: b.add('PRelu', layer.name, [x.name, b.init(`${layer.name}.slope`, dims, slope)]) };
}

function dense(b: Builder, layer: tf.layers.Layer, x: Value): Value {
  const cfg = layer.getConfig() as LayerCfg;
  const k = weight(layer, 'kernel')!;
  const [fin, fout] = k.shape;
  let kernel = k.data;
  if (x.flatFrom) {
    // Rows in tfjs's flatten order (h, w, c) → ONNX's (c, h, w).
    const [h, w, c] = x.flatFrom;
    kernel = permute(k.data, [h, w, c, fout], [2, 0, 1, 3]);
  }
  const inputs = [x.name, b.init(`${layer.name}.weight`, [fin, fout], kernel)];
  const bias = cfg.useBias ? weight(layer, 'bias') : null;
  if (bias) inputs.push(b.init(`${layer.name}.bias`, [fout], bias.data));
  const name = activation(b, layer, b.add('Gemm', layer.name, inputs, [], `${layer.name}.gemm`), cfg.activation);
  return { name, shape: [fout] };
}

function pool(b: Builder, layer: tf.layers.Layer, x: Value): Value {
  const cfg = layer.getConfig() as LayerCfg;
  const [kh, kw] = pair(cfg.poolSize, 2);
  const [sh, sw] = pair(cfg.strides ?? cfg.poolSize, 2);
  const [c, h, w] = x.shape;
  const [pt, pb] = tfPads(h, kh, sh, 1, cfg.padding as string);
  const [pl, pr] = tfPads(w, kw, sw, 1, cfg.padding as string);
  const op = layer.getClassName() === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
  const attrs = [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', [pt, pl, pb, pr])];
  const hOut = Math.floor((h + pt + pb - kh) / sh) + 1;
  const wOut = Math.floor((w + pl + pr - kw) / sw) + 1;
  return { name: b.add(op, layer.name, [x.name], attrs), shape: [c, hOut, wOut] };
}

/** A flatten of a NCHW map: ONNX Flatten (C, H, W order), remembered for the Dense that reads it. */
function flatten(b: Builder, layer: tf.layers.Layer, x: Value): Value {
  if (x.shape.length === 1) return x;
  const [c, h, w] = x.shape;
  const name = b.add('Flatten', layer.name, [x.name], [int('axis', 1)]);
  return h === 1 && w === 1 ? { name, shape: [c] } : { name, shape: [c * h * w], flatFrom: [h, w, c] };
}

/** One layer's value from its inputs' values; `pads` is a merged ZeroPadding2D's [t, b, l, r]. */
function layerValue(b: Builder, layer: tf.layers.Layer, xs: Value[], pads: [number, number, number, number]): Value {
  const cls = layer.getClassName();
  const x = xs[0];
  const cfg = layer.getConfig() as LayerCfg;
  if (cls !== 'Dense' && cls !== 'Dropout' && cls !== 'Add' && x.flatFrom) b.fail(layer, 'input is a flattened map');
  switch (cls) {
    case 'Conv2D':
    case 'DepthwiseConv2D':
      return conv(b, layer, x, pads);
    case 'BatchNormalization':
      return batchNorm(b, layer, x);
    case 'PReLU':
      return prelu(b, layer, x);
    case 'ReLU':
      if (cfg.maxValue != null) b.fail(layer, 'ReLU with a maximum');
      return { ...x, name: b.add('Relu', layer.name, [x.name]) };
    case 'LeakyReLU':
      return { ...x, name: b.add('LeakyRelu', layer.name, [x.name], [float('alpha', cfg.alpha ?? 0.3)]) };
    case 'Activation':
      return { ...x, name: activation(b, layer, x.name, cfg.activation) };
    case 'Add':
      if (xs.some((v) => v.flatFrom !== xs[0].flatFrom)) b.fail(layer, 'inputs in different layouts');
      // Add for two inputs (what insightface's exports use, and the importer reads); Sum for more.
      return {
        ...x,
        name: b.add(
          xs.length === 2 ? 'Add' : 'Sum',
          layer.name,
          xs.map((v) => v.name),
        ),
      };
    case 'Dropout':
      return x;
    case 'Flatten':
      return flatten(b, layer, x);
    case 'GlobalAveragePooling2D': {
      const g = b.add('GlobalAveragePool', `${layer.name}.pool`, [x.name]);
      return { name: b.add('Flatten', layer.name, [g], [int('axis', 1)]), shape: [x.shape[0]] };
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return pool(b, layer, x);
    case 'Reshape': {
      const t = cfg.targetShape ?? [];
      const size = x.shape.reduce((a, v) => a * v, 1);
      if (t.length !== 1 || t[0] !== size || (x.shape.length === 3 && x.shape[1] * x.shape[2] !== 1))
        b.fail(layer, `reshape of [${x.shape.join(', ')}] to [${t.join(', ')}]`);
      return { name: b.add('Flatten', layer.name, [x.name], [int('axis', 1)]), shape: [size] };
    }
    case 'Dense':
      return dense(b, layer, x);
    default:
      return b.fail(layer, 'no ONNX mapping for this layer type');
  }
}

/** Builds the nodes and initialisers of `model`'s graph; returns the output's value. */
function buildGraph(b: Builder, inputName: string): Value {
  const model = b.model;
  const [, h, w, c] = model.inputs[0].shape as number[];
  b.values.set(model.inputs[0], { name: inputName, shape: [c, h, w] });
  const consumers = new Map<Sym, tf.layers.Layer[]>();
  for (const l of model.layers)
    for (const t of node0(l)?.inputTensors ?? []) consumers.set(t, [...(consumers.get(t) ?? []), l]);
  const merged = new Map<tf.layers.Layer, [number, number, number, number]>();
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    const { inputTensors, outputTensors } = node0(layer);
    const xs = inputTensors.map((t) => b.values.get(t)!);
    if (cls === 'ZeroPadding2D') {
      const users = consumers.get(outputTensors[0]) ?? [];
      const convUser = users.length === 1 && ['Conv2D', 'DepthwiseConv2D'].includes(users[0].getClassName());
      const p = zeroPads(layer);
      if (convUser) {
        merged.set(users[0], p);
        b.values.set(outputTensors[0], xs[0]);
        continue;
      }
      const pads = b.init(`${layer.name}.pads`, [8], Float32Array.from([0, 0, p[0], p[2], 0, 0, p[1], p[3]]));
      const [ch, hh, ww] = xs[0].shape;
      b.values.set(outputTensors[0], {
        name: b.add('Pad', layer.name, [xs[0].name, pads]),
        shape: [ch, hh + p[0] + p[1], ww + p[2] + p[3]],
      });
      continue;
    }
    b.values.set(outputTensors[0], layerValue(b, layer, xs, merged.get(layer) ?? [0, 0, 0, 0]));
  }
  if (model.outputs.length !== 1)
    throw new ArcinvertError(`cannot export a model with ${model.outputs.length} outputs to ONNX`);
  const out = b.values.get(model.outputs[0])!;
  if (out.shape.length !== 1)
    throw new ArcinvertError('cannot export to ONNX: the model output is not a [N, D] embedding');
  return out;
}

/**
 * Whether a ZeroPadding2D of `model` feeds a pooling layer: its export is a Pad node before the
 * pool, which onnxruntime's graph optimiser fuses into the pool's own padding — padding a max
 * or average pool ignores, where tfjs pools the zeros (and with a pad as wide as the kernel,
 * onnxruntime refuses the fused node). Such a graph must run unoptimised (`runtime.ts`).
 */
export function padFeedsPool(model: tf.LayersModel): boolean {
  return model.layers.some(
    (l) =>
      (l.getClassName() === 'MaxPooling2D' || l.getClassName() === 'AveragePooling2D') &&
      node0(l).inputTensors.some((t) => t.sourceLayer.getClassName() === 'ZeroPadding2D'),
  );
}

/** Names of the exported file's input and output. */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'embedding';

/**
 * The ONNX file (bytes of a `ModelProto`) that computes `fm`'s embedding.
 * @throws ArcinvertError naming the first layer with no ONNX mapping.
 */
export function exportOnnx(fm: FaceModel, producerVersion = ''): Uint8Array {
  const b = new Builder(fm.model);
  const out = buildGraph(b, ONNX_INPUT);
  const [h, w] = fm.meta.inputSize;
  b.add('Identity', 'output', [out.name], [], ONNX_OUTPUT);
  const intInits = new Set(b.nodes.filter((n) => n.opType === 'Pad').map((n) => n.input[1]));
  const valueInfo = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'arcinvert',
    producerVersion,
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    metadataProps: [
      {
        key: 'arcinvert',
        value: JSON.stringify({ ...fm.meta, layout: 'NCHW', output: 'embedding before L2 normalisation' }),
      },
    ],
    graph: {
      name: fm.model.name,
      node: b.nodes,
      initializer: b.inits.map((t) =>
        intInits.has(t.name)
          ? { name: t.name, dims: t.dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: Array.from(t.data) }
          : {
              name: t.name,
              dims: t.dims,
              dataType: onnx.TensorProto.DataType.FLOAT,
              rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
            },
      ),
      input: [valueInfo(ONNX_INPUT, ['N', 3, h, w])],
      output: [valueInfo(ONNX_OUTPUT, ['N', out.shape[0]])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
