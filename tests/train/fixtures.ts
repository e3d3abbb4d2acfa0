/** Tiny generated image trees for the data tests (written to a temp dir, removed after). */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

export const H = 2;
export const W = 4;

/**
 * A W×H PNG whose red channel is `id·10` everywhere, green 255 in column 0 only (a marker
 * that shows horizontal flips), blue 7.
 */
export async function writeMarkedPng(file: string, id: number, w = W, h = H): Promise<void> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      raw[o] = id * 10;
      raw[o + 1] = x === 0 ? 255 : 0;
      raw[o + 2] = 7;
    }
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(
    file,
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

/**
 * ImageFolder with classes alice (ids 0, 1), bob (2, 3, 4), dave (5) + a notes.txt, an empty
 * folder carol, and a stray file at the top. Returns the root.
 */
export async function makeImageFolder(): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-data-'));
  const layout: [string, number][] = [
    ['alice/a0.png', 0],
    ['alice/a1.png', 1],
    ['bob/b0.png', 2],
    ['bob/b1.png', 3],
    ['bob/b2.png', 4],
    ['dave/d0.png', 5],
  ];
  for (const [rel, id] of layout) await writeMarkedPng(path.join(root, rel), id);
  await fsp.mkdir(path.join(root, 'carol'));
  await fsp.writeFile(path.join(root, 'dave/notes.txt'), 'not an image');
  await fsp.writeFile(path.join(root, 'stray.png'), 'ignored');
  return root;
}
