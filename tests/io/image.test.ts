/**
 * Tests for src/io/image.ts: exact normalised pixel values from PNGs written with sharp,
 * greyscale/alpha/EXIF handling, resizing, PNG round trips, listing, errors and tensor leaks.
 */

import { existsSync, promises as fsp, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

import { ArcinvertError } from '../../src/errors.js';
import {
  DEFAULT_NORMALIZATION,
  IMAGE_EXTENSIONS,
  listImages,
  readImageBatch,
  readImageTensor,
  tensorToPng,
  writePng,
} from '../../src/io/image.js';

const NORM = DEFAULT_NORMALIZATION;
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LFW = path.resolve(REPO_ROOT, '../shared/data/lfw');

/** Deterministic pixel bytes for a w x h image with `channels` channels. */
function pattern(w: number, h: number, channels: number, seed = 0): Buffer {
  const px = Buffer.alloc(w * h * channels);
  for (let k = 0; k < px.length; k++) px[k] = (k * 37 + seed * 11 + 5) % 256;
  return px;
}

async function writeRaw(file: string, px: Buffer, w: number, h: number, channels: 1 | 2 | 3 | 4): Promise<void> {
  await sharp(px, { raw: { width: w, height: h, channels } })
    .png()
    .toFile(file);
}

const normalised = (bytes: ArrayLike<number>): number[] => Array.from(bytes, (b) => Math.fround((b - 127.5) / 127.5));

async function userError(run: () => Promise<unknown>): Promise<string> {
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArcinvertError);
  expect((err as Error).message).not.toContain('\n');
  return (err as Error).message;
}

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-image-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('readImageTensor', () => {
  test('RGB PNG gives exact (x - 127.5) / 127.5 values, [h, w, 3], one tensor', async () => {
    const file = path.join(tmp, 'rgb.png');
    const px = pattern(4, 3, 3);
    await writeRaw(file, px, 4, 3, 3);
    const before = tf.memory().numTensors;
    const t = await readImageTensor(file, { size: [3, 4], normalization: NORM });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(t.shape).toEqual([3, 4, 3]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual(normalised(px));
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('custom normalisation', async () => {
    const file = path.join(tmp, 'rgb01.png');
    const px = pattern(2, 2, 3, 1);
    await writeRaw(file, px, 2, 2, 3);
    const t = await readImageTensor(file, { size: [2, 2], normalization: { mean: 0, std: 255 } });
    expect(Array.from(await t.data())).toEqual(Array.from(px, (b) => Math.fround(b / 255)));
    t.dispose();
  });

  test('greyscale is expanded to three equal channels', async () => {
    const file = path.join(tmp, 'grey.png');
    const px = pattern(3, 2, 1);
    await writeRaw(file, px, 3, 2, 1);
    const t = await readImageTensor(file, { size: [2, 3], normalization: NORM });
    expect(t.shape).toEqual([2, 3, 3]);
    expect(Array.from(await t.data())).toEqual(normalised(Array.from(px).flatMap((v) => [v, v, v])));
    t.dispose();
  });

  test('alpha is dropped, colour kept', async () => {
    const file = path.join(tmp, 'rgba.png');
    const rgba = pattern(2, 2, 4, 2);
    for (let k = 3; k < rgba.length; k += 4) rgba[k] = k === 3 ? 0 : 128;
    await writeRaw(file, rgba, 2, 2, 4);
    const rgb = Array.from(rgba).filter((_, k) => k % 4 !== 3);
    const t = await readImageTensor(file, { size: [2, 2], normalization: NORM });
    expect(Array.from(await t.data())).toEqual(normalised(rgb));
    t.dispose();
  });

  test('EXIF orientation is applied (orientation 6 = rotate 90° clockwise)', async () => {
    const file = path.join(tmp, 'exif.png');
    const px = pattern(4, 2, 3, 3);
    await sharp(px, { raw: { width: 4, height: 2, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .png()
      .toFile(file);
    const t = await readImageTensor(file, { size: [4, 2], normalization: NORM });
    const expected: number[] = [];
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 2; x++) {
        const src = ((2 - 1 - x) * 4 + y) * 3; // output (y, x) comes from input row 1 - x, column y
        expected.push(px[src], px[src + 1], px[src + 2]);
      }
    }
    expect(Array.from(await t.data())).toEqual(normalised(expected));
    t.dispose();
  });

  test('resizes to the requested size; a flat colour stays exact', async () => {
    const file = path.join(tmp, 'flat.png');
    await sharp({ create: { width: 10, height: 6, channels: 3, background: { r: 200, g: 50, b: 0 } } })
      .png()
      .toFile(file);
    const t = await readImageTensor(file, { size: [4, 5], normalization: NORM });
    expect(t.shape).toEqual([4, 5, 3]);
    const v = await t.data();
    for (let k = 0; k < v.length; k += 3) expect([v[k], v[k + 1], v[k + 2]]).toEqual(normalised([200, 50, 0]));
    t.dispose();
  });

  test('missing, corrupt, truncated files and directories are one-line errors naming the file', async () => {
    const opts = { size: [2, 2] as [number, number], normalization: NORM };
    const missing = path.join(tmp, 'missing.png');
    expect(await userError(() => readImageTensor(missing, opts))).toBe(
      `cannot read image ${missing}: no such file or directory`,
    );
    const text = path.join(tmp, 'text.png');
    await fsp.writeFile(text, 'this is not an image\nsecond line');
    expect(await userError(() => readImageTensor(text, opts))).toMatch(new RegExp(`^cannot decode image ${text}: `));
    const png = await sharp(pattern(64, 64, 3), { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer();
    const cut = path.join(tmp, 'cut.png');
    await fsp.writeFile(cut, png.subarray(0, Math.floor(png.length / 2)));
    expect(await userError(() => readImageTensor(cut, opts))).toMatch(new RegExp(`^cannot decode image ${cut}: `));
    expect(await userError(() => readImageTensor(tmp, opts))).toBe(`cannot read image ${tmp}: not a regular file`);
  });

  test('invalid options are rejected before reading', async () => {
    const file = path.join(tmp, 'rgb.png');
    expect(await userError(() => readImageTensor(file, { size: [0, 4], normalization: NORM }))).toMatch(
      /invalid image size/,
    );
    expect(await userError(() => readImageTensor(file, { size: [3, 4], normalization: { mean: 0, std: 0 } }))).toMatch(
      /std must be > 0/,
    );
  });

  const lfwTest = existsSync(LFW) ? test : test.skip;
  lfwTest(`reads a real aligned LFW face${existsSync(LFW) ? '' : ` (skipped: ${LFW} is absent)`}`, async () => {
    const person = readdirSync(LFW)
      .filter((n) => !n.includes('.'))
      .sort()[0];
    const file = path.join(LFW, person, readdirSync(path.join(LFW, person)).sort()[0]);
    const t = await readImageTensor(file, { size: [112, 112], normalization: NORM });
    expect(t.shape).toEqual([112, 112, 3]);
    const v = await t.data();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    expect(Math.max(...v) - Math.min(...v)).toBeGreaterThan(0.5); // a real photo, not a flat image
    t.dispose();
  });
});

describe('readImageBatch', () => {
  test('stacks files in order, equal to single reads, one tensor', async () => {
    const files = [0, 1, 2].map((k) => path.join(tmp, `batch${k}.png`));
    await Promise.all(files.map((f, k) => writeRaw(f, pattern(3, 2, 3, 10 + k), 3, 2, 3)));
    const before = tf.memory().numTensors;
    const batch = await readImageBatch([files[2], files[0], files[1]], { size: [2, 3], normalization: NORM });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(batch.shape).toEqual([3, 2, 3, 3]);
    const v = await batch.data();
    expect(Array.from(v.subarray(0, 18))).toEqual(normalised(pattern(3, 2, 3, 12)));
    expect(Array.from(v.subarray(18, 36))).toEqual(normalised(pattern(3, 2, 3, 10)));
    expect(Array.from(v.subarray(36))).toEqual(normalised(pattern(3, 2, 3, 11)));
    batch.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('an empty list or a bad file is an error and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const opts = { size: [2, 3] as [number, number], normalization: NORM };
    expect(await userError(() => readImageBatch([], opts))).toMatch(/list of image files is empty/);
    const missing = path.join(tmp, 'gone.png');
    expect(await userError(() => readImageBatch([path.join(tmp, 'batch0.png'), missing], opts))).toContain(missing);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('tensorToPng / writePng', () => {
  test('known values encode exactly, with clipping and rounding', async () => {
    const values = [-1, 1, 0, 2, -3, 0.5, 10 / 127.5 - 1, -0.999, 1.6 / 127.5 - 1, 0, 0, 0];
    const t = tf.tensor3d(values, [2, 2, 3]);
    const before = tf.memory().numTensors;
    const png = await tensorToPng(t, NORM);
    expect(tf.memory().numTensors).toBe(before);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([2, 2, 3]);
    expect(Array.from(data)).toEqual([0, 255, 128, 255, 0, 191, 10, 0, 2, 128, 128, 128]);
    t.dispose();
  });

  test('tensor → PNG file → tensor round trip within 1/127.5', async () => {
    const file = path.join(tmp, 'round.png');
    const t = tf.randomUniform([5, 7, 3], -1, 1, 'float32', 7) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    await writePng(file, t, NORM);
    expect(tf.memory().numTensors).toBe(before);
    const back = await readImageTensor(file, { size: [5, 7], normalization: NORM });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(back, t))));
    expect((await diff.data())[0]).toBeLessThanOrEqual(0.5 / 127.5 + 1e-6);
    tf.dispose([t, back, diff]);
    expect(tf.memory().numTensors).toBe(before - 1);
    expect((await fsp.readdir(tmp)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('rejects a tensor that is not [H, W, 3]', async () => {
    const t = tf.zeros([2, 2, 4]) as tf.Tensor3D;
    expect(await userError(() => tensorToPng(t, NORM))).toMatch(/shape \[2, 2, 4\]: expected \[H, W, 3\]/);
    t.dispose();
  });
});

describe('listImages', () => {
  let root: string;
  beforeAll(async () => {
    root = path.join(tmp, 'tree');
    await fsp.mkdir(path.join(root, 'b', 'deep'), { recursive: true });
    await fsp.mkdir(path.join(root, 'empty'));
    await fsp.mkdir(path.join(root, '.hidden'));
    for (const f of ['z.png', 'a.JPG', 'b/deep/x.webp', 'b/c.jpeg', 'notes.txt', '.secret.png', '.hidden/h.png']) {
      await fsp.writeFile(path.join(root, f), '');
    }
  });

  test('expands directories recursively, sorted, skipping non-images and hidden entries', async () => {
    const j = (f: string) => path.join(root, f);
    expect(await listImages([root])).toEqual([j('a.JPG'), j('b/c.jpeg'), j('b/deep/x.webp'), j('z.png')]);
  });

  test('explicit files keep argument order; duplicates are dropped', async () => {
    const j = (f: string) => path.join(root, f);
    expect(await listImages([j('z.png'), path.join(root, 'b'), j('b/c.jpeg'), j('notes.txt')])).toEqual([
      j('z.png'),
      j('b/c.jpeg'),
      j('b/deep/x.webp'),
      j('notes.txt'),
    ]);
  });

  test('missing paths and empty results are errors', async () => {
    const missing = path.join(root, 'nope');
    expect(await userError(() => listImages([missing]))).toBe(
      `cannot find images in ${missing}: no such file or directory`,
    );
    expect(await userError(() => listImages([path.join(root, 'empty')]))).toMatch(
      /^no image files \(.*\) found in .*empty$/,
    );
  });

  test('every listed extension is one sharp can decode', () => {
    const readable = Object.values(sharp.format)
      .filter((f) => f.input.file)
      .flatMap((f) => (f.input as { fileSuffix?: string[] }).fileSuffix ?? []);
    for (const ext of IMAGE_EXTENSIONS) expect(readable).toContain(ext);
  });
});
