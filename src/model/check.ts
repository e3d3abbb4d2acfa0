/**
 * Checks of a face model at load time, so that a broken model directory fails with one line
 * before any work instead of deep inside tfjs or, worse, with silently wrong output:
 * - `checkTopology`: the metadata's input and embedding sizes are the network's own;
 * - `checkProbe`: the network embeds one fixed probe image to finite numbers (a weight shard
 *   of the right size full of NaN/Inf bytes passes every size check but fails here).
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import type { FaceModelMeta } from './types.js';

const dims = (shape: ReadonlyArray<number | null>): string => shape.map((d) => (d === null ? '?' : d)).join('×');

/**
 * Refuses metadata whose `inputSize` [H, W] or `embeddingSize` disagrees with the topology
 * (input [B, H, W, 3], output [B, D]); a dimension the topology leaves open is not checked.
 * @throws ArcinvertError naming the metadata value and the topology's.
 */
export function checkTopology(model: tf.LayersModel, meta: FaceModelMeta, dir: string): void {
  const input = model.inputs[0].shape;
  const output = model.outputs[0].shape;
  const [h, w] = meta.inputSize ?? [];
  const sizeOk = (got: number | null, want: unknown): boolean => got === null || got === want;
  if (
    !Array.isArray(meta.inputSize) ||
    input.length !== 4 ||
    !sizeOk(input[1], h) ||
    !sizeOk(input[2], w) ||
    !sizeOk(input[3], 3)
  ) {
    throw new ArcinvertError(
      `${dir}: model metadata inputSize ${JSON.stringify(meta.inputSize)} does not match the topology's input ${dims(input.slice(1))}`,
    );
  }
  if (output.length !== 2 || !sizeOk(output[1], meta.embeddingSize)) {
    throw new ArcinvertError(
      `${dir}: model metadata embeddingSize ${JSON.stringify(meta.embeddingSize)} does not match the topology's output ${dims(output.slice(1))}`,
    );
  }
}

/**
 * The probe image: one [1, H, W, 3] smooth colour pattern (bytes 28..228), normalised as the
 * model expects. Deterministic, so a model either always passes or always fails.
 */
export function probeImage(meta: FaceModelMeta): tf.Tensor4D {
  const [h, w] = meta.inputSize;
  const { mean, std } = meta.normalization;
  const data = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const byte = 128 + 100 * Math.sin((2 * Math.PI * (x + 2 * y)) / w + (2 * Math.PI * c) / 3);
        data[(y * w + x) * 3 + c] = (byte - mean) / std;
      }
    }
  }
  return tf.tensor4d(data, [1, h, w, 3]);
}

/**
 * Embeds the probe image once (inference mode, batch 1: one forward pass at the model's input
 * size; the model's weights and moving statistics are not touched).
 * @returns the first NaN or ±Inf of the raw embedding, or undefined when it is all finite.
 */
export function probeNonFinite(model: tf.LayersModel, meta: FaceModelMeta): number | undefined {
  const values = tf.tidy(() => {
    const x = probeImage(meta);
    return (model.apply(x, { training: false }) as tf.Tensor).dataSync();
  });
  return values.find((v) => !Number.isFinite(v));
}

/**
 * Refuses a model whose embedding of the probe image holds NaN or ±Inf (see `probeNonFinite`).
 * @throws ArcinvertError naming the model directory.
 */
export function checkProbe(model: tf.LayersModel, meta: FaceModelMeta, dir: string): void {
  const bad = probeNonFinite(model, meta);
  if (bad !== undefined) {
    throw new ArcinvertError(
      `${dir}: the model is broken: its embedding of a probe image is not finite (${bad}); its weights hold NaN or Inf values, or values so large that the forward pass overflows`,
    );
  }
}
