/**
 * The default independent judge: dlib's face-recognition ResNet-29 (`dlib_face_recognition_
 * resnet_model_v1`, 128-d, 99.38% on LFW with dlib's own alignment), as ported to tfjs and
 * shipped with @vladmandic/face-api (`face_recognition_model`). It was trained on faces
 * independent of arcinvert's models, so it measures whether a reconstruction transfers.
 *
 * Preprocessing (from the ArcFace-aligned 112×112 crop): `DLIB_JUDGE_CROP`, a similarity to
 * a 150×150 chip, bilinear, black outside; then face-api's own normalisation
 * ((RGB − [122.782, 117.001, 104.298]) / 255). The 128-d output is L2-normalised and
 * compared by cosine.
 */
import * as tf from '@tensorflow/tfjs';
import { l2NormalizeRowsInPlace } from '../arcface/normalize.js';
import { faceapi, faceApiModelDir, faceApiVersion, loadFaceApiNet } from '../align/faceapi.js';
import { rastersToTensor } from '../align/raster.js';
import type { RasterImage } from '../align/warp.js';
import { cropForJudge, validateJudgeCrop, type JudgeCrop } from './crop.js';
import type { Judge } from './types.js';

/** The chip chosen on LFW (docs/LEAKAGE.md, "Independent judge"). */
export const DLIB_JUDGE_CROP: Readonly<JudgeCrop> = { size: 150, scale: 1.45, center: [56, 71.8] };

/** Crops per forward pass. */
const BATCH = 16;

/** Loads the dlib ResNet judge (weights from face-api's package, or `modelDir`). */
export async function loadDlibJudge(crop: JudgeCrop = DLIB_JUDGE_CROP, modelDir = faceApiModelDir()): Promise<Judge> {
  validateJudgeCrop(crop);
  const net = await loadFaceApiNet('face_recognition', modelDir);
  const dim = 128;
  return {
    name: 'dlib-resnet',
    dim,
    description: `dlib ResNet-29 (face-api ${faceApiVersion()}), ${crop.size}×${crop.size} chip, scale ${crop.scale} about (${crop.center.join(', ')}) of the 112×112 crop`,
    async embed(crops: readonly RasterImage[]): Promise<Float32Array> {
      const out = new Float32Array(crops.length * dim);
      for (let start = 0; start < crops.length; start += BATCH) {
        const chips = await Promise.all(crops.slice(start, start + BATCH).map((c) => cropForJudge(c, crop)));
        const batch = rastersToTensor(chips);
        const slices = tf.unstack(batch) as tf.Tensor3D[];
        try {
          const input = await faceapi.toNetInput(slices);
          const e = net.forwardInput(input) as unknown as tf.Tensor2D;
          out.set(await e.data(), start * dim);
          e.dispose();
        } finally {
          tf.dispose([batch, ...slices]);
        }
      }
      return l2NormalizeRowsInPlace(out, dim);
    },
    dispose: () => net.dispose(),
  };
}
