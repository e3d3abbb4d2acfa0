/**
 * One converter per tfjs graph op (`CONVERTERS`, exhaustive over `SUPPORTED_TFJS_OPS`): each
 * turns a node, whose inputs are converted already, into a lazy value (`lazy.ts`). TF graphs
 * are NHWC like tfjs layers, so kernels keep their layout (Conv2D HWIO, depthwise HW·C·m, MatMul
 * [in, out]) and a flatten needs no permutation; 'SAME' padding is tfjs' 'same'.
 */
import * as tf from '@tensorflow/tfjs';
import { attrInts, attrString, attrStrings, type TfConst, type TfNode } from './read.js';
import {
  activation,
  keep,
  layerName,
  materialize,
  symOf,
  unsupported,
  type Act,
  type Conversion,
  type Lazy,
  type Sym,
} from './lazy.js';

const lazy = (cx: Conversion, name: string): Lazy => cx.values.get(name) as Lazy;

function constOf(cx: Conversion, n: TfNode, i: number, what: string): TfConst {
  const v = lazy(cx, n.inputs[i]);
  if (v.k !== 'const') unsupported(n, `${what} that is not a constant`);
  return v.c;
}

const sym = (cx: Conversion, n: TfNode, i = 0): Sym => symOf(cx, n.inputs[i], n);
const channels = (s: Sym): number => s.shape[s.shape.length - 1] as number;

function padding(cx: Conversion, n: TfNode, x: Sym): { x: Sym; padding: 'same' | 'valid' } {
  const p = attrString(n.attr.padding) ?? 'VALID';
  if (p === 'SAME' || p === 'VALID') return { x, padding: p === 'SAME' ? 'same' : 'valid' };
  const e = attrInts(n.attr.explicit_paddings) ?? [];
  if (p !== 'EXPLICIT' || e.length !== 8) unsupported(n, `padding ${p}`);
  const pad: [[number, number], [number, number]] = [
    [e[2], e[3]],
    [e[4], e[5]],
  ];
  return {
    x: tf.layers.zeroPadding2d({ padding: pad, name: layerName(cx, n, '_pad') }).apply(x) as Sym,
    padding: 'valid',
  };
}

/** The activation fused after BiasAdd (`_FusedConv2D`, `_FusedMatMul`, …), or null. */
function fusedAct(cx: Conversion, n: TfNode, ops: string[]): Act | null {
  if (ops.length === 1) return null;
  if (ops.length === 2 && ops[1] === 'Relu') return { kind: 'relu', max: Infinity };
  if (ops.length === 2 && ops[1] === 'Relu6') return { kind: 'relu', max: 6 };
  if (ops.length === 2 && ops[1] === 'Prelu') return { kind: 'prelu', alpha: constOf(cx, n, 3, 'Prelu alpha').data };
  if (ops.length === 2 && ops[1] === 'LeakyRelu') return { kind: 'leaky', alpha: n.attr.leakyrelu_alpha?.f ?? 0.2 };
  return unsupported(n, `fused ops [${ops.join(', ')}]`);
}

/** Bias and activation of a fused op (inputs: x, weight, bias, [alpha]). */
function fused(cx: Conversion, n: TfNode): { bias: Float32Array | null; act: Act | null } {
  if (!n.op.startsWith('_Fused') && !n.op.startsWith('Fused')) return { bias: null, act: null };
  const ops = attrStrings(n.attr.fused_ops);
  if (ops[0] !== 'BiasAdd') unsupported(n, `fused ops [${ops.join(', ')}] (only BiasAdd, then an activation)`);
  return { bias: Float32Array.from(constOf(cx, n, 2, 'bias').data), act: fusedAct(cx, n, ops) };
}

