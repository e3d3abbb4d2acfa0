import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { ArcinvertError } from '../../src/errors.js';
import { randomTargets, targetsFromClasses, targetsFromImages, targetsFromNpy } from '../../src/invert/targets.js';
import { writeNpy } from '../../src/io/npy.js';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { tinyMobileFaceNet } from '../helpers/tiny.js';

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-targets-'));
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

function rowNorms(data: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < data.length / dim; r++) out.push(Math.hypot(...data.subarray(r * dim, (r + 1) * dim)));
  return out;
}

describe('targetsFromNpy', () => {
  // Rows [3, 4, 0, 0] and [0, 0, 0, 2] normalise to [0.6, 0.8, 0, 0] and [0, 0, 0, 1].
  const ROWS = Float32Array.from([3, 4, 0, 0, 0, 0, 0, 2]);

  test('normalises the rows and takes the photo paths from <file>.txt (relative to it when not found as given)', async () => {
    const file = path.join(tmp, 'listed.npy');
    await writeNpy(file, ROWS, [2, 4]);
    await fsp.mkdir(path.join(tmp, 'faces'), { recursive: true });
    await fsp.writeFile(path.join(tmp, 'faces', 'a.png'), 'x');
    const absB = path.join(tmp, 'faces', 'b.png');
    await fsp.writeFile(absB, 'x');
    await fsp.writeFile(path.join(tmp, 'listed.txt'), `faces/a.png\n${absB}\n`);
    const t = await targetsFromNpy(file, 4);
    expect(t.n).toBe(2);
    expect(t.dim).toBe(4);
    expect(t.kind).toBe('embedding');
    expect(t.classes).toBeUndefined();
    const expected = [0.6, 0.8, 0, 0, 0, 0, 0, 1];
    Array.from(t.embeddings).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    expect(t.sources).toEqual([path.join(tmp, 'faces', 'a.png'), absB]);
  });

  test('listed photos that exist nowhere are left out', async () => {
    const file = path.join(tmp, 'gone.npy');
    await writeNpy(file, ROWS, [2, 4]);
    await fsp.writeFile(path.join(tmp, 'gone.txt'), 'faces/missing.png\nfaces/a.png\n');
    expect((await targetsFromNpy(file, 4)).sources).toEqual([undefined, path.join(tmp, 'faces', 'a.png')]);
  });

  test('no listing gives no photos; one with the wrong number of rows is an error naming both counts', async () => {
    const file = path.join(tmp, 'mislisted.npy');
    await writeNpy(file, ROWS, [2, 4]);
    expect((await targetsFromNpy(file, 4)).sources).toEqual([undefined, undefined]);
    const listing = path.join(tmp, 'mislisted.txt');
    await fsp.writeFile(listing, 'only-one.png\n');
    await expect(targetsFromNpy(file, 4)).rejects.toThrow(
      new ArcinvertError(`${listing} lists 1 photo(s) but ${file} has 2 row(s)`),
    );
  });

  // #18 item 10: a newline in a file name must not break the listing, nor drop the photos.
  test('a photo whose name holds a newline round-trips through the JSON-lines listing', async () => {
    const dir = path.join(tmp, 'nl');
    await fsp.mkdir(dir, { recursive: true });
    const names = ['a.png', 'evil\nname.png', 'c.png', 'd.png'].map((n) => path.join(dir, n));
    for (const n of names) await fsp.writeFile(n, 'x');
    const file = path.join(dir, 'emb.npy');
    await writeNpy(
      file,
      Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
      [4, 4],
    );
    // As `embed` writes it: one JSON string a line, relative to the listing's folder.
    const listing = path.join(dir, 'emb.jsonl');
    await fsp.writeFile(listing, names.map((n) => `${JSON.stringify(path.basename(n))}\n`).join(''));
    expect((await fsp.readFile(listing, 'utf8')).split('\n')).toHaveLength(5); // 4 lines + final newline
    expect((await targetsFromNpy(file, 4)).sources).toEqual(names);
  });

  // #18 item 11: a listing may only make arcinvert read files under its own folder (or --listing-root).
  test('../ entries, absolute paths elsewhere and links out of the folder are refused and reported', async () => {
    const outside = path.join(tmp, 'outside.png');
    await fsp.writeFile(outside, 'x');
    const dir = path.join(tmp, 'confined');
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'ok.png'), 'x');
    await fsp.symlink(outside, path.join(dir, 'link.png'));
    const file = path.join(dir, 'emb.npy');
    await writeNpy(
      file,
      Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
      [4, 4],
    );
    await fsp.writeFile(path.join(dir, 'emb.txt'), `ok.png\n../outside.png\n/etc/passwd\nlink.png\n`);
    const t = await targetsFromNpy(file, 4);
    expect(t.sources).toEqual([path.join(dir, 'ok.png'), undefined, undefined, undefined]);
    expect(t.notes).toHaveLength(3);
    expect(t.notes![0]).toBe(
      `${path.join(dir, 'emb.txt')} row 1 (0-based): photo "../outside.png" outside ${dir}, not read (name a folder that holds it with --listing-root)`,
    );
    expect(t.notes![1]).toMatch(/row 2 \(0-based\): photo "\/etc\/passwd" outside /);
    // Naming a wider root lets the outside photo in, and still not /etc/passwd.
    const wide = await targetsFromNpy(file, 4, { listingRoot: tmp });
    expect(wide.sources).toEqual([path.join(dir, 'ok.png'), outside, undefined, path.join(dir, 'link.png')]);
  });

  test('a 1-D file is one target', async () => {
    const file = path.join(tmp, 'one.npy');
    await writeNpy(file, Float32Array.from([0, 0, 5, 0]), [4]);
    const t = await targetsFromNpy(file, 4);
    expect(t.n).toBe(1);
    expect(Array.from(t.embeddings)).toEqual([0, 0, 1, 0]);
    expect(t.sources).toEqual([undefined]);
  });

  test('a dimension other than the model embedding size is rejected with one line', async () => {
    const file = path.join(tmp, 'dim4.npy');
    await writeNpy(file, ROWS, [2, 4]);
    const err = await targetsFromNpy(file, 16).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toBe(`${file} has dimension 4 but the model's embedding size is 16`);
  });

  test('non-finite values and a missing file are rejected', async () => {
    const file = path.join(tmp, 'nan.npy');
    await writeNpy(file, Float32Array.from([1, 0, 0, 0, 0, NaN, 0, 0]), [2, 4]);
    await expect(targetsFromNpy(file, 4)).rejects.toThrow(
      `${file} row 1 (0-based) has a non-finite value (NaN) at column 1`,
    );
    await expect(targetsFromNpy(path.join(tmp, 'absent.npy'), 4)).rejects.toThrow(ArcinvertError);
  });
});

