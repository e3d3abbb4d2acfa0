/**
 * Face embeddings from a model: the standard ArcFace evaluation practice (insightface
 * `eval/verification.py`): optionally add the embedding of the horizontally flipped image,
 * then L2-normalise.
 */
import * as tf from '@tensorflow/tfjs';
import { l2Normalize, l2NormalizeRowsInPlace } from '../arcface/normalize.js';
import type { FaceModel } from '../model/types.js';
import { preparedBatch, type PreparedImage } from '../align/align.js';

/**
 * What runs a model's forward pass for embedding: another runtime serving the same network
 * (`OnnxEmbedder` in `src/onnx/runtime.ts`); without one, tfjs runs the model itself.
 */
export interface Embedder {
  /** The runtime's name, for reports ('onnxruntime'). */
  readonly runtime: string;
  /**
   * Raw embeddings (not normalised) of `images` [B, H, W, 3] in the model's normalisation,
   * and, with `flip`, of their mirror images after them: [B, D] or [2B, D], row-major.
   * Does not dispose `images`.
   */
  forward(images: tf.Tensor4D, flip: boolean): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Unit embeddings [B·D] from an embedder's raw output for B images: with `flip`, row i plus
 * row B + i (insightface's flip test), then L2-normalised.
 */
export function normaliseRows(raw: Float32Array, b: number, d: number, flip: boolean): Float32Array {
  const out = new Float32Array(raw.subarray(0, b * d));
  if (flip) for (let j = 0; j < b * d; j++) out[j] += raw[b * d + j];
  return l2NormalizeRowsInPlace(out, d);
}

/** Unit embeddings [B·D] of a batch: by `embedder` when given, else by tfjs (`embedBatch`). */
export async function embedBatchWith(
  fm: FaceModel,
  images: tf.Tensor4D,
  flip: boolean,
  embedder: Embedder | undefined,
): Promise<Float32Array> {
  if (embedder)
    return normaliseRows(await embedder.forward(images, flip), images.shape[0], fm.meta.embeddingSize, flip);
  const e = embedBatch(fm.model, images, flip);
  const data = (await e.data()) as Float32Array;
  e.dispose();
  return data;
}

/** How to embed a set of images. */
export interface EmbedOptions {
  /** Add the flipped image's embedding before normalising (test-time augmentation). */
  flip: boolean;
  /** Images per forward pass. */
  batchSize: number;
  /** Another runtime for the forward passes (default: tfjs runs the model). */
  embedder?: Embedder;
  /** Called after each batch with the number of images done so far. */
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_EMBED_OPTIONS: EmbedOptions = { flip: false, batchSize: 32 };

/**
 * L2-normalised embeddings of a batch of normalised images, in inference mode.
 *
 * @param model input [B, H, W, 3] → [B, D].
 * @param images [B, H, W, 3] in the model's normalisation.
 * @param flip add the embedding of each image mirrored left-right.
 * @returns [B, D], unit rows.
 */
export function embedBatch(model: tf.LayersModel, images: tf.Tensor4D, flip: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    let e = model.apply(images, { training: false }) as tf.Tensor2D;
    if (flip) e = e.add(model.apply(tf.reverse(images, 2), { training: false }) as tf.Tensor2D);
    return l2Normalize(e, 1);
  });
}

/**
 * Embeds photos: image files read (and resized to the model's input) with sharp, or aligned
 * crops prepared by `maybeAlign`.
 *
 * @returns N×D row-major float32, unit rows, in the order of `images`.
 */
export async function embedPrepared(
  fm: FaceModel,
  images: readonly PreparedImage[],
  options: Partial<EmbedOptions> = {},
): Promise<Float32Array> {
  const opts = { ...DEFAULT_EMBED_OPTIONS, ...options };
  const d = fm.meta.embeddingSize;
  const out = new Float32Array(images.length * d);
  for (let start = 0; start < images.length; start += opts.batchSize) {
    const chunk = images.slice(start, start + opts.batchSize);
    const batch = await preparedBatch(chunk, { size: fm.meta.inputSize, normalization: fm.meta.normalization });
    out.set(await embedBatchWith(fm, batch, opts.flip, opts.embedder), start * d);
    batch.dispose();
    opts.onProgress?.(start + chunk.length, images.length);
  }
  return out;
}

/** Embeds image files used as they are (already aligned); see `embedPrepared`. */
export function embedFiles(
  fm: FaceModel,
  paths: readonly string[],
  options: Partial<EmbedOptions> = {},
): Promise<Float32Array> {
  return embedPrepared(
    fm,
    paths.map((source) => ({ source })),
    options,
  );
}
