import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { ArcinvertError } from '../../src/errors.js';
import { resolveInvertConfig } from '../../src/invert/config.js';
import type { InvertResult } from '../../src/invert/loop.js';
import { imageFileName, stageOutput, summarise, writeInvertOutputs, writeSnapshot } from '../../src/invert/outputs.js';
import type { TargetSet } from '../../src/invert/targets.js';
import type { InvertedImage, LossTerms, RgbImage } from '../../src/invert/types.js';
import { contactSheetLayout } from '../../src/io/grid.js';

const NORM = { mean: 127.5, std: 127.5 };

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-outputs-'));
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh parent directory for one test. */
async function freshParent(): Promise<string> {
  const p = path.join(tmp, `case${dirCount++}`);
  await fsp.mkdir(p);
  return p;
}

async function decode(file: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

test('imageFileName pads the target to three digits', () => {
  expect(imageFileName(0, 0)).toBe('t000_s0.png');
  expect(imageFileName(3, 1)).toBe('t003_s1.png');
  expect(imageFileName(1234, 12)).toBe('t1234_s12.png');
});

describe('stageOutput', () => {
  test('a new --out: files are staged beside it and appear only at commit', async () => {
    const parent = await freshParent();
    const out = path.join(parent, 'run');
    const staged = await stageOutput(out, false);
    expect(path.dirname(staged.staging)).toBe(parent);
    expect(path.basename(staged.staging)).toMatch(new RegExp(`^\\.run\\.partial-${process.pid}@[0-9a-f]{8}$`));
    await fsp.writeFile(path.join(staged.staging, 'a.txt'), 'new');
    await expect(fsp.stat(out)).rejects.toThrow();
    await staged.commit();
    expect(await fsp.readdir(out)).toEqual(['a.txt']);
    expect(await fsp.readdir(parent)).toEqual(['run']);
  });

  test('creates missing parents; an empty existing --out is accepted without --overwrite', async () => {
    const parent = await freshParent();
    const deep = path.join(parent, 'x', 'y', 'run');
    const s1 = await stageOutput(deep, false);
    await s1.commit();
    expect(await fsp.readdir(deep)).toEqual([]);
    const s2 = await stageOutput(deep, false);
    await fsp.writeFile(path.join(s2.staging, 'b.txt'), 'b');
    await s2.commit();
    expect(await fsp.readdir(deep)).toEqual(['b.txt']);
  });

  test('a non-empty --out without --overwrite is refused with one line, and nothing is created', async () => {
    const parent = await freshParent();
    const out = path.join(parent, 'run');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'old.txt'), 'old');
    const err = await stageOutput(out, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toBe(`out ${out} exists and is not empty (use overwrite to replace it)`);
    expect(await fsp.readdir(parent)).toEqual(['run']);
    expect(await fsp.readdir(out)).toEqual(['old.txt']);
  });

  test('--out naming a file is refused with one line', async () => {
    const parent = await freshParent();
    const out = path.join(parent, 'file');
    await fsp.writeFile(out, 'x');
    await expect(stageOutput(out, true)).rejects.toThrow(new ArcinvertError(`out ${out} is a file, not a directory`));
    expect(await fsp.readdir(parent)).toEqual(['file']);
  });

  test('--overwrite keeps the old output until commit, then replaces it entirely', async () => {
    const parent = await freshParent();
    const out = path.join(parent, 'run');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'old.txt'), 'old');
    const staged = await stageOutput(out, true);
    await fsp.writeFile(path.join(staged.staging, 'new.txt'), 'new');
    expect(await fsp.readdir(out)).toEqual(['old.txt']);
    await staged.commit();
    expect(await fsp.readdir(out)).toEqual(['new.txt']);
    expect(await fsp.readFile(path.join(out, 'new.txt'), 'utf8')).toBe('new');
    expect(await fsp.readdir(parent)).toEqual(['run']); // no staging or .old left behind
  });

  test('abandon removes the staging directory and leaves --out as it was', async () => {
    const parent = await freshParent();
    const out = path.join(parent, 'run');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'old.txt'), 'old');
    const staged = await stageOutput(out, true);
    await fsp.writeFile(path.join(staged.staging, 'new.txt'), 'new');
    await staged.abandon();
    expect(await fsp.readdir(parent)).toEqual(['run']);
    expect(await fsp.readdir(out)).toEqual(['old.txt']);

    const fresh = path.join(parent, 'never');
    const s2 = await stageOutput(fresh, false);
    await s2.abandon();
    expect(await fsp.readdir(parent)).toEqual(['run']);
  });
});

