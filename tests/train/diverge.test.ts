/** A training run whose loss goes NaN stops with one line and keeps its last good checkpoint (#18 item 3). */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { loadImageFolder, type Dataset } from '../../src/io/imageFolder.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { makeFaceFolder, TINY_TRAIN_CONFIG } from './faces.js';

let root: string;
let tmp: string;
let data: Dataset;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await makeFaceFolder(8, 4, 16);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-diverge-'));
  data = await loadImageFolder(root);
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

test('lr 1e30 from the start: stopped at step 2, no checkpoint written', async () => {
  const outDir = path.join(tmp, 'fresh');
  const before = tf.memory().numTensors;
  const config = resolveTrainConfig({ ...TINY_TRAIN_CONFIG, lr: 1e30, warmupEpochs: 0 });
  const err = await train({ config, data, outDir, maxSteps: 6 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ArcinvertError);
  expect((err as Error).message).toBe(
    'training diverged: the loss is NaN at step 2 (lr 8.4e+29); stopped, no checkpoint was written; lower the learning rate',
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(await fsp.readdir(outDir)).not.toContain('checkpoint.json');
});

test('a run that diverges after a good checkpoint keeps it, names it, and writes no bad one', async () => {
  const outDir = path.join(tmp, 'resumed');
  await train({ config: TINY_TRAIN_CONFIG, data, outDir, maxSteps: 2 });
  // The resumed run trains on with its checkpoint's config: make that lr absurd.
  const stateFile = path.join(outDir, 'checkpoints', 'step-00000002', 'state.json');
  const state = JSON.parse(await fsp.readFile(stateFile, 'utf8'));
  state.config.lr = 1e30;
  await fsp.writeFile(stateFile, JSON.stringify(state));
  const good = path.join(outDir, 'checkpoints', 'step-00000002');
  // A clock that jumps an hour per reading makes a checkpoint due after every step.
  let t = 0;
  const now = (): number => (t += 3_600_000);
  const before = tf.memory().numTensors;
  const err = await train({ config: TINY_TRAIN_CONFIG, data, outDir, resumeFrom: outDir, maxSteps: 8, now }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArcinvertError);
  expect((err as Error).message).toMatch(
    /^training diverged: (the loss is NaN at step \d|the model embeds a probe image to (NaN|-?Infinity) after step \d)/,
  );
  expect((err as Error).message).toMatch(
    new RegExp(
      `; stopped, the last good checkpoint is ${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(step 2\\); lower the learning rate$`,
    ),
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(JSON.parse(await fsp.readFile(path.join(outDir, 'checkpoint.json'), 'utf8'))).toEqual({
    path: 'checkpoints/step-00000002',
    step: 2,
  });
  expect(await fsp.readdir(path.join(outDir, 'checkpoints'))).toEqual(['step-00000002']);
  const c = await loadCheckpoint(outDir);
  expect(c.state.step).toBe(2);
  c.fm.model.dispose();
  c.head.dispose();
  tf.dispose(c.buffers);
});