function convertConv(cx: Conversion, n: TfNode): Lazy {
  const depthwise = n.op.includes('Depthwise');
  const x0 = sym(cx, n);
  const w = constOf(cx, n, 1, 'filter');
  if (x0.shape.length !== 4 || w.shape.length !== 4) unsupported(n, 'convolution of a tensor that is not an image map');
  if ((attrString(n.attr.data_format) ?? 'NHWC') !== 'NHWC') unsupported(n, 'data format other than NHWC');
  if ((attrInts(n.attr.dilations) ?? [1, 1, 1, 1]).some((d) => d !== 1)) unsupported(n, 'dilation');
  const s = attrInts(n.attr.strides) ?? [1, 1, 1, 1];
  const { x, padding: pad } = padding(cx, n, x0);
  let kernel = Float32Array.from(w.data);
  if (cx.bgr && !depthwise && cx.inputLike.has(x0)) {
    const [, , i, o] = w.shape;
    kernel = kernel.map((_, idx) => {
      const [pos, rest] = [Math.floor(idx / (i * o)), idx % (i * o)];
      const [ci, co] = [Math.floor(rest / o), rest % o];
      return w.data[pos * i * o + (i - 1 - ci) * o + co];
    });
    cx.bgrApplied = true;
  }
  return {
    k: 'linear',
    node: n,
    layer: depthwise ? 'depthwise' : 'conv',
    x,
    kernel,
    shape: w.shape,
    strides: [s[1], s[2]],
    padding: pad,
    ...fused(cx, n),
  };
}

function convertMatMul(cx: Conversion, n: TfNode): Lazy {
  const x = sym(cx, n);
  const w = constOf(cx, n, 1, 'MatMul weight');
  if (x.shape.length !== 2 || w.shape.length !== 2 || n.attr.transpose_a?.b === true)
    unsupported(n, 'MatMul other than of a [N, D] tensor by a constant matrix');
  let kernel = Float32Array.from(w.data);
  let [din, dout] = w.shape;
  if (n.attr.transpose_b?.b === true) {
    [din, dout] = [dout, din];
    kernel = kernel.map((_, idx) => w.data[(idx % dout) * din + Math.floor(idx / dout)]);
  }
  if (din !== x.shape[1]) unsupported(n, `MatMul weight for ${din} inputs on ${String(x.shape[1])}`);
  const base = { k: 'linear' as const, node: n, layer: 'dense' as const, x, kernel, shape: [din, dout] };
  return { ...base, strides: [1, 1], padding: 'valid', ...fused(cx, n) };
}

/** `v · mul + add` (either may be absent) where `v` is node `name`'s value; `n` is the node doing it. */
function affineOf(cx: Conversion, n: TfNode, name: string, mul: Float32Array | null, add: Float32Array | null): Lazy {
  const v = lazy(cx, name);
  const m = mul ?? Float32Array.of(1);
  const a = add ?? Float32Array.of(0);
  if (v.k === 'input') {
    if (m.length !== 1 || a.length !== 1)
      unsupported(n, `per-channel ${n.op} on the graph input (only scalars can be the input scaling)`);
    return { k: 'input', scale: v.scale * m[0], shift: v.shift * m[0] + a[0] };
  }
  const at = (arr: Float32Array, c: number) => (arr.length === 1 ? arr[0] : arr[c]);
  if (v.k === 'linear' && !v.act && cx.g.consumers.get(name) === 1) {
    const out = v.layer === 'depthwise' ? v.shape[2] * v.shape[3] : v.shape[v.shape.length - 1];
    if ((m.length !== 1 && m.length !== out) || (a.length !== 1 && a.length !== out))
      unsupported(n, `${n.op} by a constant of ${Math.max(m.length, a.length)} values on ${out} channels`);
    const kernel = v.kernel.map((k, i) => k * at(m, i % out));
    const bias = new Float32Array(out).map((_, c) => (v.bias ? v.bias[c] : 0) * at(m, c) + at(a, c));
    return { ...v, node: n, kernel, bias: mul && !add && !v.bias ? null : bias };
  }
  if (v.k === 'negpart' && !add) {
    const alpha = new Float32Array(Math.max(v.alpha.length, m.length)).map((_, c) => at(v.alpha, c) * at(m, c));
    return { ...v, node: n, alpha };
  }
  if (v.k === 'affine') {
    const len = Math.max(v.scale.length, m.length, a.length);
    const scale = new Float32Array(len).map((_, c) => at(v.scale, c) * at(m, c));
    const shift = new Float32Array(len).map((_, c) => at(v.shift, c) * at(m, c) + at(a, c));
    return { ...v, node: n, scale, shift };
  }
  materialize(cx, v, n);
  return { k: 'affine', node: n, x: name, scale: m, shift: a };
}

/** Which input is a constant, if one is: [constant index, other index]. */
function constSide(cx: Conversion, n: TfNode): [number, number] | null {
  if (lazy(cx, n.inputs[1]).k === 'const') return [1, 0];
  if (lazy(cx, n.inputs[0]).k === 'const') return [0, 1];
  return null;
}

