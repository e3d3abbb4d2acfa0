import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { l2Normalize } from '../../src/arcface/normalize.js';
import { loadArcFaceHead, loadHeadWeights, saveHeadWeights } from '../../src/model/headWeights.js';
import { MARGIN_PRESETS, marginFunction, softmaxCrossEntropy } from '../../src/arcface/margin.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** D = 2, C = 2, K = 1; columns (1, 0) and (0, 2) (the second normalises to (0, 1)). */
const W = new Float32Array([1, 0, 0, 2]);

test('config validation', () => {
  expect(() => new ArcFaceHead({ embeddingDim: 0, numClasses: 2 })).toThrow(ArcinvertError);
  expect(() => new ArcFaceHead({ embeddingDim: 2, numClasses: 2, k: 1.5 })).toThrow(ArcinvertError);
  expect(() => new ArcFaceHead({ embeddingDim: 2, numClasses: 2, std: 1 } as never)).toThrow(ArcinvertError);
  expect(() => new ArcFaceHead({ embeddingDim: 2, numClasses: 2 }, new Float32Array(3))).toThrow(ArcinvertError);
});

test('seeded N(0, 0.01²) init of shape [D, C·K]', () => {
  const a = new ArcFaceHead({ embeddingDim: 64, numClasses: 100, k: 3, seed: 7 });
  const b = new ArcFaceHead({ embeddingDim: 64, numClasses: 100, k: 3, seed: 7 });
  const c = new ArcFaceHead({ embeddingDim: 64, numClasses: 100, k: 3, seed: 8 });
  expect(a.weight.shape).toEqual([64, 300]);
  const va = Array.from(a.weight.dataSync());
  expect(va).toEqual(Array.from(b.weight.dataSync()));
  expect(va).not.toEqual(Array.from(c.weight.dataSync()));
  const mean = va.reduce((s, x) => s + x, 0) / va.length;
  const std = Math.sqrt(va.reduce((s, x) => s + (x - mean) ** 2, 0) / va.length);
  expect(Math.abs(mean)).toBeLessThan(0.001);
  expect(std).toBeGreaterThan(0.0095);
  expect(std).toBeLessThan(0.0105);
  [a, b, c].forEach((h) => h.dispose());
});

test('cosines normalise embeddings and weight columns', () => {
  const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 2 }, W);
  const cos = tf.tidy(() =>
    head
      .cosines(
        tf.tensor2d([
          [3, 4],
          [-2, 0],
        ]),
      )
      .arraySync(),
  );
  // (3,4)/5 = (0.6, 0.8) → [0.6, 0.8]; (−1, 0) → [−1, 0]
  expect(cos[0][0]).toBeCloseTo(0.6, 6);
  expect(cos[0][1]).toBeCloseTo(0.8, 6);
  expect(cos[1][0]).toBeCloseTo(-1, 6);
  expect(cos[1][1]).toBeCloseTo(0, 6);
  const e = tf.zeros([1, 3]) as tf.Tensor2D;
  expect(() => head.cosines(e)).toThrow(ArcinvertError);
  e.dispose();
  head.dispose();
});

test('l2Normalize maps a zero vector to zeros with a finite gradient', () => {
  const g = tf.tidy(() =>
    tf
      .grad((x: tf.Tensor) => l2Normalize(x, 1).sum())(tf.zeros([1, 3]))
      .dataSync(),
  );
  expect(Array.from(g).every(Number.isFinite)).toBe(true);
});

test('logits compose cosines → subcenterMax → the given margin function', () => {
  // K = 2 sub-centres of C = 1 class plus a second class: columns (1,0),(0,1) | (−1,0),(0,−1)
  const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 2, k: 2 }, new Float32Array([1, 0, -1, 0, 0, 1, 0, -1]));
  const seen: number[][][] = [];
  const spy = (cos: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor2D => {
    seen.push(cos.arraySync());
    return marginFunction(MARGIN_PRESETS.arcface)(cos, labels);
  };
  const logits = tf.tidy(() => head.logits(tf.tensor2d([[0.6, 0.8]]), tf.tensor1d([0], 'int32'), spy).arraySync());
  // class 0 = max(0.6, 0.8) = 0.8, class 1 = max(−0.6, −0.8) = −0.6
  expect(seen[0][0][0]).toBeCloseTo(0.8, 6);
  expect(seen[0][0][1]).toBeCloseTo(-0.6, 6);
  // 64·cos(acos 0.8 + 0.5) = 64·(0.8·cos 0.5 − 0.6·sin 0.5) = 26.5223; 64·(−0.6) = −38.4
  expect(logits[0][0]).toBeCloseTo(26.5223, 3);
  expect(logits[0][1]).toBeCloseTo(-38.4, 3);
  head.dispose();
});

test('an SGD step on the head lowers the loss and leaks nothing', () => {
  const before = tf.memory().numTensors;
  const head = new ArcFaceHead({ embeddingDim: 8, numClasses: 4, k: 2, seed: 1 });
  const emb = tf.randomNormal([16, 8], 0, 1, 'float32', 3) as tf.Tensor2D;
  const labels = tf.tensor1d(
    Array.from({ length: 16 }, (_, i) => i % 4),
    'int32',
  );
  const margin = marginFunction({ s: 16, m1: 1, m2: 0.2, m3: 0 });
  const loss = (): tf.Scalar => softmaxCrossEntropy(head.logits(emb, labels, margin), labels);
  const opt = tf.train.sgd(0.5);
  const l0 = tf.tidy(() => loss().dataSync()[0]);
  for (let i = 0; i < 5; i++) opt.minimize(loss, false, head.trainableVariables);
  const l1 = tf.tidy(() => loss().dataSync()[0]);
  expect(l1).toBeLessThan(l0);
  opt.dispose();
  tf.dispose([emb, labels]);
  head.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

describe('save / load', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-head-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  test('round-trips the exact float32 values and shape', async () => {
    const head = new ArcFaceHead({ embeddingDim: 4, numClasses: 3, k: 2, seed: 5 });
    const base = path.join(dir, 'head');
    await saveHeadWeights(head, base);
    expect((await fsp.readdir(dir)).sort()).toEqual(['head.bin', 'head.json']);
    expect((await fsp.stat(`${base}.bin`)).size).toBe(4 * 6 * 4);
    const { meta, values } = await loadHeadWeights(base);
    expect(meta).toEqual({ format: 'arcinvert-head', dtype: 'float32', shape: [4, 6], numClasses: 3, k: 2 });
    expect(Array.from(values)).toEqual(Array.from(head.weight.dataSync()));
    const again = await loadArcFaceHead(base);
    expect(again.config.k).toBe(2);
    expect(Array.from(again.weight.dataSync())).toEqual(Array.from(head.weight.dataSync()));
    head.dispose();
    again.dispose();
  });

  test('missing or inconsistent files are user errors', async () => {
    const base = path.join(dir, 'head');
    await expect(loadHeadWeights(base)).rejects.toThrow(ArcinvertError);
    const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 2 }, W);
    await saveHeadWeights(head, base);
    head.dispose();
    await fsp.writeFile(`${base}.bin`, new Uint8Array(12));
    await expect(loadHeadWeights(base)).rejects.toThrow(/expected 16/);
  });
});
