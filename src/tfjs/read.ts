/**
 * A tfjs graph model (`model.json` with `format: 'graph-model'` + weight shards, as
 * `tensorflowjs_converter` writes it) read into a node table: each GraphDef node with its op,
 * inputs (`name:0` → `name`; control inputs dropped) and attributes, the weights decoded
 * (float16 / uint8 quantisation undone) as float constants, the input placeholder and the
 * outputs (the signature's, else the nodes nobody reads).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import { graphSha256 } from '../model/lineage.js';
import { readArtifacts } from '../model/store.js';

/** One attribute of a GraphDef node, as the converter writes it to JSON. */
export interface TfAttr {
  i?: string | number;
  f?: number;
  s?: string;
  b?: boolean;
  type?: string;
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  list?: { i?: (string | number)[]; s?: string[]; f?: number[] };
}

export interface TfNode {
  name: string;
  op: string;
  /** Producing node names (output index 0 only). */
  inputs: string[];
  attr: Record<string, TfAttr>;
}

/** A constant: the weight's values as float32, and its shape. */
export interface TfConst {
  shape: number[];
  data: Float32Array;
}

export interface TfGraph {
  file: string;
  nodes: Map<string, TfNode>;
  consts: Map<string, TfConst>;
  /** The one Placeholder: its name and NHWC shape (null where symbolic). */
  input: { name: string; shape: (number | null)[] };
  /** Output node names. */
  outputs: string[];
  /** How many nodes read each node's output. */
  consumers: Map<string, number>;
  producer: string;
  sha256: string;
  /** What `tf.loadGraphModel(tf.io.fromMemory(…))` takes, for the reference run. */
  artifacts: tf.io.ModelArtifacts;
}

/** `name:0` → `name`; another output index of a multi-output node is refused by the caller. */
export const nodeOf = (input: string): string => input.replace(/:0$/, '');

/** A string attribute (base64 in JSON). */
export const attrString = (a: TfAttr | undefined): string | undefined =>
  a?.s !== undefined ? Buffer.from(a.s, 'base64').toString('utf8') : undefined;

/** A list-of-ints attribute. */
export const attrInts = (a: TfAttr | undefined): number[] | undefined => a?.list?.i?.map(Number);

/** A list-of-strings attribute. */
export const attrStrings = (a: TfAttr | undefined): string[] =>
  (a?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));

function placeholder(file: string, nodes: TfNode[]): TfGraph['input'] {
  const inputs = nodes.filter((n) => n.op === 'Placeholder');
  if (inputs.length !== 1)
    throw new ArcinvertError(`${file}: a face model has one input, this graph has ${inputs.length} placeholders`);
  const dims = inputs[0].attr.shape?.shape?.dim ?? [];
  return { name: inputs[0].name, shape: dims.map((d) => (Number(d.size) >= 0 ? Number(d.size) : null)) };
}

function outputsOf(json: tf.io.ModelJSON, nodes: TfNode[], consumers: Map<string, number>): string[] {
  const sig = (json.signature as { outputs?: Record<string, { name?: string }> } | undefined)?.outputs;
  if (sig && Object.keys(sig).length > 0) return Object.values(sig).map((o) => nodeOf(o.name ?? ''));
  return nodes.filter((n) => n.op !== 'Const' && !consumers.has(n.name)).map((n) => n.name);
}

async function decodeConsts(artifacts: tf.io.ModelArtifacts): Promise<Map<string, TfConst>> {
  const named = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), artifacts.weightSpecs ?? []);
  const consts = new Map<string, TfConst>();
  for (const [name, t] of Object.entries(named)) {
    consts.set(name, { shape: t.shape, data: Float32Array.from(await t.data()) });
    t.dispose();
  }
  return consts;
}

/**
 * Reads `file` (a graph model's model.json; its shards beside it).
 * @throws ArcinvertError for unreadable, truncated or non-graph-model files.
 */
export async function readTfjsGraph(file: string): Promise<TfGraph> {
  const artifacts = await readArtifacts(path.dirname(file), 'graph', path.basename(file));
  const json = artifacts as unknown as tf.io.ModelJSON;
  const topology = artifacts.modelTopology as { node?: unknown } | undefined;
  if (artifacts.format !== 'graph-model' || !Array.isArray(topology?.node))
    throw new ArcinvertError(
      `${file} is not a tfjs graph model (format '${String(artifacts.format)}'; a layers model needs no import)`,
    );
  const raw = topology.node as { name: string; op: string; input?: string[]; attr?: Record<string, TfAttr> }[];
  const nodes = raw.map((n) => ({
    name: n.name,
    op: n.op,
    inputs: (n.input ?? []).filter((i) => !i.startsWith('^')).map(nodeOf),
    attr: n.attr ?? {},
  }));
  const consumers = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  return {
    file,
    nodes: new Map(nodes.map((n) => [n.name, n])),
    consts: await decodeConsts(artifacts),
    input: placeholder(file, nodes),
    outputs: outputsOf(json, nodes, consumers),
    consumers,
    producer: [artifacts.generatedBy, artifacts.convertedBy].filter(Boolean).join(', '),
    sha256: await graphSha256(file, artifacts),
    artifacts,
  };
}
