/**
 * `importOnnx`: an insightface-style ONNX face model (IResNet, MobileFaceNet, exported by
 * `torch.onnx.export`) as an arcinvert `FaceModel` — read (`read.ts`), rebuilt layer by layer
 * (`convert.ts`), and checked against the original run by onnxruntime (`verifyWithOnnxRuntime`):
 * the embeddings of the same inputs must agree to cosine ≥ `minCosine`.
 *
 * The structure is recognised from the operators for the record (`structure`): residual
 * adds with PReLU and no grouped convs → `iresnet`; grouped or depthwise convs → `mobilefacenet`.
 * Conversion itself does not depend on it: what the importer cannot convert is refused by node.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import type { Normalization } from '../io/image.js';
import type { FaceModel, OnnxImportInfo } from '../model/types.js';
import { compareEmbeddings, type Verification } from '../model/verification.js';
import { ArcinvertError } from '../errors.js';
import { readFileChecked } from '../io/atomic.js';
import { convertOnnxGraph } from './convert.js';
import { parseOnnx, type OnnxGraph } from './read.js';

/** Shared with the tfjs importer (`model/verification.ts`); re-exported for the ONNX API. */
export { noiseInputs, type Verification } from '../model/verification.js';

export interface OnnxImportOptions {
  /**
   * Pixel normalisation the model expects, of 0–255 RGB (insightface: 127.5, 127.5). A graph
   * that normalises its input itself overrides it (`OnnxImportInfo.normalizationFromGraph`).
   */
  normalization: Normalization;
  /** The model takes BGR (folded into the first conv, so the import takes RGB). */
  bgr: boolean;
  /** Input [height, width] when the graph's is symbolic. */
  inputSize?: [number, number];
}

export const DEFAULT_ONNX_IMPORT: Readonly<OnnxImportOptions> = {
  normalization: { mean: 127.5, std: 127.5 },
  bgr: false,
};

function structureOf(g: OnnxGraph): OnnxImportInfo['structure'] {
  const convs = g.nodes.filter((n) => n.opType === 'Conv');
  const grouped = convs.some((n) => ((n.attributes.group as number | undefined) ?? 1) > 1);
  const has = (op: string) => g.nodes.some((n) => n.opType === op);
  if (grouped && has('PRelu')) return 'mobilefacenet';
  if (!grouped && has('PRelu') && has('Add')) return 'iresnet';
  return 'other';
}

/**
 * Reads and converts `file`.
 * @throws ArcinvertError for unreadable files and unsupported graphs (see read.ts, convert.ts).
 */
export async function importOnnx(
  file: string,
  options: Partial<OnnxImportOptions> = {},
): Promise<{ fm: FaceModel; info: OnnxImportInfo }> {
  const opts = { ...DEFAULT_ONNX_IMPORT, ...options };
  const bytes = await readFileChecked(file, 'ONNX model');
  const g = await parseOnnx(bytes, file);
  const r = convertOnnxGraph(g, { bgr: opts.bgr, inputSize: opts.inputSize });
  const info: OnnxImportInfo = {
    source: file,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    producer: g.producer,
    opset: g.opset,
    structure: structureOf(g),
    ops: r.ops,
    batchNorms: r.batchNorms,
    foldedConvs: r.biasedConvs,
    bgr: opts.bgr,
    normalizationFromGraph: r.inputNormalization !== null,
  };
  const fm: FaceModel = {
    model: r.model,
    meta: {
      format: 1,
      backbone: 'onnx',
      config: info,
      inputSize: r.inputSize,
      embeddingSize: r.embeddingSize,
      normalization: r.inputNormalization ?? opts.normalization,
    },
  };
  return { fm, info };
}

interface OrtModule {
  InferenceSession: { create(path: string): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}
interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
  release(): Promise<void>;
}

/** onnxruntime-node, or null where it is not installed (it is a dependency; a user may drop it). */
export async function loadOnnxRuntime(): Promise<OrtModule | null> {
  try {
    const mod = (await import('onnxruntime-node')) as unknown as OrtModule & { default?: OrtModule };
    return mod.InferenceSession ? mod : (mod.default ?? null);
  } catch {
    return null;
  }
}

/**
 * Runs `file` in onnxruntime and `fm` in tfjs on the same NHWC `inputs` (one image at a time
 * for onnxruntime: insightface exports often fix the batch of their final reshape to 1) and
 * compares the embeddings. Does not dispose `inputs`.
 */
export async function verifyWithOnnxRuntime(
  ort: OrtModule,
  file: string,
  fm: FaceModel,
  inputs: tf.Tensor4D,
  kind: Verification['kind'],
): Promise<Verification> {
  // A graph that normalises its input itself takes 0–255 pixels: undo the model's normalisation for it.
  const info = fm.meta.config as Partial<OnnxImportInfo>;
  const raw = info.normalizationFromGraph === true ? fm.meta.normalization : null;
  const [n, h, w] = inputs.shape;
  const ours = tf.tidy(() => fm.model.predict(inputs) as tf.Tensor2D);
  const oursData = (await ours.data()) as Float32Array;
  const d = ours.shape[1];
  ours.dispose();
  const nchw = tf.tidy(() => {
    const t = tf.transpose(inputs, [0, 3, 1, 2]);
    return raw ? tf.add(tf.mul(t, raw.std), raw.mean) : t;
  });
  const nchwData = (await nchw.data()) as Float32Array;
  nchw.dispose();
  const session = await ort.InferenceSession.create(file).catch((err: Error) => {
    throw new ArcinvertError(`onnxruntime cannot load ${file}: ${err.message.split('\n')[0]}`);
  });
  const theirs = new Float32Array(n * d);
  try {
    const per = 3 * h * w;
    for (let i = 0; i < n; i++) {
      // A plain array, which onnxruntime copies into its own Float32Array: it checks
      // `instanceof Float32Array`, which fails across realms (e.g. under a test runner's VM).
      const one = Array.from(nchwData.subarray(i * per, (i + 1) * per));
      const feed = { [session.inputNames[0]]: new ort.Tensor('float32', one as unknown as Float32Array, [1, 3, h, w]) };
      const out = (await session.run(feed))[session.outputNames[0]];
      if (out.data.length !== d)
        throw new ArcinvertError(`onnxruntime gives ${out.data.length} values per image, the import ${d}`);
      theirs.set(out.data, i * d);
    }
  } finally {
    await session.release();
  }
  return compareEmbeddings(oursData, theirs, d, kind);
}
