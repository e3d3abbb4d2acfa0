/**
 * The values of a graph conversion in progress. A node's output is first a *lazy* value — a
 * conv not yet built, `max(x, 0)`, `α·min(x, 0)`, a per-channel affine map, the graph input
 * with a scaling still to be lifted out — so that the patterns a converted graph spells out op
 * by op (BatchNorm remains `Mul` + `Add` after a conv, PReLU as `Maximum` + `Minimum` + `Mul` +
 * `Add`, ReLU6 as `Relu` + `Minimum` + `Maximum`, `x / ‖x‖` as `Square` … `Rsqrt` + `Mul`) can
 * fold into one layer. A value becomes a layer (`materialize`) only when a node needs it as a
 * tensor; a lazy value that cannot become one is refused, naming the node that made it.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import type { TfConst, TfGraph, TfNode } from './read.js';

export type Sym = tf.SymbolicTensor;

/** An activation applied after a conv or dense layer (its own layer, so the conv output stays tappable). */
export type Act =
  { kind: 'relu'; max: number } | { kind: 'prelu'; alpha: Float32Array } | { kind: 'leaky'; alpha: number };

/** A conv (`depthwise`: kernel [h, w, C, m]; else [h, w, i, o]) or dense ([in, out]) layer not yet built. */
export interface Linear {
  k: 'linear';
  node: TfNode;
  layer: 'conv' | 'depthwise' | 'dense';
  x: Sym;
  kernel: Float32Array;
  shape: number[];
  bias: Float32Array | null;
  strides: [number, number];
  padding: 'same' | 'valid';
  act: Act | null;
}

export type Lazy =
  | { k: 'sym'; sym: Sym }
  | { k: 'const'; c: TfConst }
  /** The graph input, scaled: raw · scale + shift. */
  | { k: 'input'; scale: number; shift: number }
  | Linear
  /** min(max(x, 0), max). */
  | { k: 'relu'; node: TfNode; x: string; max: number }
  /** α · min(x, 0), α per channel or scalar. */
  | { k: 'negpart'; node: TfNode; x: string; alpha: Float32Array }
  | { k: 'abs'; node: TfNode; x: string }
  /** x · scale + shift per channel (a BatchNorm's remains where no conv precedes it). */
  | { k: 'affine'; node: TfNode; x: string; scale: Float32Array; shift: Float32Array }
  /** Steps of an L2 normalisation of x: x², Σx², 1/√Σx², x/‖x‖. */
  | { k: 'sq' | 'sumsq' | 'rnorm' | 'l2'; node: TfNode; x: string };

/** One conversion: the graph, the lazy values and built tensors so far, and what the record counts. */
export interface Conversion {
  g: TfGraph;
  input: Sym;
  bgr: boolean;
  bgrApplied: boolean;
  values: Map<string, Lazy>;
  /** Each lazy value's tensor once built (by value: a value reached under two names is built once). */
  built: Map<Lazy, Sym>;
  /** Tensors that are the input or a zero padding of it (a `--bgr` swap folds into a conv reading them). */
  inputLike: Set<Sym>;
  /** The scaling lifted out of the graph (raw · scale + shift), once the input is used. */
  lifted: { scale: number; shift: number } | null;
  /** Weight tensors handed to layers (which copy them); disposed at the end. */
  created: tf.Tensor[];
  used: Set<string>;
  batchNorms: number;
  biasedConvs: number;
}

export function unsupported(n: TfNode, why: string): never {
  throw new ArcinvertError(`unsupported tfjs graph ${why} at node '${n.name}' (${n.op})`);
}

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z]/, 'n$&');

/** A unique layer name from the node's name. */
export function layerName(cx: Conversion, n: TfNode, suffix = ''): string {
  let name = safeName(n.name) + suffix;
  for (let k = 2; cx.used.has(name); k++) name = `${safeName(n.name)}${suffix}_${k}`;
  cx.used.add(name);
  return name;
}

/** Keeps a weight tensor for disposal once the layers have copied it. */
export function keep<T extends tf.Tensor>(cx: Conversion, t: T): T {
  cx.created.push(t);
  return t;
}

const channels = (s: Sym): number => s.shape[s.shape.length - 1] as number;

