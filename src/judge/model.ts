/**
 * An arcinvert face model as a judge: the attacked system itself (white-box evaluation).
 * Preprocessing: the aligned crop resized to the model's input with the cubic kernel when it
 * differs (as `readImageBatch`), the model's `(x − mean) / std`, no flip (the template a
 * system stores for a photo, as `invert --image` uses); embeddings L2-normalised.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import { resizeRaster, rastersToTensor } from '../align/raster.js';
import type { RasterImage } from '../align/warp.js';
import { embedBatch } from '../model/embed.js';
import type { Judge } from './types.js';

/** Options of `modelJudge`. */
export interface ModelJudgeOptions {
  name: string;
  /** Add the mirrored image's embedding (ArcFace evaluation practice). */
  flip: boolean;
  batchSize: number;
}

/** Wraps `fm` (not disposed by the judge: the caller owns the model). */
export function modelJudge(fm: FaceModel, options: Partial<ModelJudgeOptions> = {}): Judge {
  const o: ModelJudgeOptions = { name: 'attacked', flip: false, batchSize: 32, ...options };
  const [h, w] = fm.meta.inputSize;
  const dim = fm.meta.embeddingSize;
  return {
    name: o.name,
    dim,
    description: `${fm.meta.backbone} ${h}×${w}, (x − ${fm.meta.normalization.mean}) / ${fm.meta.normalization.std}${o.flip ? ', + flipped' : ''}`,
    async embed(crops: readonly RasterImage[]): Promise<Float32Array> {
      const out = new Float32Array(crops.length * dim);
      for (let start = 0; start < crops.length; start += o.batchSize) {
        const sized = await Promise.all(crops.slice(start, start + o.batchSize).map((c) => resizeRaster(c, w, h)));
        const x = rastersToTensor(sized, fm.meta.normalization);
        const e = embedBatch(fm.model, x, o.flip);
        out.set(await e.data(), start * dim);
        tf.dispose([x, e]);
      }
      return out;
    },
    dispose: () => undefined,
  };
}