/** A w×h RGB image whose bytes are a function of (target, seed, position). */
function rgb(w: number, h: number, target: number, seed: number): RgbImage {
  return {
    width: w,
    height: h,
    data: Uint8Array.from({ length: w * h * 3 }, (_, k) => (k * 37 + target * 91 + seed * 53) % 256),
  };
}

const LOSSES: LossTerms = { total: 1.5, identity: 0.25, bn: 3, tvL1: 0, tvL2: 0.125, l2: 0.5 };

function image(target: number, seed: number, bestCosine: number): InvertedImage {
  return {
    target,
    seed,
    image: rgb(6, 4, target, seed),
    bestCosine,
    finalCosine: bestCosine - 0.125,
    bestStep: 7,
    finalLosses: LOSSES,
    steps: 10,
    seconds: 2.5,
  };
}

const RESULT: InvertResult = {
  images: [image(0, 0, 0.5), image(0, 1, 0.75), image(1, 0, 0.25)],
  aborted: false,
  seconds: 5,
};

test('summarise: mean, min and max of the best cosines', () => {
  expect(summarise(RESULT)).toEqual({ images: 3, meanBestCosine: 0.5, minBestCosine: 0.25, maxBestCosine: 0.75 });
});

test('writeInvertOutputs writes one PNG per image with the exact bytes, the sheet and report.json', async () => {
  const dir = await freshParent();
  const targets: TargetSet = {
    embeddings: new Float32Array(8),
    n: 2,
    dim: 4,
    sources: [undefined, undefined],
    kind: 'random',
  };
  const config = resolveInvertConfig({ outputSize: 0, steps: 10, batchSize: 4, minBatch: 4 });
  const run = {
    model: '/models/tiny',
    backbone: 'mobilefacenet',
    backend: 'cpu (plain JavaScript)',
    config,
    startedAt: '2025-01-02T03:04:05.000Z',
  };
  const before = tf.memory().numTensors;
  await writeInvertOutputs(dir, RESULT, targets, run, NORM);
  expect(tf.memory().numTensors).toBe(before);
  expect((await fsp.readdir(dir)).sort()).toEqual([
    'report.json',
    'sheet.png',
    't000_s0.png',
    't000_s1.png',
    't001_s0.png',
  ]);

  for (const im of RESULT.images) {
    const png = await decode(path.join(dir, imageFileName(im.target, im.seed)));
    expect([png.width, png.height, png.channels]).toEqual([6, 4, 3]);
    expect(new Uint8Array(png.data)).toEqual(im.image.data);
  }

  const report = JSON.parse(await fsp.readFile(path.join(dir, 'report.json'), 'utf8'));
  expect(report.format).toBe('arcinvert-invert-report/1');
  expect(report.model).toBe('/models/tiny');
  expect(report.backbone).toBe('mobilefacenet');
  expect(report.backend).toBe('cpu (plain JavaScript)');
  expect(report.startedAt).toBe('2025-01-02T03:04:05.000Z');
  expect(report.config).toEqual(config);
  expect(report.aborted).toBe(false);
  expect(report.seconds).toBe(5);
  expect(report.targets).toEqual([
    { index: 0, kind: 'random', source: null, class: null },
    { index: 1, kind: 'random', source: null, class: null },
  ]);
  expect(report.images[1]).toEqual({
    file: 't000_s1.png',
    target: 0,
    seed: 1,
    bestCosine: 0.75,
    finalCosine: 0.625,
    bestStep: 7,
    losses: LOSSES,
    steps: 10,
    seconds: 2.5,
  });
  expect(report.images.map((i: { file: string }) => i.file)).toEqual(['t000_s0.png', 't000_s1.png', 't001_s0.png']);
  expect(report.summary).toEqual({ images: 3, meanBestCosine: 0.5, minBestCosine: 0.25, maxBestCosine: 0.75 });

  // Sheet: one row per target (2 and 1 cells), captions below the cells; cells copied exactly.
  const sheet = await decode(path.join(dir, 'sheet.png'));
  const layout = contactSheetLayout([2, 1], [4, 6], { cellLabels: [[], []] });
  expect([sheet.width, sheet.height]).toEqual([layout.width, layout.height]);
  const cells: Array<[InvertedImage, [number, number]]> = [
    [RESULT.images[0], layout.cells[0][0]],
    [RESULT.images[1], layout.cells[0][1]],
    [RESULT.images[2], layout.cells[1][0]],
  ];
  for (const [im, [top, left]] of cells) {
    for (let y = 0; y < 4; y++) {
      const row = sheet.data.subarray(((top + y) * sheet.width + left) * 3, ((top + y) * sheet.width + left + 6) * 3);
      expect(new Uint8Array(row)).toEqual(im.image.data.subarray(y * 18, (y + 1) * 18));
    }
  }
});

