import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { readNpy } from '../../src/io/npy.js';
import { loadFaceModel, saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';
import { cli, type Captured } from '../helpers/cli.js';

/** stderr lines other than the one-line backend announcement and progress counters. */
const errorLines = (c: Captured): string[] =>
  c.err.flatMap((l) => l.split('\n')).filter((l) => !l.startsWith('backend: ') && !l.startsWith('embedded '));

let tmp: string;
let modelDir: string;
let faces: string[];
/** Pixel bytes of each face, for the reference embeddings. */
let faceBytes: Buffer[];
let reference: Float32Array;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-ie-'));
  modelDir = path.join(tmp, 'model');
  const fm = calibratedTinyMobileFaceNet(5);
  await saveFaceModel(fm, modelDir);
  const facesDir = path.join(tmp, 'faces');
  await fsp.mkdir(facesDir);
  faces = [];
  faceBytes = [];
  for (let i = 0; i < 3; i++) {
    const px = Buffer.from(Array.from({ length: 32 * 32 * 3 }, (_, k) => (k * (5 + 2 * i) + 40 * i) % 256));
    const file = path.join(facesDir, `f${i}.png`);
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(file);
    faces.push(file);
    faceBytes.push(px);
  }
  // Reference embeddings: the model on (byte − 127.5)/127.5, L2-normalised per row.
  reference = tf.tidy(() => {
    const x = tf.tensor4d(
      faceBytes.flatMap((b) => Array.from(b, (v) => (v - 127.5) / 127.5)),
      [3, 32, 32, 3],
    );
    const e = fm.model.predict(x) as tf.Tensor2D;
    return tf.div(e, tf.norm(e, 'euclidean', 1, true)).dataSync() as Float32Array;
  });
  fm.model.dispose();
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

describe('arcinvert info', () => {
  test('prints backbone, parameter count, BN layers, input and embedding size', async () => {
    const before = tf.memory().numTensors;
    const r = await cli('info', '--model', modelDir, '--backend', 'wasm');
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    // "key:   value" lines; the column alignment is presentation, the pairs are the contract.
    const fields = Object.fromEntries(r.out.map((l) => /^([^:]+):\s+(.*)$/.exec(l)?.slice(1, 3) ?? [l, '']));
    expect(fields).toMatchObject({
      model: modelDir,
      backbone: 'mobilefacenet',
      parameters: '11,216',
      'BatchNorm layers': '23',
      'input size': '32x32 RGB, (x - 127.5) / 127.5',
      'embedding size': '16',
    });
    expect(r.err).toEqual([expect.stringMatching(/^backend: wasm/)]);
  });

  test('--json prints one parseable object', async () => {
    const r = await cli('info', '--model', modelDir, '--backend', 'wasm', '--json');
    expect(r.code).toBe(0);
    expect(r.out.length).toBe(1);
    expect(JSON.parse(r.out[0])).toMatchObject({
      backbone: 'mobilefacenet',
      parameters: 11216,
      bnLayers: 23,
      inputSize: [32, 32],
      embeddingSize: 16,
      normalization: { mean: 127.5, std: 127.5 },
    });
  });

  test('a missing model directory is exit 2 with one line', async () => {
    const missing = path.join(tmp, 'no-such-model');
    const r = await cli('info', '--model', missing, '--backend', 'wasm');
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([`arcinvert: model directory ${missing} does not exist`]);
    expect(r.out).toEqual([]);
  });

  test('a directory that is not a model is exit 2 with one line', async () => {
    const r = await cli('info', '--model', path.join(tmp, 'faces'), '--backend', 'wasm');
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([expect.stringMatching(/^arcinvert: cannot read model file .*model\.json/)]);
  });
});

describe('arcinvert embed', () => {
  test('writes an N×D .npy of unit rows equal to the model embeddings, and the file listing', async () => {
    const out = path.join(tmp, 'emb', 'targets.npy');
    const before = tf.memory().numTensors;
    const r = await cli(
      'embed',
      '--model',
      modelDir,
      '--images',
      path.join(tmp, 'faces'),
      '--out',
      out,
      '--backend',
      'wasm',
      '--batch-size',
      '2',
    );
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const listing = path.join(tmp, 'emb', 'targets.jsonl');
    expect(r.out).toEqual([`wrote ${out} (3×16 float32) and ${listing}`]);
    expect(r.err).toContain('embedded 2/3');
    expect(r.err).toContain('embedded 3/3');
    const npy = await readNpy(out);
    expect(npy.shape).toEqual([3, 16]);
    expect(npy.dtype).toBe('float32');
    for (let row = 0; row < 3; row++)
      expect(Math.hypot(...npy.data.subarray(row * 16, (row + 1) * 16))).toBeCloseTo(1, 5);
    Array.from(npy.data).forEach((v, i) => expect(v).toBeCloseTo(reference[i], 4));
    // JSON lines, one string a row, relative to the listing's folder (#18 item 10).
    const rel = (f: string): string => JSON.stringify(path.relative(path.join(tmp, 'emb'), f));
    expect(await fsp.readFile(listing, 'utf8')).toBe(faces.map((f) => `${rel(f)}\n`).join(''));
  });

  test('--flip adds the mirrored image before normalising; --labels names the listing', async () => {
    const out = path.join(tmp, 'emb', 'flip.npy');
    const labels = path.join(tmp, 'emb', 'order.txt');
    const r = await cli(
      'embed',
      '--model',
      modelDir,
      '--images',
      faces[2],
      faces[0],
      '--out',
      out,
      '--labels',
      labels,
      '--flip',
      '--backend',
      'wasm',
    );
    expect(r.code).toBe(0);
    const rel = (f: string): string => JSON.stringify(path.relative(path.dirname(labels), f));
    expect(await fsp.readFile(labels, 'utf8')).toBe(`${rel(faces[2])}\n${rel(faces[0])}\n`);
    // Reference: e(x) + e(mirror x), normalised, with the saved model itself.
    const loaded = await loadFaceModel(modelDir);
    const ref = tf.tidy(() => {
      const x = tf.tensor4d(
        [faceBytes[2], faceBytes[0]].flatMap((b) => Array.from(b, (v) => (v - 127.5) / 127.5)),
        [2, 32, 32, 3],
      );
      const e = tf.add(loaded.model.predict(x) as tf.Tensor, loaded.model.predict(tf.reverse(x, 2)) as tf.Tensor);
      return tf.div(e, tf.norm(e, 'euclidean', 1, true)).dataSync();
    });
    loaded.model.dispose();
    const npy = await readNpy(out);
    expect(npy.shape).toEqual([2, 16]);
    Array.from(npy.data).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 4));
  });

  test('--out not ending in .npy is exit 2 with one line and writes nothing', async () => {
    const out = path.join(tmp, 'emb2', 'targets.bin');
    const r = await cli('embed', '--model', modelDir, '--images', faces[0], '--out', out, '--backend', 'wasm');
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([`arcinvert: --out must name a .npy file, got '${out}'`]);
    await expect(fsp.stat(path.join(tmp, 'emb2'))).rejects.toThrow();
  });

  // The many-images policy (#18 item 2): an unreadable image is skipped and listed; only when
  // none is left is it exit 2 with one line, and nothing is written.
  test('an unreadable image is skipped and listed; none left is exit 2 with one line naming it', async () => {
    const bad = path.join(tmp, 'bad.png');
    await fsp.writeFile(bad, 'not a png');
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const out = path.join(tmp, 'emb3', 'targets.npy');
    for (const align of ['auto', 'no']) {
      const r = await cli(
        'embed',
        '--model',
        modelDir,
        '--images',
        faces[0],
        bad,
        '--out',
        out,
        '--align',
        align,
        '--backend',
        'wasm',
      );
      expect(r.code).toBe(0);
      expect(r.err).toContainEqual(
        expect.stringMatching(new RegExp(`^skipped ${esc(bad)}: cannot decode image ${esc(bad)}`)),
      );
      expect((await readNpy(out)).shape).toEqual([1, 16]);
    }
    const none = path.join(tmp, 'emb4', 'targets.npy');
    const r = await cli('embed', '--model', modelDir, '--images', bad, '--out', none, '--backend', 'wasm');
    expect(r.code).toBe(2);
    const lines = errorLines(r);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^skipped ${esc(bad)}: cannot decode image ${esc(bad)}`));
    expect(lines[1]).toMatch(
      new RegExp(`^arcinvert: none of the 1 image\\(s\\) could be used: cannot decode image ${esc(bad)}`),
    );
    await expect(fsp.stat(path.join(tmp, 'emb4'))).rejects.toThrow();
  });

  // #18 item 10: a newline in a file name gave a 5-line listing for 4 rows, and invert then
  // dropped every target photo. The listing is JSON lines: one line per row, whatever the names.
  test('a newline in a file name keeps one listing line per row, and invert finds every photo', async () => {
    const dir = path.join(tmp, 'nl');
    await fsp.mkdir(dir, { recursive: true });
    const names = ['a.png', 'evil\nname.png', 'c.png', 'd.png'].map((n) => path.join(dir, n));
    for (const n of names) await fsp.copyFile(faces[0], n);
    const out = path.join(dir, 'emb.npy');
    const r = await cli('embed', '--model', modelDir, '--images', ...names, '--out', out, '--backend', 'wasm');
    expect(r.code).toBe(0);
    const lines = (await fsp.readFile(path.join(dir, 'emb.jsonl'), 'utf8')).split('\n');
    expect(lines).toEqual(['"a.png"', '"evil\\nname.png"', '"c.png"', '"d.png"', '']);
    const { targetsFromNpy } = await import('../../src/invert/targets.js');
    expect((await targetsFromNpy(out, 16)).sources).toEqual(names);
  });

  // #18 item 8: `--embedding /dev/zero` read forever with memory growing.
  test('a device or an oversized file as --embedding is refused at once with one line', async () => {
    const r = await cli(
      'invert',
      '--model',
      modelDir,
      '--embedding',
      '/dev/zero',
      '--out',
      path.join(tmp, 'z'),
      '--backend',
      'wasm',
    );
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([
      'arcinvert: cannot read .npy file /dev/zero: it is a character device, not a regular file',
    ]);
  });

  test('a missing required flag is exit 2 with commander’s one line', async () => {
    const r = await cli('embed', '--model', modelDir, '--out', path.join(tmp, 'x.npy'));
    expect(r.code).toBe(2);
    expect(r.err.flatMap((l) => l.split('\n'))).toEqual(["error: required option '--images <paths...>' not specified"]);
  });
});
