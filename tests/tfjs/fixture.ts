/**
 * A small tfjs graph model written by hand, as `tensorflowjs_converter` writes one (model.json
 * with `format: 'graph-model'`, a GraphDef node list, a weights manifest and one shard), with
 * the patterns human-models' face graphs use: an input scaling (Sub, Mul by scalars), Pad,
 * `_FusedConv2D` with BiasAdd + Prelu, `FusedDepthwiseConv2dNative` with BiasAdd + Relu, a
 * BatchNorm folded as Conv2D → Mul → AddV2, PReLU spelled as Maximum / Minimum / Mul / AddV2,
 * a residual AddV2, ReLU6 as Relu / Minimum / Maximum, a FusedBatchNormV3 that survived, Mean
 * over H and W, `_FusedMatMul`, an L2 normalisation of the output, and a Softmax head beside it.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

type Attr = Record<string, unknown>;
interface Node {
  name: string;
  op: string;
  input?: string[];
  attr?: Attr;
}
interface Weight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: number[];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
const str = (s: string) => ({ s: b64(s) });
const T = { T: { type: 'DT_FLOAT' } };

/** Deterministic values in [−a, a]. */
function values(n: number, seed: number, a = 0.5): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * a;
  });
}

/** The graph: nodes and weights; `edit` may change either before it is written. */
export interface GraphSpec {
  nodes: Node[];
  weights: Weight[];
  outputs: string[];
  inputShape: number[];
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function w(name: string, shape: number[], seed: number, a = 0.5, offset = 0): Weight {
  return { name, shape, dtype: 'float32', data: values(size(shape), seed, a).map((v) => v + offset) };
}
const k = (name: string, shape: number[], data: number[], dtype: Weight['dtype'] = 'float32'): Weight => ({
  name,
  shape,
  dtype,
  data,
});

function conv(name: string, op: string, inputs: string[], stride: number, pad: string, fused: string[] = []): Node {
  const attr: Attr = { ...T, strides: ints(1, stride, stride, 1), padding: str(pad), dilations: ints(1, 1, 1, 1) };
  if (fused.length > 0) {
    attr.fused_ops = { list: { s: fused.map(b64) } };
    attr.num_args = { i: String(inputs.length - 2) };
    attr.epsilon = { f: 0 };
  }
  if (op.includes('Conv2D')) attr.data_format = str('NHWC');
  return { name, op, input: inputs, attr };
}
const bin = (name: string, op: string, a: string, b: string): Node => ({ name, op, input: [a, b], attr: T });
const un = (name: string, op: string, a: string): Node => ({ name, op, input: [a], attr: T });
const mean = (name: string, x: string): Node => ({
  name,
  op: 'Mean',
  input: [x, 'axes'],
  attr: { ...T, keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } },
});
const dense = (name: string, inputs: string[]): Node => ({
  name,
  op: '_FusedMatMul',
  input: inputs,
  attr: {
    ...T,
    fused_ops: { list: { s: [b64('BiasAdd')] } },
    num_args: { i: '1' },
    transpose_a: { b: false },
    transpose_b: { b: false },
    epsilon: { f: 0 },
  },
});

