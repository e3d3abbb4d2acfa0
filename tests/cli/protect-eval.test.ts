import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveFaceModel } from '../../src/model/store.js';
import { colourModel, writeColourLfw } from '../helpers/colourModel.js';
import { cli } from '../helpers/cli.js';

let dir: string;
let model: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-protect-eval-'));
  await writeColourLfw(dir); // the flat-colour pairs of tests/metrics/pairEval.test.ts
  const fm = colourModel();
  model = path.join(dir, 'model');
  await saveFaceModel(fm, model);
  fm.model.dispose();
});
afterAll(async () => fsp.rm(dir, { recursive: true, force: true }));

test('sign bits by hand: Hamming similarities give the unprotected 75 %; the table and JSON name every row', async () => {
  // Sign codes: red 100, cyan 011, green 010, blue 001. Fold 0: matched 1, 1; mismatched 1/3, 1/3.
  // Fold 1: matched 1 (C), 0 (A1–A3); mismatched 1/3, 2/3 (B1–A3). Each fold's threshold from
  // the other: fold 0 all right (1.0), fold 1 A1–A3 and B1–A3 wrong (0.5). TAR: the largest
  // mismatched score is 2/3, so the three matched pairs scoring 1 pass.
  const out = path.join(dir, 'u.json');
  const r = await cli(
    'protect-eval',
    '--model',
    model,
    '--pairs',
    path.join(dir, 'pairs.txt'),
    '--images',
    dir,
    '--scheme',
    'sign',
    'biohash:bits=2',
    '--keys',
    'shared',
    '--out',
    out,
    '--backend',
    'cpu',
  );
  expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
  expect(r.code).toBe(0);
  expect(r.out.slice(0, 4)).toEqual([
    '| scheme | keys | accuracy | TAR @ FAR 1e-2 | TAR @ FAR 1e-3 |',
    '|---|---|---|---|---|',
    '| unprotected | — | 75.00 % ± 25.00 % | 75.00 % | 75.00 % |',
    '| sign | shared | 75.00 % ± 25.00 % | 75.00 % | 75.00 % |',
  ]);
  const report = JSON.parse(await fsp.readFile(out, 'utf8'));
  expect(report.rows.map((x: { scheme: string; keys: string | null }) => [x.scheme, x.keys])).toEqual([
    ['unprotected', null],
    ['sign', 'shared'],
    ['biohash:bits=2', 'shared'],
  ]);
  const bio = report.rows[2].utility;
  expect(bio.pairs).toBe(8);
  expect(bio.accuracy).toBeGreaterThanOrEqual(0);
  expect(bio.accuracy).toBeLessThanOrEqual(1);
});

test('user keys: rows protected per identity and put back in place; noise σ = 0 gives the unprotected table row', async () => {
  const r = await cli(
    'protect-eval',
    '--model',
    model,
    '--pairs',
    path.join(dir, 'pairs.txt'),
    '--images',
    dir,
    '--scheme',
    'noise:sigma=0',
    '--keys',
    'user',
    '--backend',
    'cpu',
  );
  expect(r.code).toBe(0);
  expect(r.out[3]).toBe('| noise:sigma=0 | user | 75.00 % ± 25.00 % | 75.00 % | 75.00 % |');
});

test('bad scheme specs and output names are one line, exit 2', async () => {
  const base = [
    'protect-eval',
    '--model',
    model,
    '--pairs',
    path.join(dir, 'pairs.txt'),
    '--images',
    dir,
    '--backend',
    'cpu',
  ];
  for (const [extra, message] of [
    [['--scheme', 'rot13'], "unknown protection scheme 'rot13'"],
    [['--scheme', 'project:dim=9'], 'project: dim must be an integer in [1, 3], got 9'],
    [['--scheme', 'sign', '--out', 'x.txt'], '--out must name a .json file'],
  ] as const) {
    const r = await cli(...base, ...extra);
    expect(r.code).toBe(2);
    expect(r.err.filter((l) => l.startsWith('arcinvert:')).join('\n')).toContain(message);
  }
});