test('with target photos, the sheet starts each row with the photo (blank cell where unknown) and the report names it', async () => {
  const dir = await freshParent();
  const photo = path.join(dir, 'photo.png');
  const photoBytes = Buffer.from(Array.from({ length: 4 * 6 * 3 }, (_, k) => (k * 11) % 256));
  await sharp(photoBytes, { raw: { width: 6, height: 4, channels: 3 } })
    .png()
    .toFile(photo);
  const out = path.join(dir, 'out');
  await fsp.mkdir(out);
  const targets: TargetSet = {
    embeddings: new Float32Array(8),
    n: 2,
    dim: 4,
    sources: [photo, undefined],
    classes: Int32Array.from([5, 9]),
    kind: 'class',
  };
  const run = {
    model: 'm',
    backbone: 'mobilefacenet',
    backend: 'cpu',
    config: resolveInvertConfig(),
    startedAt: 'now',
  };
  await writeInvertOutputs(out, RESULT, targets, run, NORM);
  const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
  expect(report.targets).toEqual([
    { index: 0, kind: 'class', source: photo, class: 5 },
    { index: 1, kind: 'class', source: null, class: 9 },
  ]);
  const sheet = await decode(path.join(out, 'sheet.png'));
  const layout = contactSheetLayout([3, 2], [4, 6], { cellLabels: [[], []] });
  expect([sheet.width, sheet.height]).toEqual([layout.width, layout.height]);
  const cellBytes = (r: number, c: number): Uint8Array => {
    const [top, left] = layout.cells[r][c];
    const parts: number[] = [];
    for (let y = 0; y < 4; y++)
      parts.push(
        ...sheet.data.subarray(((top + y) * sheet.width + left) * 3, ((top + y) * sheet.width + left + 6) * 3),
      );
    return Uint8Array.from(parts);
  };
  expect(cellBytes(0, 0)).toEqual(new Uint8Array(photoBytes));
  expect(cellBytes(0, 1)).toEqual(RESULT.images[0].image.data);
  expect(cellBytes(0, 2)).toEqual(RESULT.images[1].image.data);
  expect(cellBytes(1, 0)).toEqual(new Uint8Array(4 * 6 * 3).fill(255)); // no photo: a white cell
  expect(cellBytes(1, 1)).toEqual(RESULT.images[2].image.data);
});

test('an aligned crop of the target photo is shown instead of the photo file', async () => {
  const dir = await freshParent();
  const out = path.join(dir, 'out');
  await fsp.mkdir(out);
  // The crop has the cells' own size (6×4), so resizing leaves it byte-exact.
  const crop = rgb(6, 4, 7, 7);
  const targets: TargetSet = {
    embeddings: new Float32Array(8),
    n: 2,
    dim: 4,
    sources: [path.join(dir, 'missing.jpg'), undefined],
    crops: [crop, undefined],
    kind: 'image',
  };
  const run = {
    model: 'm',
    backbone: 'mobilefacenet',
    backend: 'cpu',
    config: resolveInvertConfig(),
    startedAt: 'now',
  };
  const n0 = tf.memory().numTensors;
  await writeInvertOutputs(out, RESULT, targets, run, NORM);
  expect(tf.memory().numTensors).toBe(n0);
  const sheet = await decode(path.join(out, 'sheet.png'));
  const layout = contactSheetLayout([3, 2], [4, 6], { cellLabels: [[], []] });
  const [top, left] = layout.cells[0][0];
  const parts: number[] = [];
  for (let y = 0; y < 4; y++)
    parts.push(...sheet.data.subarray(((top + y) * sheet.width + left) * 3, ((top + y) * sheet.width + left + 6) * 3));
  expect(Uint8Array.from(parts)).toEqual(crop.data);
});

test('writeSnapshot writes snapshots/b{batch}_step{step:5}_t{target}_s{seed}.png with the exact bytes', async () => {
  const dir = await freshParent();
  const images = [
    { target: 2, seed: 0, image: rgb(6, 4, 2, 0) },
    { target: 3, seed: 1, image: rgb(6, 4, 3, 1) },
  ];
  await writeSnapshot(dir, { batch: 1, step: 40, images });
  await writeSnapshot(dir, { batch: 1, step: 80, images: images.slice(0, 1) });
  expect((await fsp.readdir(path.join(dir, 'snapshots'))).sort()).toEqual([
    'b1_step00040_t002_s0.png',
    'b1_step00040_t003_s1.png',
    'b1_step00080_t002_s0.png',
  ]);
  const png = await decode(path.join(dir, 'snapshots', 'b1_step00040_t003_s1.png'));
  expect(new Uint8Array(png.data)).toEqual(images[1].image.data);
});
