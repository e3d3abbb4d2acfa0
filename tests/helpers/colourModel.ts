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

/**
 * A two-fold LFW-format set of flat colours in `dir` (`pairs.txt` and `<Name>/<Name>_NNNN.jpg`),
 * with cosines under `colourModel` known by hand. A_0003 is "mislabelled": cyan, the opposite of
 * A's red (cos −1).
 *   fold 0: matched A1–A2 = 1, B1–B2 = 1; mismatched A1–B1 = −1/3, A2–C1 = −1/3
 *   fold 1: matched C1–C2 = 1, A1–A3 = −1; mismatched B2–C2 = −1/3, B1–A3 = +1/3
 * Sign bits (red 100, cyan 011, green 010, blue 001) give Hamming similarities 1, 1, 1/3, 1/3 and
 * 1, 0, 1/3, 2/3.
 */
export async function writeColourLfw(dir: string): Promise<void> {
  const RED: [number, number, number] = [255, 0, 0]; // (1, −1, −1)
  const GREEN: [number, number, number] = [0, 255, 0]; // (−1, 1, −1)
  const BLUE: [number, number, number] = [0, 0, 255]; // (−1, −1, 1)
  const CYAN: [number, number, number] = [0, 255, 255]; // (−1, 1, 1)
  const images: Array<[string, [number, number, number]]> = [
    ['A/A_0001.jpg', RED],
    ['A/A_0002.jpg', RED],
    ['A/A_0003.jpg', CYAN],
    ['B/B_0001.jpg', GREEN],
    ['B/B_0002.jpg', GREEN],
    ['C/C_0001.jpg', BLUE],
    ['C/C_0002.jpg', BLUE],
  ];
  for (const [rel, rgb] of images) await writeFlat(path.join(dir, rel), rgb);
  const pairs = [
    '2\t2',
    'A\t1\t2',
    'B\t1\t2',
    'A\t1\tB\t1',
    'A\t2\tC\t1',
    'C\t1\t2',
    'A\t1\t3',
    'B\t2\tC\t2',
    'B\t1\tA\t3',
  ];
  await fsp.writeFile(path.join(dir, 'pairs.txt'), `${pairs.join('\n')}\n`);
}
