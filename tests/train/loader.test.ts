import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { loadCsvManifest, loadImageFolder, type Dataset } from '../../src/io/imageFolder.js';
import { BatchLoader, type Batch } from '../../src/train/loader.js';
import { shuffledEpochOrder } from '../../src/util/random.js';
import { H, W, makeImageFolder, writeMarkedPng } from './fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = path.resolve(repoRoot, '../shared/data');
const HAVE_DATA = existsSync(path.join(DATA, 'train.csv'));

interface Seen {
  epoch: number;
  batch: number;
  labels: number[];
  pixels: number[];
  paths: string[];
}

/** Runs the iterator, copying each batch out and disposing its tensors. */
async function collect(it: AsyncGenerator<Batch>): Promise<Seen[]> {
  const out: Seen[] = [];
  for await (const b of it) {
    out.push({
      epoch: b.epoch,
      batch: b.batch,
      labels: Array.from(await b.labels.data()),
      pixels: Array.from(await b.images.data()),
      paths: b.paths,
    });
    tf.dispose([b.images, b.labels]);
  }
  return out;
}

let root: string;
let ds: Dataset;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await makeImageFolder(); // 6 images: ids 0..5, labels alice 0, bob 1, dave 2
  for (let id = 6; id < 10; id++) await writeMarkedPng(path.join(root, `erin/e${id}.png`), id);
  ds = await loadImageFolder(root); // 10 images, classes alice bob dave erin
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

/** Image id written into the red channel, from the fixture file name (a0 a1 b0 b1 b2 d0 e6 … e9). */
const idOf = (file: string): number => {
  const [, kind, n] = /^([abde])(\d)\.png$/.exec(path.basename(file))!;
  return Number(n) + ({ a: 0, b: 2, d: 5, e: 0 } as Record<string, number>)[kind];
};

test('config validation and batch counts', () => {
  expect(() => new BatchLoader(ds, { batchSize: 0 })).toThrow(ArcinvertError);
  expect(() => new BatchLoader(ds, { imageSize: [2] as unknown as [number, number] })).toThrow(ArcinvertError);
  expect(() => new BatchLoader(ds, { shuffle: true } as never)).toThrow(ArcinvertError);
  expect(() => new BatchLoader(ds, { batchSize: 11 })).toThrow(ArcinvertError); // dropLast leaves nothing
  expect(new BatchLoader(ds, { batchSize: 3 }).batchesPerEpoch).toBe(3);
  expect(new BatchLoader(ds, { batchSize: 3, dropLast: false }).batchesPerEpoch).toBe(4);
});

test('shapes, labels, normalised pixels and seeded flips', async () => {
  const before = tf.memory().numTensors;
  const loader = new BatchLoader(ds, { batchSize: 3, dropLast: false, imageSize: [H, W], seed: 5, prefetch: 2 });
  const seen = await collect(loader.batches());
  expect(tf.memory().numTensors).toBe(before);
  expect(seen.map((s) => s.labels.length)).toEqual([3, 3, 3, 1]);
  const order = shuffledEpochOrder(10, 5, 0);
  expect(seen.flatMap((s) => s.paths)).toEqual(Array.from(order, (i) => ds.items[i].path));
  let flipped = 0;
  for (const s of seen) {
    s.paths.forEach((p, j) => {
      expect(s.labels[j]).toBe(ds.items.find((it) => it.path === p)!.label);
      const px = s.pixels.slice(j * H * W * 3, (j + 1) * H * W * 3);
      // red = id·10 → id·10/127.5 − 1; blue = 7 → 7/127.5 − 1 = −0.945098
      expect(px[0]).toBeCloseTo((idOf(p) * 10) / 127.5 - 1, 6);
      expect(px[2]).toBeCloseTo(-0.945098, 5);
      // green marker (255 → 1) sits in column 0, or column W−1 when flipped
      const g = (x: number): number => px[x * 3 + 1];
      expect(g(0) === 1 ? 'plain' : g(W - 1) === 1 ? 'flipped' : 'none').not.toBe('none');
      if (g(W - 1) === 1) flipped++;
    });
  }
  expect(flipped).toBeGreaterThan(0);
  expect(flipped).toBeLessThan(10);
  const again = await collect(
    new BatchLoader(ds, { batchSize: 3, dropLast: false, imageSize: [H, W], seed: 5 }).batches(),
  );
  expect(again).toEqual(seen);
  const noFlip = await collect(new BatchLoader(ds, { batchSize: 5, imageSize: [H, W], flip: false }).batches());
  for (const s of noFlip) for (let j = 0; j < 5; j++) expect(s.pixels[j * H * W * 3 + 1]).toBe(1);
});