/** The face-like fixture: input [N, 32, 32, 3] of 0–255 pixels, a 40-d L2-normalised embedding and a 10-way Softmax. */
/** The face-graph fixture; `side` is its input's height and width. */
export function faceGraph(side = 32): GraphSpec {
  const weights = [
    k('mean', [], [127.5]),
    k('scale', [], [1 / 128]),
    k('pads', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0], 'int32'),
    w('w1', [3, 3, 3, 8], 1),
    w('b1', [8], 2, 0.2),
    w('a1', [8], 3, 0.2, 0.25),
    w('dw', [3, 3, 8, 1], 4),
    w('dwb', [8], 5, 0.2),
    w('pw', [1, 1, 8, 8], 6),
    w('bnmul', [8], 7, 0.3, 1),
    w('bnsub', [8], 8, 0.2),
    k('zero', [], [0]),
    k('six', [], [6]),
    w('gamma', [8], 9, 0.2, 0.25),
    w('w2', [3, 3, 8, 32], 10, 0.3),
    w('b2', [32], 11, 0.1),
    w('bng', [32], 12, 0.2, 1),
    w('bnb', [32], 13, 0.2),
    w('bnm', [32], 14, 0.3),
    w('bnv', [32], 15, 0.3, 1),
    k('axes', [2], [1, 2], 'int32'),
    w('wfc', [32, 40], 16, 0.3),
    w('bfc', [40], 17, 0.1),
    k('lastAxis', [1], [1], 'int32'),
    k('eps', [], [1e-12]),
    w('wage', [40, 10], 18),
    w('bage', [10], 19),
  ];
  const nodes: Node[] = [
    {
      name: 'input',
      op: 'Placeholder',
      attr: {
        dtype: { type: 'DT_FLOAT' },
        shape: { shape: { dim: [{ size: '-1' }, { size: String(side) }, { size: String(side) }, { size: '3' }] } },
      },
    },
    ...weights.map((x) => ({
      name: x.name,
      op: 'Const',
      attr: { dtype: { type: x.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' } },
    })),
    bin('sub', 'Sub', 'input', 'mean'),
    bin('mul', 'Mul', 'sub', 'scale'),
    { name: 'pad', op: 'Pad', input: ['mul', 'pads'], attr: { ...T, Tpaddings: { type: 'DT_INT32' } } },
    conv('conv1', '_FusedConv2D', ['pad', 'w1', 'b1', 'a1'], 2, 'VALID', ['BiasAdd', 'Prelu']),
    conv('dw1', 'FusedDepthwiseConv2dNative', ['conv1', 'dw', 'dwb'], 1, 'SAME', ['BiasAdd', 'Relu']),
    conv('pw1', 'Conv2D', ['dw1', 'pw'], 1, 'SAME'),
    bin('pw1/bn/mul', 'Mul', 'pw1', 'bnmul'),
    bin('pw1/bn/add', 'AddV2', 'pw1/bn/mul', 'bnsub'),
    bin('prelu/max', 'Maximum', 'zero', 'pw1/bn/add'),
    bin('prelu/min', 'Minimum', 'zero', 'pw1/bn/add'),
    bin('prelu/mul', 'Mul', 'gamma', 'prelu/min'),
    bin('prelu/add', 'AddV2', 'prelu/max', 'prelu/mul'),
    bin('res', 'AddV2', 'prelu/add', 'conv1'),
    un('relu6/Relu', 'Relu', 'res'),
    bin('relu6/min', 'Minimum', 'relu6/Relu', 'six'),
    bin('relu6', 'Maximum', 'relu6/min', 'zero'),
    conv('conv2', 'Conv2D', ['relu6', 'w2'], 2, 'SAME'),
    bin('conv2/bias', 'BiasAdd', 'conv2', 'b2'),
    {
      name: 'bn2',
      op: 'FusedBatchNormV3',
      input: ['conv2/bias', 'bng', 'bnb', 'bnm', 'bnv'],
      attr: { ...T, epsilon: { f: 0.001 }, is_training: { b: false } },
    },
    mean('gap', 'bn2'),
    dense('fc', ['gap', 'wfc', 'bfc']),
    un('l2/sq', 'Square', 'fc'),
    {
      name: 'l2/sum',
      op: 'Sum',
      input: ['l2/sq', 'lastAxis'],
      attr: { ...T, keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } },
    },
    bin('l2/max', 'Maximum', 'l2/sum', 'eps'),
    un('l2/rsqrt', 'Rsqrt', 'l2/max'),
    bin('embedding', 'Mul', 'fc', 'l2/rsqrt'),
    dense('age', ['fc', 'wage', 'bage']),
    un('age/Softmax', 'Softmax', 'age'),
  ];
  return { nodes, weights, outputs: ['embedding', 'age/Softmax'], inputShape: [-1, side, side, 3] };
}

/** An image classifier: conv, Mean, dense to 10 classes, Softmax — no embedding output. */
export function classifierGraph(): GraphSpec {
  const g = faceGraph();
  const keep = new Set(['input', 'w1', 'b1', 'a1', 'axes', 'pad', 'pads', 'conv1', 'sub', 'mul', 'mean', 'scale']);
  const nodes = g.nodes.filter((n) => keep.has(n.name));
  const weights = g.weights.filter((x) => keep.has(x.name));
  weights.push(w('wc', [8, 10], 20), w('bc', [10], 21));
  nodes.push(
    { name: 'wc', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } },
    { name: 'bc', op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } },
    mean('gap', 'conv1'),
    dense('logits', ['gap', 'wc', 'bc']),
    un('probs', 'Softmax', 'logits'),
  );
  return { nodes, weights, outputs: ['probs'], inputShape: g.inputShape };
}

/** Writes `spec` as `dir/model.json` + `dir/group1-shard1of1.bin`; returns the model.json path. */
export async function writeGraphModel(dir: string, spec: GraphSpec): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const parts = spec.weights.map((x) =>
    Buffer.from(x.dtype === 'int32' ? Int32Array.from(x.data).buffer : Float32Array.from(x.data).buffer),
  );
  const sig = (name: string) => ({ name: `${name}:0`, dtype: 'DT_FLOAT' });
  const json = {
    format: 'graph-model',
    generatedBy: 'tests/tfjs/fixture.ts',
    convertedBy: 'by hand',
    signature: {
      inputs: {
        'input:0': {
          name: 'input:0',
          dtype: 'DT_FLOAT',
          tensorShape: { dim: spec.inputShape.map((s) => ({ size: String(s) })) },
        },
      },
      outputs: Object.fromEntries(spec.outputs.map((o) => [`${o}:0`, sig(o)])),
    },
    modelTopology: { node: spec.nodes, library: {}, versions: {} },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: spec.weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
      },
    ],
  };
  await fsp.writeFile(path.join(dir, 'group1-shard1of1.bin'), Buffer.concat(parts));
  const file = path.join(dir, 'model.json');
  await fsp.writeFile(file, JSON.stringify(json));
  return file;
}
