/**
 * Checking an imported face model against the runtime it came from (onnxruntime for ONNX,
 * `tf.GraphModel` for tfjs graph models): the inputs both are fed (aligned faces, or seeded
 * noise) and the per-input cosine between the two embeddings.
 */
import * as tf from '@tensorflow/tfjs';
import type { Normalization } from '../io/image.js';
import { Mulberry32 } from '../util/random.js';

/** The outcome of running both models on the same inputs. */
export interface Verification {
  inputs: number;
  /** What the inputs were: aligned faces or seeded noise. */
  kind: 'images' | 'noise';
  minCosine: number;
  meanCosine: number;
  /** Largest |difference| over the raw (unnormalised) outputs. */
  maxAbsDiff: number;
}

/** Seeded uniform noise in the model's normalised input range, NHWC. */
export function noiseInputs(n: number, size: [number, number], normalization: Normalization, seed = 7): tf.Tensor4D {
  const rng = new Mulberry32(seed);
  const data = new Float32Array(n * size[0] * size[1] * 3);
  for (let i = 0; i < data.length; i++) data[i] = (rng.next() * 255 - normalization.mean) / normalization.std;
  return tf.tensor4d(data, [n, size[0], size[1], 3]);
}

/**
 * Compares two runs' embeddings row by row.
 * @param ours [n·d] the import's outputs. @param theirs [n·d] the original's, same order.
 */
export function compareEmbeddings(
  ours: ArrayLike<number>,
  theirs: ArrayLike<number>,
  d: number,
  kind: Verification['kind'],
): Verification {
  const n = Math.floor(ours.length / d);
  const cosines: number[] = [];
  let maxAbsDiff = 0;
  for (let i = 0; i < n; i++) {
    let [dot, na, nb] = [0, 0, 0];
    for (let k = 0; k < d; k++) {
      const [a, b] = [ours[i * d + k], theirs[i * d + k]];
      dot += a * b;
      na += a * a;
      nb += b * b;
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a - b));
    }
    cosines.push(dot / Math.sqrt(na * nb + 1e-30));
  }
  return {
    inputs: n,
    kind,
    minCosine: Math.min(...cosines),
    meanCosine: cosines.reduce((a, b) => a + b, 0) / n,
    maxAbsDiff,
  };
}
