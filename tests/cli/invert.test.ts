import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { writeNpy } from '../../src/io/npy.js';
import { saveFaceModel } from '../../src/model/store.js';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { saveHeadWeights } from '../../src/model/headWeights.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';
import { cli, type Captured } from '../helpers/cli.js';

/** stderr lines that are not the `backend: …` status line (split, in case one call holds two). */
const errorLines = (c: Captured): string[] =>
  c.err.flatMap((l) => l.split('\n')).filter((l) => !l.startsWith('backend: '));

let tmp: string;
let modelDir: string;
let headModelDir: string;
let embNpy: string;
let faces: string[];

/**
 * The fast settings every run here uses (the tiny net is not shift or mirror invariant), at the
 * tiny net's 32 px (the default canvas is 128 px).
 */
const DEFAULT_CANVAS = ['--steps', '3', '--batch-size', '2', '--jitter', '0', '--no-flip', '--backend', 'wasm'];
const FAST = [...DEFAULT_CANVAS, '--output-size', '0'];

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-invert-'));
  const fm = calibratedTinyMobileFaceNet(6);
  modelDir = path.join(tmp, 'model');
  await saveFaceModel(fm, modelDir);
  headModelDir = path.join(tmp, 'model-head');
  await saveFaceModel(fm, headModelDir);
  const head = new ArcFaceHead({ embeddingDim: 16, numClasses: 3, seed: 4 });
  await saveHeadWeights(head, path.join(headModelDir, 'head'));
  head.dispose();

  // Two target photos and their embeddings (as `arcinvert embed` would write them).
  faces = [];
  const pixels: number[] = [];
  for (let i = 0; i < 2; i++) {
    const px = Buffer.from(Array.from({ length: 32 * 32 * 3 }, (_, k) => (k * (3 + 4 * i) + 17 * i) % 256));
    const file = path.join(tmp, `face${i}.png`);
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(file);
    faces.push(file);
    pixels.push(...Array.from(px, (v) => (v - 127.5) / 127.5));
  }
  const emb = tf.tidy(
    () => (fm.model.predict(tf.tensor4d(pixels, [2, 32, 32, 3])) as tf.Tensor).dataSync() as Float32Array,
  );
  embNpy = path.join(tmp, 'targets.npy');
  await writeNpy(embNpy, emb, [2, 16]);
  await fsp.writeFile(path.join(tmp, 'targets.txt'), `${faces.join('\n')}\n`);
  fm.model.dispose();
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

let outCount = 0;
/** A fresh, not yet existing --out inside its own parent, so "nothing written" is checkable. */
async function freshOut(): Promise<{ parent: string; out: string }> {
  const parent = path.join(tmp, `run${outCount++}`);
  await fsp.mkdir(parent);
  return { parent, out: path.join(parent, 'out') };
}

async function decode(file: string): Promise<{ width: number; height: number }> {
  const m = await sharp(file).metadata();
  return { width: m.width as number, height: m.height as number };
}