/** An activation layer after `x`. */
export function activation(cx: Conversion, n: TfNode, x: Sym, act: Act, suffix = ''): Sym {
  const name = layerName(cx, n, suffix);
  if (act.kind === 'relu')
    return tf.layers.reLU({ maxValue: Number.isFinite(act.max) ? act.max : undefined, name }).apply(x) as Sym;
  if (act.kind === 'leaky') return tf.layers.leakyReLU({ alpha: act.alpha, name }).apply(x) as Sym;
  const c = channels(x);
  const alpha = act.alpha.length === c ? act.alpha : new Float32Array(c).fill(act.alpha[0]);
  const rank4 = x.shape.length === 4;
  const w = keep(cx, rank4 ? tf.tensor3d(alpha, [1, 1, c]) : tf.tensor1d(alpha));
  return tf.layers.prelu({ sharedAxes: rank4 ? [1, 2] : undefined, name, weights: [w] }).apply(x) as Sym;
}

/** Builds a pending conv or dense layer (and its activation, as a layer of its own). */
function buildLinear(cx: Conversion, v: Linear): Sym {
  const weights: tf.Tensor[] = [keep(cx, tf.tensor(v.kernel, v.shape))];
  if (v.bias) weights.push(keep(cx, tf.tensor1d(v.bias)));
  const common = { useBias: v.bias !== null, name: layerName(cx, v.node), weights };
  const conv = {
    ...common,
    kernelSize: [v.shape[0], v.shape[1]] as [number, number],
    strides: v.strides,
    padding: v.padding,
  };
  const layer =
    v.layer === 'dense'
      ? tf.layers.dense({ ...common, units: v.shape[1] })
      : v.layer === 'depthwise'
        ? tf.layers.depthwiseConv2d({ ...conv, depthMultiplier: v.shape[3] })
        : tf.layers.conv2d({ ...conv, filters: v.shape[3] });
  if (v.bias && v.layer !== 'dense') cx.biasedConvs++;
  const out = layer.apply(v.x) as Sym;
  return v.act ? activation(cx, v.node, out, v.act, '_act') : out;
}

/** A per-channel affine map of an image map as a 1×1 depthwise conv with bias (a folded-BN tap). */
function buildAffine(cx: Conversion, n: TfNode, x: Sym, scale: Float32Array, shift: Float32Array): Sym {
  if (x.shape.length !== 4) unsupported(n, `per-channel scaling of a tensor of rank ${x.shape.length}`);
  const c = channels(x);
  const full = (a: Float32Array) => (a.length === c ? a : new Float32Array(c).fill(a[0]));
  const layer = tf.layers.depthwiseConv2d({
    kernelSize: 1,
    useBias: true,
    name: layerName(cx, n),
    weights: [keep(cx, tf.tensor4d(full(scale), [1, 1, c, 1])), keep(cx, tf.tensor1d(full(shift)))],
  });
  cx.biasedConvs++;
  return layer.apply(x) as Sym;
}

/** The graph input as the model's input, recording the scaling lifted out of the graph. */
function liftInput(cx: Conversion, n: TfNode, v: { scale: number; shift: number }): Sym {
  if (cx.lifted && (cx.lifted.scale !== v.scale || cx.lifted.shift !== v.shift))
    unsupported(n, 'use of the graph input under two different scalings');
  cx.lifted = { scale: v.scale, shift: v.shift };
  return cx.input;
}

/**
 * The tensor of value `v`, building its layers on first use (`user` is the node that needs it,
 * named in errors about constants).
 */
export function materialize(cx: Conversion, v: Lazy, user: TfNode): Sym {
  const done = cx.built.get(v);
  if (done) return done;
  let sym: Sym;
  switch (v.k) {
    case 'sym':
      return v.sym;
    case 'const':
      return unsupported(user, 'constant where a computed tensor is expected');
    case 'input':
      return liftInput(cx, user, v);
    case 'linear':
      sym = buildLinear(cx, v);
      break;
    case 'relu':
      sym = activation(cx, v.node, symOf(cx, v.x, v.node), { kind: 'relu', max: v.max });
      break;
    case 'affine':
      sym = buildAffine(cx, v.node, symOf(cx, v.x, v.node), v.scale, v.shift);
      break;
    default:
      return unsupported(v.node, `${v.node.op} other than in a PReLU, ReLU6, BatchNorm or output L2 pattern`);
  }
  cx.built.set(v, sym);
  return sym;
}

/** The tensor of an already converted node `name`. */
export function symOf(cx: Conversion, name: string, user: TfNode): Sym {
  const v = cx.values.get(name);
  if (!v) return unsupported(user, `input '${name}' (not converted)`);
  return materialize(cx, v, user);
}