describe('targetsFromClasses', () => {
  test('K = 1: the class centre is the normalised weight column; order and repeats are kept', () => {
    // [D = 2, C = 3] row-major: columns (3, 4), (0, −2), (1, 1).
    const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 3 }, Float32Array.from([3, 0, 1, 4, -2, 1]));
    const before = tf.memory().numTensors;
    const t = targetsFromClasses(head, [2, 0, 2, 1]);
    expect(tf.memory().numTensors).toBe(before);
    const r = Math.SQRT1_2;
    const expected = [r, r, 0.6, 0.8, r, r, 0, -1];
    Array.from(t.embeddings).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    expect(Array.from(t.classes as Int32Array)).toEqual([2, 0, 2, 1]);
    expect([t.n, t.dim, t.kind]).toEqual([4, 2, 'class']);
    expect(t.sources).toEqual([undefined, undefined, undefined, undefined]);
    head.dispose();
  });

  test('K = 2: the class centre is the normalised mean of its normalised sub-centres', () => {
    // Columns c·K + j: class 0 → (2, 0), (0, 3); class 1 → (3, 4), (0, 2).
    //   class 0: mean of (1, 0) and (0, 1) = (½, ½) → (1/√2, 1/√2)
    //   class 1: mean of (0.6, 0.8) and (0, 1) = (0.3, 0.9) → /√0.9 = (0.316228, 0.948683)
    // (Averaging the raw columns would give (0.5547, 0.8321) and (0.6, 0.8) instead.)
    const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 2, k: 2 }, Float32Array.from([2, 0, 3, 0, 0, 3, 4, 2]));
    const before = tf.memory().numTensors;
    const t = targetsFromClasses(head, [0, 1]);
    expect(tf.memory().numTensors).toBe(before);
    const expected = [Math.SQRT1_2, Math.SQRT1_2, 0.3 / Math.sqrt(0.9), 0.9 / Math.sqrt(0.9)];
    Array.from(t.embeddings).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    head.dispose();
  });

  test.each([[3], [-1], [1.5]])('class %p out of range is rejected with one line', (c) => {
    const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 3 });
    const before = tf.memory().numTensors;
    expect(() => targetsFromClasses(head, [0, c])).toThrow(
      new ArcinvertError(`class ${c} is out of range: the model has classes 0..2`),
    );
    expect(tf.memory().numTensors).toBe(before);
    head.dispose();
  });
});

