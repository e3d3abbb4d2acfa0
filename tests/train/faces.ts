/**
 * Tiny generated "face" folders for the training tests: identity c is a flat colour (a point
 * on a hue circle) plus seeded per-pixel noise, so a model can learn it in a few steps.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Mulberry32 } from '../../src/util/random.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';

/** RGB of identity `c` out of `n`: evenly spaced hues, full saturation. */
export function identityColour(c: number, n: number): [number, number, number] {
  const h = (c / n) * 6;
  const x = Math.round(255 * (1 - Math.abs((h % 2) - 1)));
  const table: [number, number, number][] = [
    [255, x, 0],
    [x, 255, 0],
    [0, 255, x],
    [0, x, 255],
    [x, 0, 255],
    [255, 0, x],
  ];
  return table[Math.floor(h) % 6];
}

/** Writes an `size`×`size` PNG of `rgb` with ±`noise` uniform per-pixel noise. */
export async function writeColourPng(
  file: string,
  rgb: [number, number, number],
  size: number,
  seed: number,
  noise = 40,
): Promise<void> {
  const rng = new Mulberry32(seed);
  const raw = Buffer.alloc(size * size * 3);
  for (let i = 0; i < raw.length; i++)
    raw[i] = Math.max(0, Math.min(255, rgb[i % 3] + Math.round((rng.next() * 2 - 1) * noise)));
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(
    file,
    await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

/** ImageFolder `<root>/id<cc>/<i>.png` with `classes` identities × `perClass` images. */
export async function makeFaceFolder(classes: number, perClass: number, size: number): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-faces-'));
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++) {
      await writeColourPng(
        path.join(root, `id${String(c).padStart(2, '0')}`, `${i}.png`),
        identityColour(c, classes),
        size,
        c * 1000 + i,
      );
    }
  }
  return root;
}

/** A tiny IResNet (16×16 input, 8-d) as `backboneConfig` overrides. */
export const TINY_IRESNET = {
  inputSize: [16, 16] as [number, number],
  embeddingSize: 8,
  layers: [1, 1, 1, 1] as [number, number, number, number],
  widths: [4, 8, 8, 16] as [number, number, number, number],
};

/** Training on `makeFaceFolder(8, 4, 16)`: 2 identities held out → 24 images, 6 steps per epoch, 2 epochs. */
export const TINY_TRAIN_CONFIG: TrainConfig = resolveTrainConfig({
  backbone: 'iresnet18',
  backboneConfig: TINY_IRESNET,
  batchSize: 4,
  epochs: 2,
  lr: 0.05,
  warmupEpochs: 0.5,
  valFraction: 0.25,
  valPairs: 8,
  seed: 3,
  prefetch: 1,
  evalBatchSize: 16,
});