describe('successful runs', () => {
  test('--embedding: exit 0, one PNG per target, sheet.png and report.json; no tensors leak', async () => {
    const { parent, out } = await freshOut();
    const before = tf.memory().numTensors;
    const r = await cli('invert', '--model', modelDir, '--embedding', embNpy, '--out', out, ...DEFAULT_CANVAS);
    expect(errorLines(r).filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    expect((await fsp.readdir(out)).sort()).toEqual(['report.json', 'sheet.png', 't000_s0.png', 't001_s0.png']);
    expect(await fsp.readdir(parent)).toEqual(['out']); // the staging directory is gone
    // The default canvas: 128 px, shrunk to the tiny net's 32 px for the network.
    expect(await decode(path.join(out, 't001_s0.png'))).toEqual({ width: 128, height: 128 });
    const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.format).toBe('arcinvert-invert-report/1');
    expect(report.backbone).toBe('mobilefacenet');
    expect(report.model).toBe(modelDir);
    expect(report.backend).toMatch(/^wasm/);
    expect(report.config).toMatchObject({
      steps: 3,
      batchSize: 2,
      minBatch: 2,
      jitter: 0,
      flip: false,
      seeds: 1,
      outputSize: 128,
    });
    expect(report.targets).toEqual([
      { index: 0, kind: 'embedding', source: faces[0], class: null },
      { index: 1, kind: 'embedding', source: faces[1], class: null },
    ]);
    expect(report.images.map((i: { file: string; steps: number }) => [i.file, i.steps])).toEqual([
      ['t000_s0.png', 3],
      ['t001_s0.png', 3],
    ]);
    for (const im of report.images) {
      expect(im.bestCosine).toBeGreaterThanOrEqual(-1);
      expect(im.bestCosine).toBeLessThanOrEqual(1);
    }
    expect(r.out).toEqual([
      expect.stringMatching(
        new RegExp(
          `^wrote 2 image\\(s\\), sheet.png and report.json to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: best cosine mean`,
        ),
      ),
    ]);
    // The sheet has a photo column: 2 rows × (photo + 1 seed), tiles at the 128-px output size.
    const sheet = await decode(path.join(out, 'sheet.png'));
    expect(sheet.width).toBe(4 + 2 * (128 + 4));
  });

  test('--random 2 --seeds 2 gives 4 images', async () => {
    const { out } = await freshOut();
    const r = await cli('invert', '--model', modelDir, '--random', '2', '--seeds', '2', '--out', out, ...FAST);
    expect(r.code).toBe(0);
    expect((await fsp.readdir(out)).sort()).toEqual([
      'report.json',
      'sheet.png',
      't000_s0.png',
      't000_s1.png',
      't001_s0.png',
      't001_s1.png',
    ]);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.summary.images).toBe(4);
    // Two batches ran on two worker threads; one thread gives the very same images.
    const serial = await freshOut();
    expect(
      (
        await cli(
          'invert',
          '--model',
          modelDir,
          '--random',
          '2',
          '--seeds',
          '2',
          '--out',
          serial.out,
          ...FAST,
          '--workers',
          '1',
        )
      ).code,
    ).toBe(0);
    for (const f of ['t000_s0.png', 't001_s1.png']) {
      expect(await fsp.readFile(path.join(serial.out, f))).toEqual(await fsp.readFile(path.join(out, f)));
    }
    expect(report.targets.map((t: { kind: string }) => t.kind)).toEqual(['random', 'random']);
  });

  test('--class with a saved classifier and the arcface identity loss; --overwrite replaces a non-empty --out', async () => {
    const { parent, out } = await freshOut();
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'old.txt'), 'old');
    const r = await cli(
      'invert',
      '--model',
      headModelDir,
      '--class',
      '2',
      '0',
      '--identity-loss',
      'arcface',
      '--out',
      out,
      '--overwrite',
      ...FAST,
    );
    expect(errorLines(r).filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    expect((await fsp.readdir(out)).sort()).toEqual(['report.json', 'sheet.png', 't000_s0.png', 't001_s0.png']);
    expect(await fsp.readdir(parent)).toEqual(['out']);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.targets.map((t: { class: number }) => t.class)).toEqual([2, 0]);
    expect(report.config.identityLoss).toBe('arcface');
  });

  test('--image embeds the photos as targets and shows them on the sheet', async () => {
    const { out } = await freshOut();
    const r = await cli('invert', '--model', modelDir, '--image', faces[1], '--out', out, ...FAST);
    expect(r.code).toBe(0);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.targets).toEqual([{ index: 0, kind: 'image', source: faces[1], class: null }]);
    expect((await decode(path.join(out, 'sheet.png'))).width).toBe(4 + 2 * (32 + 4));
  });

  // The photo paths of `<file>.txt` are used as `arcinvert embed` wrote them (relative to the cwd
  // of that run). A listed photo that cannot be read when the sheet is drawn (another cwd, photo
  // moved) leaves its sheet cell blank; the finished inversion is still written.
  test('a listed photo that no longer exists does not discard the finished run', async () => {
    const { out } = await freshOut();
    const npy = path.join(tmp, 'moved.npy');
    await fsp.copyFile(embNpy, npy);
    await fsp.writeFile(path.join(tmp, 'moved.txt'), 'faces/moved-away-0.png\nfaces/moved-away-1.png\n');
    const r = await cli('invert', '--model', modelDir, '--embedding', npy, '--out', out, ...FAST);
    expect(errorLines(r).filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    expect((await fsp.readdir(out)).sort()).toEqual(['report.json', 'sheet.png', 't000_s0.png', 't001_s0.png']);
  });

  test('--config sets keys and flags override it', async () => {
    const { out } = await freshOut();
    const cfg = path.join(tmp, 'cfg.json');
    await fsp.writeFile(cfg, JSON.stringify({ steps: 50, tvL2Weight: 0.5, seed: 3 }));
    const r = await cli('invert', '--model', modelDir, '--random', '1', '--config', cfg, '--out', out, ...FAST);
    expect(r.code).toBe(0);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.config).toMatchObject({ steps: 3, tvL2Weight: 0.5, seed: 3 });
  });

  test('multi-resolution is off by default, on from --config, and --no-multi-resolution wins over --config', async () => {
    const cfg = path.join(tmp, 'cfg-mr.json');
    await fsp.writeFile(cfg, JSON.stringify({ multiResolution: true, parametrisation: 'pixel', colour: 'rgb' }));
    const runs = [[], ['--config', cfg], ['--config', cfg, '--no-multi-resolution']];
    const flags: boolean[] = [];
    for (const extra of runs) {
      const o = await freshOut();
      expect((await cli('invert', '--model', modelDir, '--random', '1', ...extra, '--out', o.out, ...FAST)).code).toBe(
        0,
      );
      flags.push(JSON.parse(await fsp.readFile(path.join(o.out, 'report.json'), 'utf8')).config.multiResolution);
    }
    expect(flags).toEqual([false, true, false]);
  });
});

