/**
 * A stand-in face model whose embedding is the image's mean normalised colour (3-d), so tests
 * control every cosine exactly: pure red (255, 0, 0) embeds as (1, −1, −1), green as
 * (−1, 1, −1), and so on.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { DEFAULT_NORMALIZATION } from '../../src/backbone/types.js';
import type { FaceModel } from '../../src/model/types.js';
import { DEFAULT_MOBILEFACENET_CONFIG } from '../../src/backbone/mobilefacenet.js';

export const COLOUR_SIZE = 8;

export function colourModel(): FaceModel {
  const input = tf.input({ shape: [COLOUR_SIZE, COLOUR_SIZE, 3] });
  const output = tf.layers.globalAveragePooling2d({ dataFormat: 'channelsLast' }).apply(input) as tf.SymbolicTensor;
  const inputSize: [number, number] = [COLOUR_SIZE, COLOUR_SIZE];
  return {
    model: tf.model({ inputs: input, outputs: output }),
    meta: {
      format: 1,
      backbone: 'mobilefacenet',
      config: { ...DEFAULT_MOBILEFACENET_CONFIG, inputSize, embeddingSize: 3 },
      inputSize,
      embeddingSize: 3,
      normalization: { ...DEFAULT_NORMALIZATION },
    },
  };
}

/**
 * Writes a flat-colour PNG (under any file name: sharp reads the content, so LFW's `.jpg`
 * names can hold exact, lossless colours).
 */
export async function writeFlat(file: string, rgb: [number, number, number]): Promise<void> {
  const raw = Buffer.alloc(COLOUR_SIZE * COLOUR_SIZE * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = rgb[i % 3];
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(
    file,
    await sharp(raw, { raw: { width: COLOUR_SIZE, height: COLOUR_SIZE, channels: 3 } })
      .png()
      .toBuffer(),
  );
}
