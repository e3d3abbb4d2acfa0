/**
 * `invert --model A B …` (and `leakage --model A B …`): an ensemble attack end to end on two tiny
 * models and a generated face folder: templates of A reach B through a bridge, photos are
 * embedded by each model, the report records the members, and the bad combinations are refused
 * (one line, exit 2, nothing written).
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeNpy } from '../../src/io/npy.js';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { cli, type Captured } from '../helpers/cli.js';
import { calibrateBn, calibratedTinyMobileFaceNet, noiseTargets, tinyIResNet } from '../helpers/tiny.js';
import { makeFaceFolder } from '../train/faces.js';
import * as tf from '@tensorflow/tfjs';

const errorLines = (c: Captured): string[] => c.err.filter((l) => l.startsWith('arcinvert:'));
const FAST = ['--steps', '2', '--batch-size', '2', '--workers', '1', '--backend', 'wasm'];

let tmp: string;
let faces: string;
let a: string;
let b: string;
let ab: string;
let ba: string;
let emb: string;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-ensemble-'));
  faces = await makeFaceFolder(10, 6, 32);
  a = path.join(tmp, 'a');
  b = path.join(tmp, 'b');
  const fa = calibratedTinyMobileFaceNet(5);
  const fb = tinyIResNet(6);
  const x = tf.randomUniform([16, 16, 16, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  calibrateBn(fb, x);
  x.dispose();
  await saveFaceModel(fa, a);
  await saveFaceModel(fb, b);
  const t = noiseTargets(fa, 3, 9);
  emb = path.join(tmp, 'targets.npy');
  await writeNpy(emb, t.embeddings, [3, t.dim]);
  fa.model.dispose();
  fb.model.dispose();
  ab = path.join(tmp, 'ab');
  ba = path.join(tmp, 'ba');
  for (const [from, to, out] of [
    [a, b, ab],
    [b, a, ba],
  ]) {
    const r = await cli('bridge', 'fit', '--from', from, '--to', to, '--images', faces, '--n', '50', '--out', out);
    expect(errorLines(r)).toEqual([]);
  }
}, 120_000);

afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.rm(faces, { recursive: true, force: true });
});

test('templates of A through a bridge to B: the report records the member; the images are not the single-model ones', async () => {
  const out = path.join(tmp, 'ensemble');
  const r = await cli('invert', '--model', a, b, '--bridge', ab, '--embedding', emb, '--out', out, ...FAST);
  expect(errorLines(r)).toEqual([]);
  expect(r.code).toBe(0);
  const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
  expect(report.model).toBe(a);
  expect(report.members).toHaveLength(1);
  expect(report.members[0]).toMatchObject({ model: b, backbone: 'iresnet18', weight: 1, targets: { bridge: ab } });
  expect(report.members[0].modelSha256).toMatch(/^[0-9a-f]{64}$/);
  const single = path.join(tmp, 'single');
  expect((await cli('invert', '--model', a, '--embedding', emb, '--out', single, ...FAST)).code).toBe(0);
  const [e, s] = await Promise.all([out, single].map((d) => fsp.readFile(path.join(d, 't000_s0.png'))));
  expect(e.equals(s)).toBe(false);
  // Weight 0: the member adds nothing, the single-model images.
  const zero = path.join(tmp, 'zero');
  const rz = await cli(
    'invert',
    '--model',
    a,
    b,
    '--bridge',
    ab,
    '--member-weight',
    '0',
    '--embedding',
    emb,
    '--out',
    zero,
    ...FAST,
  );
  expect(rz.code).toBe(0);
  expect((await fsp.readFile(path.join(zero, 't000_s0.png'))).equals(s)).toBe(true);
}, 120_000);

test('photo targets: each model embeds the photos itself', async () => {
  const out = path.join(tmp, 'photos');
  const person = path.join(faces, (await fsp.readdir(faces)).sort()[0]);
  const r = await cli('invert', '--model', a, b, '--image', person, '--align', 'no', '--out', out, ...FAST);
  expect(errorLines(r)).toEqual([]);
  expect(r.code).toBe(0);
  const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
  expect(report.members[0].targets).toBe('photos');
}, 120_000);

test('bad ensembles: one line, exit 2, nothing written', async () => {
  const out = path.join(tmp, 'refused');
  const person = path.join(faces, (await fsp.readdir(faces)).sort()[0]);
  const cases: Array<[string[], string]> = [
    [
      ['--model', a, b, '--embedding', emb],
      `templates of the first --model reach the other 1 model(s) through bridges: give --bridge once per further --model, in the same order (arcinvert bridge fit --from ${a} --to ${b} …), got 0`,
    ],
    [
      ['--model', a, b, '--image', person, '--bridge', ab],
      '--bridge is for template targets; with photo targets each --model embeds the photos itself',
    ],
    [
      ['--model', a, b, '--class', '1'],
      "--class targets are the first model's classes: an ensemble (several --model) inverts --embedding, --image or --random targets",
    ],
    [
      ['--model', a, '--bridge', ab, '--embedding', emb],
      '--bridge maps the first --model into the others: give more than one --model',
    ],
    [['--model', a, b, '--bridge', ba, '--embedding', emb], `--bridge ${ba} maps ${b} to ${a}, not ${a} to ${b}`],
    [['--model', a, a, '--bridge', ab, '--embedding', emb], `--model ${a} is the attacked model ${a} again`],
  ];
  for (const [args, message] of cases) {
    const r = await cli('invert', ...args, '--out', out, ...FAST);
    expect([r.code, errorLines(r)]).toEqual([2, [`arcinvert: ${message}`]]);
  }
  expect(existsSync(out)).toBe(false);
}, 120_000);

test('leakage: an ensemble needs --invert, and a member is never a judge', async () => {
  const out = path.join(tmp, 'leak');
  const r1 = await cli('leakage', '--model', a, b, '--bridge', ab, '--reconstructions', tmp, '--out', out);
  expect([r1.code, errorLines(r1)]).toEqual([
    2,
    ['arcinvert: several --model make an ensemble attack, which --invert runs'],
  ]);
  const r2 = await cli(
    'leakage',
    '--model',
    a,
    b,
    '--bridge',
    ab,
    '--invert',
    '--targets',
    faces,
    '--judge',
    b,
    '--out',
    out,
  );
  expect([r2.code, errorLines(r2)]).toEqual([
    2,
    [
      `arcinvert: judge '${b}' is an ensemble member of the attack (--model ${b}): the judge is never one; leave it out of --judge or of --model`,
    ],
  ]);
  expect(existsSync(out)).toBe(false);
}, 120_000);