/** Add / AddV2 / BiasAdd: a bias, the input shift, a PReLU's two halves, or a residual sum. */
function convertAdd(cx: Conversion, n: TfNode): Lazy {
  const side = constSide(cx, n);
  if (side) return affineOf(cx, n, n.inputs[side[1]], null, constOf(cx, n, side[0], 'addend').data);
  for (const [p, q] of [
    [0, 1],
    [1, 0],
  ]) {
    const neg = lazy(cx, n.inputs[q]);
    const pos = lazy(cx, n.inputs[p]);
    if (neg.k !== 'negpart') continue;
    // max(x, 0) + α·min(x, 0) = prelu(x, α); x + α·min(x, 0) = prelu(x, 1 + α).
    if (pos.k === 'relu' && pos.x === neg.x && pos.max === Infinity)
      return { k: 'sym', sym: activation(cx, n, symOf(cx, neg.x, n), { kind: 'prelu', alpha: neg.alpha }) };
    if (n.inputs[p] === neg.x)
      return {
        k: 'sym',
        sym: activation(cx, n, symOf(cx, neg.x, n), { kind: 'prelu', alpha: neg.alpha.map((al) => 1 + al) }),
      };
  }
  const [a, b] = [sym(cx, n, 0), sym(cx, n, 1)];
  if (a.shape.join() !== b.shape.join()) unsupported(n, `Add of shapes [${a.shape.join()}] and [${b.shape.join()}]`);
  return { k: 'sym', sym: tf.layers.add({ name: layerName(cx, n) }).apply([a, b]) as Sym };
}

function convertSub(cx: Conversion, n: TfNode): Lazy {
  const v = lazy(cx, n.inputs[1]);
  if (v.k === 'const')
    return affineOf(
      cx,
      n,
      n.inputs[0],
      null,
      v.c.data.map((c) => -c),
    );
  // x − |x| = 2·min(x, 0)
  if (v.k === 'abs' && v.x === n.inputs[0]) return { k: 'negpart', node: n, x: v.x, alpha: Float32Array.of(2) };
  return unsupported(n, 'Sub other than of a constant or of |x| from x');
}

function convertMul(cx: Conversion, n: TfNode): Lazy {
  const side = constSide(cx, n);
  if (side) return affineOf(cx, n, n.inputs[side[1]], constOf(cx, n, side[0], 'factor').data, null);
  for (const [p, q] of [
    [0, 1],
    [1, 0],
  ]) {
    const r = lazy(cx, n.inputs[q]);
    if (r.k === 'rnorm' && r.x === n.inputs[p]) return { k: 'l2', node: n, x: r.x };
  }
  return unsupported(n, 'Mul of two computed tensors (other than x · 1/‖x‖)');
}

function convertDiv(cx: Conversion, n: TfNode): Lazy {
  const c = constOf(cx, n, 1, 'divisor').data;
  if (c.some((v) => v === 0)) unsupported(n, 'division by zero');
  return affineOf(
    cx,
    n,
    n.inputs[0],
    c.map((v) => 1 / v),
    null,
  );
}

/** Minimum / Maximum with a constant: ReLU6's clip, PReLU's halves, an L2 norm's floor. */
function convertMinMax(cx: Conversion, n: TfNode): Lazy {
  const side = constSide(cx, n);
  if (!side) return unsupported(n, `${n.op} of two computed tensors`);
  const c = constOf(cx, n, side[0], 'bound').data;
  const name = n.inputs[side[1]];
  const v = lazy(cx, name);
  if (c.length !== 1) unsupported(n, `${n.op} by a constant of ${c.length} values`);
  const min = n.op === 'Minimum';
  if (v.k === 'relu' && (min ? c[0] >= 0 : c[0] <= 0)) return min ? { ...v, max: Math.min(v.max, c[0]) } : v;
  if (v.k === 'sumsq' && !min) return v;
  if (c[0] === 0)
    return min
      ? { k: 'negpart', node: n, x: name, alpha: Float32Array.of(1) }
      : { k: 'relu', node: n, x: name, max: Infinity };
  return unsupported(n, `${n.op} by ${c[0]} other than in a ReLU6 or a PReLU`);
}

