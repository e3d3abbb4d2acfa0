import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildBackbone } from '../../src/model/build.js';
import { registerWasmGradKernels } from '../../src/engine/wasmGradKernels.js';
import { ArcinvertError } from '../../src/errors.js';
import { loadHeadWeights } from '../../src/model/headWeights.js';
import { saveFaceModel } from '../../src/model/store.js';
import { loadInitialWeights } from '../../src/train/init.js';
import { loadCheckpoint, findCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { loadImageFolder, type Dataset } from '../../src/io/imageFolder.js';
import { train } from '../../src/train/loop.js';
import { makeFaceFolder, TINY_IRESNET, TINY_TRAIN_CONFIG } from './faces.js';

let root: string;
let tmp: string;
let data: Dataset;
/** A checkpoint of a 5-step run: model, head (K 3) and classes. */
let saved: string;
let classNames: string[];

beforeAll(async () => {
  registerWasmGradKernels();
  await tf.setBackend('wasm');
  root = await makeFaceFolder(8, 4, 16);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-init-'));
  data = await loadImageFolder(root);
  await train({ config: TINY_TRAIN_CONFIG, data, outDir: path.join(tmp, 'first'), maxSteps: 5 });
  saved = await findCheckpoint(path.join(tmp, 'first'));
  classNames = (JSON.parse(await fsp.readFile(path.join(saved, 'classes.json'), 'utf8')) as { classNames: string[] })
    .classNames;
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

const build = (seed: number, overrides: object = {}) =>
  buildBackbone('iresnet18', { ...TINY_IRESNET, seed, ...overrides });

test('the backbone gets every saved weight, BN statistics included; the head is reused when it fits', async () => {
  const ckpt = await loadCheckpoint(saved);
  const fm = build(99);
  const before = tf.memory().numTensors;
  const init = await loadInitialWeights(saved, fm, { classNames, k: 3, projectionDim: 0 });
  expect(tf.memory().numTensors).toBe(before);
  const want = ckpt.fm.model.getWeights();
  const got = fm.model.getWeights();
  expect(got.length).toBe(want.length);
  expect(ckpt.fm.model.weights.some((w) => w.name.includes('moving_variance'))).toBe(true);
  for (let i = 0; i < want.length; i++) expect(Array.from(got[i].dataSync())).toEqual(Array.from(want[i].dataSync()));
  const head = await loadHeadWeights(path.join(saved, 'head'));
  expect(init.centres).not.toBeNull();
  expect(Array.from(init.centres!)).toEqual(Array.from(head.values));
  expect(init.projection).toBeNull();
  expect(init.summary).toBe(`backbone and class centres from ${saved}`);
  fm.model.dispose();
  ckpt.fm.model.dispose();
  ckpt.head.dispose();
  tf.dispose(ckpt.buffers);
});

test('other identities or another K get new class centres; the backbone still loads', async () => {
  const fm = build(1);
  const other = await loadInitialWeights(saved, fm, {
    classNames: [...classNames.slice(1), 'someone-else'],
    k: 3,
    projectionDim: 0,
  });
  expect(other.centres).toBeNull();
  expect(other.summary).toBe(`backbone from ${saved} (new class centres)`);
  const otherK = await loadInitialWeights(saved, fm, { classNames, k: 1, projectionDim: 0 });
  expect(otherK.centres).toBeNull();
  fm.model.dispose();
});

test('a backbone of another shape is refused with a one-line error naming the weight', async () => {
  const wider = build(1, { widths: [4, 8, 8, 32] });
  const before = tf.memory().numTensors;
  const err = await loadInitialWeights(saved, wider, { classNames, k: 3, projectionDim: 0 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ArcinvertError);
  expect((err as Error).message).toMatch(
    /^init .*: weight \d+ \(.+\) is \[.*\] in the saved model, \[.*\] in the run's$/,
  );
  expect(tf.memory().numTensors).toBe(before);
  wider.model.dispose();
  // At another input size IResNet's dense kernel differs too: only a global depthwise kernel is resampled.
  const bigger = build(1, { inputSize: [32, 32] });
  await expect(loadInitialWeights(saved, bigger, { classNames, k: 3, projectionDim: 0 })).rejects.toThrow(
    /weight 54 \(embedding_fc\/kernel\) is \[16, 8\] in the saved model, \[64, 8\] in the run's \(the saved model takes 16×16 input, the run's 32×32: only a global depthwise kernel such as MobileFaceNet's GDC is resampled\)$/,
  );
  bigger.model.dispose();
  const wide = build(1, { embeddingSize: 16 });
  await expect(loadInitialWeights(saved, wide, { classNames, k: 3, projectionDim: 0 })).rejects.toThrow(
    /the saved model takes 16×16 input to 8-d, the run's 16×16 to 16-d/,
  );
  wide.model.dispose();
  await expect(
    loadInitialWeights(path.join(tmp, 'nowhere'), build(1), { classNames, k: 3, projectionDim: 0 }),
  ).rejects.toBeInstanceOf(ArcinvertError);
});

test('a MobileFaceNet saved at 32 px starts a 64-px run: every weight copied, the GDC kernel resampled (sum kept)', async () => {
  const mfn = (inputSize: [number, number]) =>
    buildBackbone('mobilefacenet', {
      inputSize,
      embeddingSize: 16,
      width: 8,
      blocks: [1, 1, 1, 1],
      headChannels: 32,
      seed: inputSize[0],
    });
  const small = mfn([32, 32]);
  const dir = path.join(tmp, 'mfn32');
  await saveFaceModel(small, dir);
  const big = mfn([64, 64]);
  const before = tf.memory().numTensors;
  const init = await loadInitialWeights(dir, big, { classNames, k: 3, projectionDim: 0 });
  expect(tf.memory().numTensors).toBe(before);
  expect(init.summary).toBe(`backbone from ${dir} (it has no head); resampled gdc_dwconv/depthwise_kernel 2×2 → 4×4`);
  const [a, b] = [small.model.weights, big.model.weights];
  for (let i = 0; i < a.length; i++) {
    const [wa, wb] = [a[i].read(), b[i].read()];
    if (a[i].originalName !== 'gdc_dwconv/depthwise_kernel') {
      expect(Array.from(wb.dataSync())).toEqual(Array.from(wa.dataSync()));
      continue;
    }
    expect([wa.shape, wb.shape]).toEqual([
      [2, 2, 32, 1],
      [4, 4, 32, 1],
    ]);
    // Bilinear with aligned corners from 2 to 4 samples at 0, 1/3, 2/3, 1: corners are the old
    // corners, the per-channel sum is kept after the 4/16 scaling.
    const [ka, kb] = [wa.arraySync() as number[][][][], wb.arraySync() as number[][][][]];
    for (let c = 0; c < 32; c++) {
      expect(kb[0][0][c][0]).toBeCloseTo(ka[0][0][c][0] / 4, 6);
      expect(kb[3][3][c][0]).toBeCloseTo(ka[1][1][c][0] / 4, 6);
      expect(kb[0][1][c][0]).toBeCloseTo((ka[0][0][c][0] + (ka[0][1][c][0] - ka[0][0][c][0]) / 3) / 4, 6);
      const sum = (k: number[][][][], n: number) =>
        k.slice(0, n).reduce((s, r) => s + r.reduce((t, v) => t + v[c][0], 0), 0);
      expect(sum(kb, 4)).toBeCloseTo(sum(ka, 2), 5);
    }
  }
  small.model.dispose();
  big.model.dispose();
});

test('train with init starts a new run from the saved weights and head', async () => {
  const messages: string[] = [];
  const before = tf.memory().numTensors;
  // maxSteps 0: the run checkpoints the weights it starts from.
  const res = await train(
    {
      config: resolveTrainConfig({ ...TINY_TRAIN_CONFIG, init: saved }),
      data,
      outDir: path.join(tmp, 'warm'),
      maxSteps: 0,
    },
    { onMessage: (m) => messages.push(m) },
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(res.steps).toBe(0);
  expect(messages).toContain(`warm start: backbone and class centres from ${saved}`);
  const [a, b] = [await loadCheckpoint(saved), await loadCheckpoint(path.join(tmp, 'warm'))];
  const [wa, wb] = [a.fm.model.getWeights(), b.fm.model.getWeights()];
  for (let i = 0; i < wa.length; i++) expect(Array.from(wb[i].dataSync())).toEqual(Array.from(wa[i].dataSync()));
  expect(Array.from(b.head.weight.dataSync())).toEqual(Array.from(a.head.weight.dataSync()));
  // A new run: fresh optimiser state and its own config, which records where it started.
  expect(b.state.step).toBe(0);
  expect(b.state.config.init).toBe(saved);
  expect(b.buffers.every((t) => t.max().dataSync()[0] === 0 && t.min().dataSync()[0] === 0)).toBe(true);
  for (const c of [a, b]) {
    c.fm.model.dispose();
    c.head.dispose();
    tf.dispose(c.buffers);
  }
});

test('config validation: init must be a directory string or null', () => {
  expect(() => resolveTrainConfig({ init: '' })).toThrow(/init must be null or a model directory/);
  expect(() => resolveTrainConfig({ init: 3 as unknown as string })).toThrow(/init must be null or a model directory/);
  expect(resolveTrainConfig({}).init).toBeNull();
});