test('resizes images of another size to the model input', async () => {
  const big = path.join(root, 'big.png');
  await writeMarkedPng(big, 3, 16, 8);
  const loader = new BatchLoader(
    { items: [{ path: big, label: 0 }], classNames: ['x'] },
    { batchSize: 1, imageSize: [4, 8], flip: false },
  );
  const [s] = await collect(loader.batches());
  expect(s.pixels).toHaveLength(4 * 8 * 3);
  for (let i = 0; i < 32; i++) expect(s.pixels[i * 3]).toBeCloseTo(30 / 127.5 - 1, 1);
  await fsp.rm(big);
});

test('a corrupt image is skipped and counted, never fatal', async () => {
  const bad = path.join(root, 'erin/zz_corrupt.png');
  await fsp.writeFile(bad, 'this is not a png');
  try {
    const withBad = await loadImageFolder(root);
    expect(withBad.items).toHaveLength(11);
    const loader = new BatchLoader(withBad, { batchSize: 11, imageSize: [H, W] });
    const seen = await collect(loader.batches({ epoch: 0, batch: 0 }, 2));
    expect(seen.map((s) => s.labels.length)).toEqual([10, 10]);
    expect(seen.every((s) => !s.paths.includes(bad))).toBe(true);
    expect(loader.skipped).toHaveLength(1);
    expect(loader.skipped[0].path).toBe(bad);
    expect(loader.skipped[0].reason).not.toBe('');
    expect(loader.skippedCount).toBe(2); // once per epoch
  } finally {
    await fsp.rm(bad);
  }
});

test('a dataset with no usable image is one error naming the first, not an empty run', async () => {
  const dir = path.join(root, '..', 'all-corrupt');
  await fsp.mkdir(path.join(dir, 'ann'), { recursive: true });
  await fsp.mkdir(path.join(dir, 'bob'), { recursive: true });
  for (const f of ['ann/1.png', 'ann/2.png', 'bob/1.png', 'bob/2.png']) await fsp.writeFile(path.join(dir, f), 'junk');
  try {
    const loader = new BatchLoader(await loadImageFolder(dir), { batchSize: 2, imageSize: [H, W] });
    const err: unknown = await collect(loader.batches()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toMatch(
      /^none of the 4 training image\(s\) could be used: .+\.png: .+ \(and 3 more\)$/,
    );
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('resuming at (epoch, batch) gives the same batches as an uninterrupted run', async () => {
  const cfg = { batchSize: 3, dropLast: false, imageSize: [H, W] as [number, number], seed: 11 };
  const full = await collect(new BatchLoader(ds, cfg).batches({ epoch: 0, batch: 0 }, 3));
  expect(full.map((s) => [s.epoch, s.batch])).toEqual(
    [0, 1, 2].flatMap((e) => [
      [e, 0],
      [e, 1],
      [e, 2],
      [e, 3],
    ]),
  );
  expect(full[0].paths).not.toEqual(full[4].paths); // epochs are reshuffled
  const fromMid = await collect(new BatchLoader(ds, cfg).batches({ epoch: 0, batch: 2 }, 3));
  expect(fromMid).toEqual(full.slice(2));
  const fromEpoch1 = await collect(new BatchLoader(ds, cfg).batches({ epoch: 1, batch: 3 }, 2));
  expect(fromEpoch1).toEqual(full.slice(7, 8));
  await expect(collect(new BatchLoader(ds, cfg).batches({ epoch: 0, batch: 5 }))).rejects.toThrow(ArcinvertError);
});

test('Batch.next points at the following batch', async () => {
  const loader = new BatchLoader(ds, { batchSize: 5, imageSize: [H, W] });
  const nexts = [];
  for await (const b of loader.batches({ epoch: 0, batch: 0 }, 2)) {
    nexts.push(b.next);
    tf.dispose([b.images, b.labels]);
  }
  expect(nexts).toEqual([
    { epoch: 0, batch: 1 },
    { epoch: 1, batch: 0 },
    { epoch: 1, batch: 1 },
    { epoch: 2, batch: 0 },
  ]);
});

test('stopping early leaks no tensor', async () => {
  const before = tf.memory().numTensors;
  const loader = new BatchLoader(ds, { batchSize: 2, imageSize: [H, W], prefetch: 3 });
  for await (const b of loader.batches({ epoch: 0, batch: 0 }, 10)) {
    tf.dispose([b.images, b.labels]);
    break;
  }
  expect(tf.memory().numTensors).toBe(before);
});

(HAVE_DATA ? test : test.skip)('real train.csv: one 112×112 batch', async () => {
  const real = await loadCsvManifest(path.join(DATA, 'train.csv'), DATA);
  const loader = new BatchLoader(real, { batchSize: 8, prefetch: 1 });
  for await (const b of loader.batches()) {
    expect(b.images.shape).toEqual([8, 112, 112, 3]);
    expect(b.labels.dtype).toBe('int32');
    const px = await b.images.data();
    expect(px.every((v) => v >= -1 && v <= 1)).toBe(true);
    expect(px.some((v) => v !== px[0])).toBe(true);
    tf.dispose([b.images, b.labels]);
    break;
  }
  expect(loader.skippedCount).toBe(0);
});