function convertRelu(_cx: Conversion, n: TfNode): Lazy {
  return { k: 'relu', node: n, x: n.inputs[0], max: n.op === 'Relu6' ? 6 : Infinity };
}

/** Abs, Square, Sum, Rsqrt: only as parts of a PReLU (x − |x|) or an L2 normalisation. */
function convertNormParts(cx: Conversion, n: TfNode): Lazy {
  const x = n.inputs[0];
  const v = lazy(cx, x);
  if (n.op === 'Abs') return { k: 'abs', node: n, x };
  if (n.op === 'Square') return { k: 'sq', node: n, x };
  if (n.op === 'Sum' && v.k === 'sq') {
    const axes = Array.from(constOf(cx, n, 1, 'Sum axes').data);
    const rank = symOf(cx, v.x, n).shape.length;
    if (axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1)) return { k: 'sumsq', node: n, x: v.x };
  }
  if (n.op === 'Rsqrt' && v.k === 'sumsq') return { k: 'rnorm', node: n, x: v.x };
  return unsupported(n, `${n.op} other than in a PReLU or an L2 normalisation over the last axis`);
}

function convertPad(cx: Conversion, n: TfNode): Lazy {
  const x = sym(cx, n);
  const p = Array.from(constOf(cx, n, 1, 'paddings').data);
  const fill = n.op === 'PadV2' ? constOf(cx, n, 2, 'pad value').data[0] : 0;
  if (x.shape.length !== 4 || p.length !== 8 || p[0] || p[1] || p[6] || p[7] || fill !== 0 || p.some((v) => v < 0))
    unsupported(n, `Pad [${p.join(', ')}] by ${fill} (only zeros on H and W of an image map)`);
  const padding: [[number, number], [number, number]] = [
    [p[2], p[3]],
    [p[4], p[5]],
  ];
  const out = tf.layers.zeroPadding2d({ padding, name: layerName(cx, n) }).apply(x) as Sym;
  if (cx.inputLike.has(x)) cx.inputLike.add(out);
  return { k: 'sym', sym: out };
}

/** Mean over H and W: global average pooling. */
function convertMean(cx: Conversion, n: TfNode): Lazy {
  const x = sym(cx, n);
  const axes = Array.from(constOf(cx, n, 1, 'Mean axes').data).sort();
  if (x.shape.length !== 4 || axes.join() !== '1,2')
    unsupported(n, `Mean over axes [${axes.join(', ')}] (only H and W)`);
  const out = tf.layers.globalAveragePooling2d({ name: layerName(cx, n) }).apply(x) as Sym;
  if (n.attr.keep_dims?.b !== true) return { k: 'sym', sym: out };
  const shape = [1, 1, channels(x)];
  return {
    k: 'sym',
    sym: tf.layers.reshape({ targetShape: shape, name: layerName(cx, n, '_keep') }).apply(out) as Sym,
  };
}

function convertPool(cx: Conversion, n: TfNode): Lazy {
  const { x, padding: pad } = padding(cx, n, sym(cx, n));
  const k = attrInts(n.attr.ksize) ?? [];
  const s = attrInts(n.attr.strides) ?? [1, 1, 1, 1];
  if (x.shape.length !== 4 || k.length !== 4 || k[0] !== 1 || k[3] !== 1) unsupported(n, 'pooling window');
  const cfg = { poolSize: [k[1], k[2]] as [number, number], strides: [s[1], s[2]] as [number, number], padding: pad };
  const layer = n.op === 'MaxPool' ? tf.layers.maxPooling2d : tf.layers.averagePooling2d;
  return { k: 'sym', sym: layer({ ...cfg, name: layerName(cx, n) }).apply(x) as Sym };
}

