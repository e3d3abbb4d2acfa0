/**
 * `invert` whose loss goes non-finite (#18 item 3): the best finite images so far are written,
 * then one line names the batch and step, exit 2.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveFaceModel } from '../../src/model/store.js';
import { writeNpy } from '../../src/io/npy.js';
import { useWasm } from '../helpers/backend.js';
import { cli } from '../helpers/cli.js';
import { calibratedTinyMobileFaceNet, noiseTargets } from '../helpers/tiny.js';

let tmp: string;
let modelDir: string;
let embNpy: string;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-invdiv-'));
  const fm = calibratedTinyMobileFaceNet(6);
  modelDir = path.join(tmp, 'model');
  await saveFaceModel(fm, modelDir);
  const t = noiseTargets(fm, 2, 5);
  embNpy = path.join(tmp, 'targets.npy');
  await writeNpy(embNpy, t.embeddings, [2, t.dim]);
  fm.model.dispose();
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

test('weights that overflow the loss: exit 2 naming batch and step, best images and report written', async () => {
  const config = path.join(tmp, 'overflow.json');
  await fsp.writeFile(config, JSON.stringify({ identityWeight: 3e38, bnWeight: 3e38 }));
  const out = path.join(tmp, 'out');
  const r = await cli(
    'invert',
    '--model',
    modelDir,
    '--embedding',
    embNpy,
    '--out',
    out,
    '--config',
    config,
    '--steps',
    '3',
    '--batch-size',
    '1',
    '--workers',
    '1',
    '--backend',
    'wasm',
  );
  expect(r.code).toBe(2);
  const errors = r.err.filter((l) => l.startsWith('arcinvert:'));
  expect(errors).toEqual([
    `arcinvert: inversion diverged: the loss is Infinity at step 1 of batch 1; stopped, wrote the best finite images so far to ${out}; lower --lr or the loss weights`,
  ]);
  const files = (await fsp.readdir(out)).sort();
  expect(files).toContain('report.json');
  expect(files).toContain('sheet.png');
  // Batch 1 diverged at its first step (its starting image is written); batch 2 never started.
  expect(files.filter((f) => f.endsWith('.png') && f !== 'sheet.png')).toEqual(['t000_s0.png']);
});
