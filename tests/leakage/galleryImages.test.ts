/**
 * The leakage report's photos under the many-images policy: an unusable gallery or impostor
 * photo is skipped and listed (and the gallery renumbered), an unusable target photo is an error.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { ArcinvertError } from '../../src/errors.js';
import { readGalleryImages, readImpostorImages, type Gallery } from '../../src/leakage/gallery.js';

let dir: string;
const file = (name: string): string => path.join(dir, name);

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-gallery-'));
  for (const [name, shade] of [
    ['A1.png', 10],
    ['B1.png', 120],
    ['B2.png', 240],
  ] as const) {
    await sharp({ create: { width: 8, height: 6, channels: 3, background: { r: shade, g: 0, b: 0 } } })
      .png()
      .toFile(file(name));
  }
  await fsp.writeFile(file('A2.png'), 'not a png');
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

const gallery = (): Gallery => ({
  photos: [
    { file: file('A1.png'), identity: 'A' },
    { file: file('A2.png'), identity: 'A' },
    { file: file('B1.png'), identity: 'B' },
    { file: file('B2.png'), identity: 'B' },
  ],
  targets: [0, 2],
});

test('an unusable gallery photo is skipped and listed; the targets are renumbered', async () => {
  const lines: string[] = [];
  const { gallery: g, images } = await readGalleryImages(gallery(), (l) => lines.push(l));
  expect(g.photos.map((p) => path.basename(p.file))).toEqual(['A1.png', 'B1.png', 'B2.png']);
  expect(g.targets).toEqual([0, 1]);
  expect(images.map((im) => [im.width, im.height, im.data[0]])).toEqual([
    [8, 6, 10],
    [8, 6, 120],
    [8, 6, 240],
  ]);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^skipped ${file('A2.png')}: `));
});

test('an unusable target photo is an error naming it', async () => {
  const g = { ...gallery(), targets: [1, 2] };
  const err: unknown = await readGalleryImages(g, () => undefined).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ArcinvertError);
  expect((err as Error).message).toMatch(new RegExp(`^cannot use target photo ${file('A2.png')}: `));
});

test('impostor pairs with an unusable photo are left out, the photo listed', async () => {
  const lines: string[] = [];
  const { images, pairs } = await readImpostorImages(
    [
      [file('A1.png'), file('B1.png')],
      [file('A2.png'), file('B2.png')],
      [file('A1.png'), file('B2.png')],
    ],
    (l) => lines.push(l),
  );
  expect(images.map((im) => im.data[0])).toEqual([10, 120, 240]);
  expect(pairs).toEqual([
    [0, 1],
    [0, 2],
  ]);
  expect(lines).toEqual([expect.stringMatching(/A2\.png: .*\(its impostor pairs are left out\)$/)]);
});
