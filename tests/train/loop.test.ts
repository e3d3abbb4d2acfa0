import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradKernels } from '../../src/engine/wasmGradKernels.js';
import { ArcinvertError } from '../../src/errors.js';
import { loadCheckpoint, loadTrainedModel } from '../../src/train/checkpoint.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { loadImageFolder, type Dataset } from '../../src/io/imageFolder.js';
import { selectIdentities, train } from '../../src/train/loop.js';
import { fileURLToPath } from 'node:url';
import { makeFaceFolder, TINY_TRAIN_CONFIG } from './faces.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = path.resolve(repoRoot, '../shared/data');
const HAVE_DATA = existsSync(path.join(DATA, 'train'));
if (!HAVE_DATA) console.warn(`skipping the real-data training test: ${DATA} is absent`);

let root: string;
let tmp: string;
let data: Dataset;
beforeAll(async () => {
  registerWasmGradKernels();
  await tf.setBackend('wasm');
  root = await makeFaceFolder(8, 4, 16); // 8 identities × 4 images; 2 held out → 24 training images
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-train-'));
  data = await loadImageFolder(root);
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** 6 steps per epoch (24 images / 4), 2 epochs. */
const config: TrainConfig = TINY_TRAIN_CONFIG;

test('training lowers the loss; SIGINT-style abort writes a checkpoint', async () => {
  const out = path.join(tmp, 'abort');
  const ctrl = new AbortController();
  const losses: number[] = [];
  // A softer margin than ArcFace's s = 64, m = 0.5, so 18 steps of a tiny model show progress.
  const before = tf.memory().numTensors;
  const res = await train(
    { config: { ...config, epochs: 4, lr: 0.1, margin: { s: 16, m1: 1, m2: 0.2, m3: 0 } }, data, outDir: out },
    {
      onStep: (s) => {
        losses.push(s.loss);
        if (s.step === 18) ctrl.abort();
      },
      signal: ctrl.signal,
    },
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(res.aborted).toBe(true);
  expect(res.steps).toBe(18);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(losses.slice(-6))).toBeLessThan(mean(losses.slice(0, 6)));
  const trained = await loadTrainedModel(out); // best/ from the epoch ends
  expect(trained.classNames).toHaveLength(6);
  expect(trained.head.config.k).toBe(3);
  trained.fm.model.dispose();
  trained.head.dispose();
  const c = await loadCheckpoint(out);
  expect(c.state.step).toBe(18);
  c.fm.model.dispose();
  c.head.dispose();
  tf.dispose(c.buffers);
});

test('periodic checkpoints follow the clock', async () => {
  const out = path.join(tmp, 'clock');
  let t = 0;
  const messages: string[] = [];
  // Each clock read advances 20 s; with checkpoints every 1 min several land during 6 steps.
  await train(
    {
      config: { ...config, checkpointEveryMinutes: 1, valFraction: 0 },
      data,
      outDir: out,
      maxSteps: 6,
      now: () => (t += 20_000),
    },
    { onMessage: (m) => messages.push(m) },
  );
  const saved = messages.filter((m) => m.startsWith('checkpoint step')).length;
  expect(saved).toBeGreaterThan(2);
  expect(existsSync(path.join(out, 'best'))).toBe(false); // no validation identities
});

test('bad data is rejected with one line', () => {
  const one: Dataset = {
    classNames: ['a', 'b'],
    items: [
      { path: 'x', label: 0 },
      { path: 'y', label: 0 },
      { path: 'z', label: 1 },
    ],
  };
  expect(() => selectIdentities(one, 0)).toThrow(/identity 'b' has 1 image/);
  expect(selectIdentities(data, 3).classNames).toEqual(['id00', 'id01', 'id02']);
  expect(() => selectIdentities(data, 1)).toThrow(ArcinvertError);
});

test('a corrupt image is skipped, counted and training goes on', async () => {
  const small = await makeFaceFolder(4, 3, 16);
  await fsp.writeFile(path.join(small, 'id01', 'zz.png'), 'not a png');
  try {
    const res = await train({
      config: { ...config, valFraction: 0, epochs: 1 },
      data: await loadImageFolder(small),
      outDir: path.join(tmp, 'corrupt'),
    });
    expect(res.skipped.map((s) => path.basename(s.path))).toEqual(['zz.png']);
    expect(res.steps).toBe(3); // 13 files / 4 → 3 batches, one of them an image short
  } finally {
    await fsp.rm(small, { recursive: true, force: true });
  }
});

test('micro-batches: gradients summed over chunks, training still lowers the loss', async () => {
  const losses: number[] = [];
  const before = tf.memory().numTensors;
  await train(
    {
      config: {
        ...config,
        epochs: 3,
        lr: 0.1,
        microBatch: 2,
        valFraction: 0,
        margin: { s: 16, m1: 1, m2: 0.2, m3: 0 },
      },
      data,
      outDir: path.join(tmp, 'micro'),
    },
    { onStep: (s) => losses.push(s.loss) },
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(losses).toHaveLength(24); // 32 images, no validation → 8 steps per epoch
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(losses.slice(-8))).toBeLessThan(mean(losses.slice(0, 8)));
  expect(() => resolveTrainConfig({ batchSize: 4, microBatch: 8 })).toThrow(ArcinvertError);
  expect(() => resolveTrainConfig({ microBatch: 1 })).toThrow(ArcinvertError);
});

(HAVE_DATA ? test : test.skip)('real aligned faces: 2 steps on the first 10 identities, resized to 16×16', async () => {
  const real = await loadImageFolder(path.join(DATA, 'train'));
  const steps: number[] = [];
  const res = await train(
    {
      config: { ...config, maxClasses: 10, valFraction: 0.2, batchSize: 8 },
      data: real,
      outDir: path.join(tmp, 'real'),
      maxSteps: 2,
    },
    { onStep: (s) => steps.push(s.loss) },
  );
  expect(res.steps).toBe(2);
  expect(steps.every(Number.isFinite)).toBe(true);
  const c = await loadCheckpoint(path.join(tmp, 'real'));
  expect(c.state.classNames).toHaveLength(8);
  expect(c.state.valClassNames).toHaveLength(2);
  expect(c.state.classNames.every((n) => real.classNames.slice(0, 10).includes(n))).toBe(true);
  c.fm.model.dispose();
  c.head.dispose();
  tf.dispose(c.buffers);
});