/** Reshape / Squeeze that flattens [N, H, W, C] (NHWC order, as tfjs' flatten) or keeps [N, D]. */
function convertFlatten(cx: Conversion, n: TfNode): Lazy {
  const x = sym(cx, n);
  const size = (x.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  if (n.op === 'Reshape') {
    const t = Array.from(constOf(cx, n, 1, 'shape').data);
    const flat = t.length === 2 && (t[0] === -1 || t[0] === 1 || t[0] === 0) && (t[1] === -1 || t[1] === size);
    if (!flat) unsupported(n, `Reshape to [${t.join(', ')}] (only a flatten to [N, ${size}])`);
  } else {
    const dims = (attrInts(n.attr.squeeze_dims) ?? attrInts(n.attr.axis) ?? []).sort().join();
    if (x.shape.length !== 4 || x.shape[1] !== 1 || x.shape[2] !== 1 || dims !== '1,2')
      unsupported(n, `Squeeze [${dims}] of [${x.shape.join(', ')}] (only of H = W = 1)`);
  }
  if (x.shape.length === 2) return { k: 'sym', sym: x };
  return { k: 'sym', sym: tf.layers.flatten({ name: layerName(cx, n) }).apply(x) as Sym };
}

function convertBatchNorm(cx: Conversion, n: TfNode): Lazy {
  const x = sym(cx, n);
  if (n.attr.is_training?.b === true) unsupported(n, 'BatchNorm in training mode');
  const ws = [1, 2, 3, 4].map((i) => keep(cx, tf.tensor1d(constOf(cx, n, i, 'BatchNorm parameter').data)));
  const epsilon = n.attr.epsilon?.f ?? 1e-3;
  const bn = tf.layers.batchNormalization({ axis: -1, epsilon, name: layerName(cx, n), weights: ws });
  cx.batchNorms++;
  return { k: 'sym', sym: bn.apply(x) as Sym };
}

function convertActivation(cx: Conversion, n: TfNode): Lazy {
  const x = sym(cx, n);
  const act: Act =
    n.op === 'Prelu'
      ? { kind: 'prelu', alpha: constOf(cx, n, 1, 'Prelu alpha').data }
      : { kind: 'leaky', alpha: n.attr.alpha?.f ?? 0.2 };
  return { k: 'sym', sym: activation(cx, n, x, act) };
}

function convertConst(cx: Conversion, n: TfNode): Lazy {
  const c = cx.g.consts.get(n.name);
  if (!c) return unsupported(n, 'constant without weights in the manifest');
  return { k: 'const', c };
}

/** The ops the importer converts. */
export const SUPPORTED_TFJS_OPS = [
  'Placeholder',
  'Const',
  'Identity',
  'StopGradient',
  'Conv2D',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2dNative',
  'MatMul',
  '_FusedMatMul',
  'BiasAdd',
  'Add',
  'AddV2',
  'Sub',
  'Mul',
  'RealDiv',
  'Maximum',
  'Minimum',
  'Relu',
  'Relu6',
  'Prelu',
  'LeakyRelu',
  'Abs',
  'Square',
  'Sum',
  'Rsqrt',
  'Pad',
  'PadV2',
  'Mean',
  'MaxPool',
  'AvgPool',
  'Reshape',
  'Squeeze',
  'FusedBatchNorm',
  'FusedBatchNormV3',
] as const;

export type SupportedTfjsOp = (typeof SUPPORTED_TFJS_OPS)[number];

const passThrough = (cx: Conversion, n: TfNode): Lazy => lazy(cx, n.inputs[0]);

/** The converter of each supported op. */
export const CONVERTERS: Record<SupportedTfjsOp, (cx: Conversion, n: TfNode) => Lazy> = {
  Placeholder: () => ({ k: 'input', scale: 1, shift: 0 }),
  Const: convertConst,
  Identity: passThrough,
  StopGradient: passThrough,
  Conv2D: convertConv,
  _FusedConv2D: convertConv,
  DepthwiseConv2dNative: convertConv,
  FusedDepthwiseConv2dNative: convertConv,
  MatMul: convertMatMul,
  _FusedMatMul: convertMatMul,
  BiasAdd: convertAdd,
  Add: convertAdd,
  AddV2: convertAdd,
  Sub: convertSub,
  Mul: convertMul,
  RealDiv: convertDiv,
  Maximum: convertMinMax,
  Minimum: convertMinMax,
  Relu: convertRelu,
  Relu6: convertRelu,
  Prelu: convertActivation,
  LeakyRelu: convertActivation,
  Abs: convertNormParts,
  Square: convertNormParts,
  Sum: convertNormParts,
  Rsqrt: convertNormParts,
  Pad: convertPad,
  PadV2: convertPad,
  Mean: convertMean,
  MaxPool: convertPool,
  AvgPool: convertPool,
  Reshape: convertFlatten,
  Squeeze: convertFlatten,
  FusedBatchNorm: convertBatchNorm,
  FusedBatchNormV3: convertBatchNorm,
};
