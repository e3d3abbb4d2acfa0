/**
 * tfjs graph model → tfjs LayersModel: the nodes the chosen output depends on, converted from
 * that output backwards (`ops.ts`, one converter per op, over the lazy values of `lazy.ts`), so
 * that heads the embedding does not use (faceres' age and gender) are never converted. Only
 * standard tf.layers classes are built (Conv2D, DepthwiseConv2D, Dense, PReLU, ReLU,
 * LeakyReLU, BatchNormalization, Add, ZeroPadding2D, pooling, Flatten, Reshape), so the result
 * saves and loads as any LayersModel and arcinvert's engine takes its fast paths.
 *
 * A BatchNorm folded into the conv before it leaves a bias (`_FusedConv2D` with BiasAdd, or
 * Conv2D → Mul → Add): those convs are built with their bias and no activation fused in, so
 * their outputs are the folded-BN taps of `BnTaps.folded` as for ONNX imports.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import { materialize, type Conversion, type Lazy, type Sym } from './lazy.js';
import { CONVERTERS, SUPPORTED_TFJS_OPS, type SupportedTfjsOp } from './ops.js';
import type { TfGraph, TfNode } from './read.js';

export interface TfjsConvertOptions {
  /** Input [height, width]. */
  inputSize: [number, number];
  /** The graph takes BGR: the first conv's input channels are reversed so the result takes RGB. */
  bgr: boolean;
  /** The output node to rebuild (the embedding). */
  output: string;
}

export interface TfjsConvertResult {
  model: tf.LayersModel;
  embeddingSize: number;
  /** Op counts of the nodes converted. */
  convertedOps: Record<string, number>;
  batchNorms: number;
  biasedConvs: number;
  /** The graph's input scaling (raw · scale + shift), taken out of the model; null when it has none. */
  lifted: { scale: number; shift: number } | null;
  /** The graph L2-normalises its output; the model outputs the embedding before it. */
  l2Normalized: boolean;
}

/** Converts node `name` and (first) what it reads, depth first; memoised in `cx.values`. */
function convertNode(cx: Conversion, name: string, user: TfNode | null): Lazy {
  const have = cx.values.get(name);
  if (have) return have;
  const n = cx.g.nodes.get(name);
  if (!n)
    throw new ArcinvertError(
      `${cx.g.file}: ${user ? `node '${user.name}' reads` : 'the output'} '${name}', which no node produces`,
    );
  const convert = CONVERTERS[n.op as SupportedTfjsOp] as ((cx: Conversion, n: TfNode) => Lazy) | undefined;
  if (!convert)
    throw new ArcinvertError(
      `unsupported tfjs graph op ${n.op} at node '${n.name}' (supported: ${SUPPORTED_TFJS_OPS.join(', ')})`,
    );
  for (const i of n.inputs) convertNode(cx, i, n);
  const v = convert(cx, n);
  cx.values.set(name, v);
  return v;
}

/** The output's tensor [N, D]: an L2 normalisation is left out, an [N, 1, 1, D] map flattened. */
function embeddingOf(cx: Conversion, name: string): { sym: Sym; l2: boolean } {
  const v = convertNode(cx, name, null);
  const node = cx.g.nodes.get(name) as TfNode;
  const l2 = v.k === 'l2';
  let sym = l2 ? materialize(cx, cx.values.get(v.x) as Lazy, node) : materialize(cx, v, node);
  if (sym.shape.length === 4 && sym.shape[1] === 1 && sym.shape[2] === 1)
    sym = tf.layers.flatten({ name: 'embedding_flatten' }).apply(sym) as Sym;
  if (sym.shape.length !== 2)
    throw new ArcinvertError(
      `${cx.g.file}: the output '${name}' has shape [N, ${sym.shape.slice(1).join(', ')}]; a face model outputs [N, D]`,
    );
  return { sym, l2 };
}

/**
 * Converts the part of `g` that `opts.output` depends on.
 * @throws ArcinvertError naming the first node the importer cannot convert.
 */
export function convertTfjsGraph(g: TfGraph, opts: TfjsConvertOptions): TfjsConvertResult {
  const input = tf.input({ shape: [...opts.inputSize, 3], name: 'input' });
  const cx: Conversion = {
    g,
    input,
    bgr: opts.bgr,
    bgrApplied: false,
    values: new Map(),
    built: new Map(),
    inputLike: new Set([input]),
    lifted: null,
    created: [],
    used: new Set(),
    batchNorms: 0,
    biasedConvs: 0,
  };
  try {
    const { sym, l2 } = embeddingOf(cx, opts.output);
    if (opts.bgr && !cx.bgrApplied)
      throw new ArcinvertError(`${g.file}: --bgr needs a conv that reads the graph's input (directly or padded)`);
    const convertedOps: Record<string, number> = {};
    for (const name of cx.values.keys()) {
      const op = (g.nodes.get(name) as TfNode).op;
      convertedOps[op] = (convertedOps[op] ?? 0) + 1;
    }
    return {
      model: tf.model({ inputs: input, outputs: sym, name: 'tfjs_import' }),
      embeddingSize: sym.shape[1] as number,
      convertedOps,
      batchNorms: cx.batchNorms,
      biasedConvs: cx.biasedConvs,
      lifted: cx.lifted && (cx.lifted.scale !== 1 || cx.lifted.shift !== 0) ? cx.lifted : null,
      l2Normalized: l2,
    };
  } finally {
    tf.dispose(cx.created);
  }
}
