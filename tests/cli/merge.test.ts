/**
 * Sharded inversion end to end: `invert --shard i/n` slices, `merge` joins them, and the result
 * is the single run's, byte for byte; merge refuses what is not one run's complete set of shards.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeNpy } from '../../src/io/npy.js';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet, noiseTargets } from '../helpers/tiny.js';
import { cli, type Captured } from '../helpers/cli.js';

let tmp: string;
let modelDir: string;
let embNpy: string;
// 3 targets × 2 seeds in batches of 2: 3 batches.
const FAST = [
  '--steps',
  '3',
  '--batch-size',
  '2',
  '--seeds',
  '2',
  '--jitter',
  '0',
  '--no-flip',
  '--backend',
  'wasm',
  '--workers',
  '1',
];

const oneLine = (r: Captured): string => r.err.filter((l) => l.startsWith('arcinvert:')).join('\n');

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-merge-'));
  const fm = calibratedTinyMobileFaceNet(6);
  modelDir = path.join(tmp, 'model');
  await saveFaceModel(fm, modelDir);
  const t = noiseTargets(fm, 3, 2);
  embNpy = path.join(tmp, 'targets.npy');
  await writeNpy(embNpy, t.embeddings, [3, t.dim]);
  fm.model.dispose();
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

const invert = (out: string, ...extra: string[]): Promise<Captured> =>
  cli('invert', '--model', modelDir, '--embedding', embNpy, '--out', path.join(tmp, out), ...FAST, ...extra);

test('shards 0/2 and 1/2 merged give the single run: the same PNG bytes and cosines; the report names its shards', async () => {
  const before = tf.memory().numTensors;
  expect((await invert('single')).code).toBe(0);
  const s0 = await invert('shard0', '--shard', '0/2');
  const s1 = await invert('shard1', '--shard', '1/2');
  expect([s0.code, s1.code]).toEqual([0, 0]);
  expect(s0.err).toContainEqual('shard 0/2 (flag): batches 0–0 of 3');
  expect(s1.err).toContainEqual('shard 1/2 (flag): batches 1–2 of 3');
  expect((await fsp.readdir(path.join(tmp, 'shard0'))).sort()).toEqual([
    'report.json',
    'sheet.png',
    't000_s0.png',
    't000_s1.png',
  ]);
  const r0 = JSON.parse(await fsp.readFile(path.join(tmp, 'shard0', 'report.json'), 'utf8'));
  expect(r0.shard).toEqual({ index: 0, count: 2, from: 'flag', batches: [0], plannedBatches: 3 });

  expect(tf.memory().numTensors).toBe(before);
  const m = await cli('merge', '--out', path.join(tmp, 'merged'), path.join(tmp, 'shard1'), path.join(tmp, 'shard0'));
  expect(oneLine(m)).toBe('');
  expect(m.code).toBe(0);
  expect(m.out).toEqual([`merged 2 shards, 6 image(s), into ${path.join(tmp, 'merged')}`]);
  const single = JSON.parse(await fsp.readFile(path.join(tmp, 'single', 'report.json'), 'utf8'));
  const merged = JSON.parse(await fsp.readFile(path.join(tmp, 'merged', 'report.json'), 'utf8'));
  expect(merged.images.map((i: { file: string }) => i.file)).toEqual(
    single.images.map((i: { file: string }) => i.file),
  );
  expect(merged.images.map((i: { bestCosine: number }) => i.bestCosine)).toEqual(
    single.images.map((i: { bestCosine: number }) => i.bestCosine),
  );
  expect(merged.targetsSha256).toBe(single.targetsSha256);
  expect(merged.shards.map((s: { index: number; batches: number[] }) => [s.index, s.batches])).toEqual([
    [0, [0]],
    [1, [1, 2]],
  ]);
  expect(merged.summary.meanBestCosine).toBeCloseTo(single.summary.meanBestCosine, 12);
  for (const im of single.images) {
    const a = await fsp.readFile(path.join(tmp, 'single', im.file));
    const b = await fsp.readFile(path.join(tmp, 'merged', im.file));
    expect(b.equals(a)).toBe(true);
  }
  expect((await fsp.readdir(path.join(tmp, 'merged'))).filter((f) => !f.startsWith('t'))).toEqual([
    'report.json',
    'sheet.png',
  ]);
}, 120_000);

test('merge refuses missing, overlapping, foreign and unsharded outputs with one line and exit 2, writing nothing', async () => {
  await invert('a0', '--shard', '0/3');
  await invert('a1', '--shard', '1/3');
  await invert('b2', '--shard', '2/3', '--steps', '4');
  // Shard 2 as a run stopped by a signal leaves it, and one whose report names a file outside it.
  await invert('a2', '--shard', '2/3');
  for (const [name, edit] of [
    ['stopped', (r: { aborted: boolean }) => (r.aborted = true)],
    ['escaping', (r: { images: Array<{ file: string }> }) => (r.images[0].file = `../${r.images[0].file}`)],
    ['parts', (r: { batchParts?: number }) => (r.batchParts = 2)],
  ] as const) {
    await fsp.cp(path.join(tmp, 'a2'), path.join(tmp, name), { recursive: true });
    const file = path.join(tmp, name, 'report.json');
    const report = JSON.parse(await fsp.readFile(file, 'utf8'));
    edit(report);
    await fsp.writeFile(file, JSON.stringify(report));
  }
  const dup = path.join(tmp, 'a1-copy');
  await fsp.cp(path.join(tmp, 'a1'), dup, { recursive: true });
  const cases: Array<[string[], string]> = [
    [['a0', 'a1'], 'missing shard(s) 2 of 3: every index 0–2 is needed'],
    [['a0', 'a1', 'a1-copy'], 'are both shard 1/3'],
    [['a0', 'a1', 'b2'], 'are not shards of one run: their inversion configs differ'],
    [['a0', 'single'], 'is not a shard: its report.json has no shard'],
    [['a0', 'nowhere'], 'holds no report.json'],
    [['a0', 'a1', 'stopped'], 'shard 2/3 was stopped early; run it again before merging'],
    [['a0', 'a1', 'escaping'], "report.json lists '../t002_s0.png' for target 2, seed 0"],
    [['a0', 'a1', 'parts'], 'their batch parts (--workers with fewer batches than workers) differ'],
  ];
  for (const [dirs, message] of cases) {
    const out = path.join(tmp, 'refused');
    const r = await cli('merge', '--out', out, ...dirs.map((d) => path.join(tmp, d)));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toContain(message);
    expect(oneLine(r).split('\n')).toHaveLength(1);
    await expect(fsp.access(out)).rejects.toThrow();
  }
}, 120_000);

test('--shard auto/n reads the scheduler index; bad shard flags are one line, exit 2', async () => {
  process.env.JOB_COMPLETION_INDEX = '1';
  try {
    const r = await invert('k8s', '--shard', 'auto/2');
    expect(r.code).toBe(0);
    expect(r.err).toContainEqual('shard 1/2 (JOB_COMPLETION_INDEX): batches 1–2 of 3');
  } finally {
    delete process.env.JOB_COMPLETION_INDEX;
  }
  const bad = await invert('bad', '--shard', '2/2');
  expect(bad.code).toBe(2);
  expect(oneLine(bad)).toBe('arcinvert: --shard 2/2: the index must be in [0, 1]');
  const leak = await cli(
    'leakage',
    '--model',
    modelDir,
    '--reconstructions',
    path.join(tmp, 'single'),
    '--shard',
    '0/2',
    '--out',
    path.join(tmp, 'l'),
  );
  expect(leak.code).toBe(2);
  expect(oneLine(leak)).toBe('arcinvert: --shard is for --invert (it slices the inversion)');
}, 120_000);

test("shards run on two worker threads give the single run's images too", async () => {
  const w0 = await invert('w0', '--shard', '0/1', '--workers', '2');
  expect(w0.code).toBe(0);
  const single = JSON.parse(await fsp.readFile(path.join(tmp, 'single', 'report.json'), 'utf8'));
  for (const im of single.images) {
    const a = await fsp.readFile(path.join(tmp, 'single', im.file));
    const b = await fsp.readFile(path.join(tmp, 'w0', im.file));
    expect(b.equals(a)).toBe(true);
  }
}, 120_000);