describe('bad input: exit 2, one error line, nothing written', () => {
  const CASES: Array<[string, (out: string) => string[], RegExp]> = [
    ['no target flag', (out) => ['--model', modelDir, '--out', out], /^arcinvert: give exactly one target source/],
    [
      'two target flags',
      (out) => ['--model', modelDir, '--embedding', embNpy, '--random', '2', '--out', out],
      /^arcinvert: give exactly one target source/,
    ],
    [
      '--steps 0',
      (out) => ['--model', modelDir, '--random', '1', '--out', out, '--steps', '0'],
      /^arcinvert: --steps must be a positive integer, got '0'$/,
    ],
    [
      '--steps abc',
      (out) => ['--model', modelDir, '--random', '1', '--out', out, '--steps', 'abc'],
      /^arcinvert: --steps must be a positive integer, got 'abc'$/,
    ],
    [
      '--random 0',
      (out) => ['--model', modelDir, '--random', '0', '--out', out],
      /^arcinvert: --random must be a positive integer, got '0'$/,
    ],
    ['--class -1', (out) => ['--model', headModelDir, '--class', '-1', '--out', out], /./],
    [
      '--class out of range',
      (out) => ['--model', headModelDir, '--class', '3', '--out', out],
      /^arcinvert: class 3 is out of range: the model has classes 0\.\.2$/,
    ],
    [
      'a .npy of the wrong dimension',
      (out) => ['--model', modelDir, '--embedding', path.join(tmp, 'dim8.npy'), '--out', out],
      /has dimension 8 but the model's embedding size is 16$/,
    ],
    [
      'a .npy with NaN',
      (out) => ['--model', modelDir, '--embedding', path.join(tmp, 'nan.npy'), '--out', out],
      /row 0 \(0-based\) has a non-finite value \(NaN\) at column 3$/,
    ],
    [
      'a missing .npy',
      (out) => ['--model', modelDir, '--embedding', path.join(tmp, 'absent.npy'), '--out', out],
      /^arcinvert: cannot read \.npy file .*absent\.npy/,
    ],
    [
      'a missing model dir',
      (out) => ['--model', path.join(tmp, 'no-model'), '--random', '1', '--out', out],
      /^arcinvert: model directory .*no-model does not exist$/,
    ],
    [
      '--class on a model without head',
      (out) => ['--model', modelDir, '--class', '0', '--out', out],
      /^arcinvert: --class needs the model's classifier/,
    ],
    [
      'unknown flag',
      (out) => ['--model', modelDir, '--random', '1', '--out', out, '--bogus'],
      /^error: unknown option '--bogus'$/,
    ],
    [
      'invalid --bn-form',
      (out) => ['--model', modelDir, '--random', '1', '--out', out, '--bn-form', 'l1'],
      /^error: option '--bn-form <form>' argument 'l1' is invalid/,
    ],
    [
      'a --config with an unknown key',
      (out) => ['--model', modelDir, '--random', '1', '--out', out, '--config', path.join(tmp, 'badkey.json')],
      /^arcinvert: invert config: unknown key 'stpes'$/,
    ],
    [
      'a --config that is not JSON',
      (out) => ['--model', modelDir, '--random', '1', '--out', out, '--config', path.join(tmp, 'broken.json')],
      /^arcinvert: --config .*broken\.json is not valid JSON$/,
    ],
  ];

  beforeAll(async () => {
    await writeNpy(
      path.join(tmp, 'dim8.npy'),
      Float32Array.from({ length: 16 }, (_, i) => i + 1),
      [2, 8],
    );
    await writeNpy(
      path.join(tmp, 'nan.npy'),
      Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? NaN : 1)),
      [1, 16],
    );
    await fsp.writeFile(path.join(tmp, 'badkey.json'), JSON.stringify({ stpes: 3 }));
    await fsp.writeFile(path.join(tmp, 'broken.json'), '{ steps: 3');
  });

  test.each(CASES)('%s', async (_name, args, message) => {
    const { parent, out } = await freshOut();
    const before = tf.memory().numTensors;
    const r = await cli('invert', ...args(out), '--backend', 'wasm');
    expect(r.code).toBe(2);
    const lines = errorLines(r);
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(message);
    expect(r.out).toEqual([]);
    expect(await fsp.readdir(parent)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the arcface identity loss without --class is refused before anything is loaded; nothing is written', async () => {
    const { parent, out } = await freshOut();
    const r = await cli(
      'invert',
      '--model',
      headModelDir,
      '--random',
      '1',
      '--identity-loss',
      'arcface',
      '--out',
      out,
      ...FAST,
    );
    expect(r.code).toBe(2);
    const lines = errorLines(r);
    expect(lines.filter((l) => l.startsWith('arcinvert:'))).toEqual([
      'arcinvert: --identity-loss arcface needs class targets (--class)',
    ]);
    expect(lines[lines.length - 1]).toMatch(/^arcinvert: /);
    expect(await fsp.readdir(parent)).toEqual([]);
  });

  test('a non-empty --out without --overwrite is refused and left untouched', async () => {
    const { parent, out } = await freshOut();
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'keep.txt'), 'keep');
    const r = await cli('invert', '--model', modelDir, '--random', '1', '--out', out, ...FAST);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([`arcinvert: --out ${out} exists and is not empty (use --overwrite to replace it)`]);
    expect(await fsp.readdir(parent)).toEqual(['out']);
    expect(await fsp.readdir(out)).toEqual(['keep.txt']);
  });

  // (Never run these against a build without the check: --overwrite of the working directory
  // would replace it.)
  test.each([
    ['. with --overwrite', () => '.', ['--overwrite']],
    ['the working directory', () => process.cwd(), []],
    ['a name too long for the staging suffix', (parent: string) => path.join(parent, 'x'.repeat(241)), []],
  ])('--out %s is refused before any work, exit 2', async (_name, outOf, extra) => {
    const { parent } = await freshOut();
    const out = outOf(parent);
    const cwdBefore = await fsp.readdir('.');
    const r = await cli('invert', '--model', modelDir, '--random', '1', '--out', out, ...extra, ...FAST);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([expect.stringMatching(new RegExp(`^arcinvert: --out .* cannot be used: `))]);
    expect(r.err.some((l) => l.startsWith('inverting'))).toBe(false);
    expect(await fsp.readdir('.')).toEqual(cwdBefore);
    expect(await fsp.readdir(parent)).toEqual([]);
  });

  test('--overwrite of an --out that holds the --embedding is refused; the .npy is kept', async () => {
    const { out } = await freshOut();
    await fsp.mkdir(out);
    const vec = path.join(out, 'vec.npy');
    await fsp.copyFile(embNpy, vec);
    const r = await cli('invert', '--model', modelDir, '--embedding', vec, '--out', out, '--overwrite', ...FAST);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([
      `arcinvert: --out ${out} contains --embedding ${vec}, which --overwrite would delete: choose another --out`,
    ]);
    expect(await fsp.readFile(vec)).toEqual(await fsp.readFile(embNpy));
  });
});
