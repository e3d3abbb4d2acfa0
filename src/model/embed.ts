/**
 * Face embeddings from a model: the standard ArcFace evaluation practice (insightface
 * `eval/verification.py`): optionally add the embedding of the horizontally flipped image,
 * then L2-normalise.
 */
import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '../arcface/normalize.js';
import type { FaceModel } from '../model/types.js';
import { preparedBatch, type PreparedImage } from '../align/align.js';

/** How to embed a set of images. */
export interface EmbedOptions {
  /** Add the flipped image's embedding before normalising (test-time augmentation). */
  flip: boolean;
  /** Images per forward pass. */
  batchSize: number;
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
    const e = embedBatch(fm.model, batch, opts.flip);
    out.set(await e.data(), start * d);
    tf.dispose([batch, e]);
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