describe('randomTargets', () => {
  test('unit-norm rows, reproducible from the seed, different for another seed', () => {
    const before = tf.memory().numTensors;
    const a = randomTargets(5, 16, 7);
    expect(tf.memory().numTensors).toBe(before);
    expect([a.n, a.dim, a.kind, a.embeddings.length]).toEqual([5, 16, 'random', 80]);
    for (const norm of rowNorms(a.embeddings, 16)) expect(norm).toBeCloseTo(1, 5);
    expect(a.sources).toEqual(new Array(5).fill(undefined));
    expect(randomTargets(5, 16, 7).embeddings).toEqual(a.embeddings);
    const b = randomTargets(5, 16, 8).embeddings;
    expect(b).not.toEqual(a.embeddings);
    // Distinct rows: random identities are not one identity repeated.
    const dot = a.embeddings.subarray(0, 16).reduce((s, v, i) => s + v * a.embeddings[16 + i], 0);
    expect(Math.abs(dot)).toBeLessThan(0.99);
  });
});

describe('targetsFromImages', () => {
  test('embeds the photos with the model, no flip, unit rows, photos as sources', async () => {
    const fm = tinyMobileFaceNet(4);
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const px = Buffer.from(Array.from({ length: 32 * 32 * 3 }, (_, k) => (k * (7 + 13 * i) + 31 * i) % 256));
      const file = path.join(tmp, `face${i}.png`);
      await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toFile(file);
      files.push(file);
    }
    const before = tf.memory().numTensors;
    const t = await targetsFromImages(fm, files);
    expect(tf.memory().numTensors).toBe(before);
    expect([t.n, t.dim, t.kind]).toEqual([3, 16, 'image']);
    expect(t.sources).toEqual(files);
    // Reference: the same bytes, normalised (x − 127.5)/127.5, through the model, normalised.
    const ref = tf.tidy(() => {
      const imgs = files.map((_, i) =>
        Array.from({ length: 32 * 32 * 3 }, (_v, k) => (((k * (7 + 13 * i) + 31 * i) % 256) - 127.5) / 127.5),
      );
      const e = fm.model.predict(tf.tensor4d(imgs.flat(), [3, 32, 32, 3])) as tf.Tensor2D;
      return tf.div(e, tf.norm(e, 'euclidean', 1, true)).dataSync();
    });
    Array.from(t.embeddings).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
    for (const norm of rowNorms(t.embeddings, 16)) expect(norm).toBeCloseTo(1, 5);
    fm.model.dispose();
  });
});
