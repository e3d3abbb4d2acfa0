/**
 * Embedding distillation (src/train/distill.ts): the loss against hand-computed cosines, its
 * gradient, the teacher-target file (NumPy layout + listing) with its one-line errors, the
 * head's projection saved and loaded with the centres, and the config's validation.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { writeNpy } from '../../src/io/npy.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { distillLoss, TeacherTargets } from '../../src/train/distill.js';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { loadArcFaceHead, saveHeadWeights } from '../../src/model/headWeights.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-distill-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

test('distillLoss is the mean cosine distance, whatever the norms', () => {
  const before = tf.memory().numTensors;
  // Rows: cos 1 (same direction, norms 2 and 1); cos 1/√2; cos −1.
  const s = tf.tensor2d([
    [2, 0],
    [1, 1],
    [0, 3],
  ]);
  const t = tf.tensor2d([
    [1, 0],
    [0, 5],
    [0, -1],
  ]);
  const l = distillLoss(s, t);
  const expected = (0 + (1 - Math.SQRT1_2) + 2) / 3;
  expect(l.dataSync()[0]).toBeCloseTo(expected, 6);
  // d/ds of (1 − s·t/(|s||t|))/3 for row 1: −(t̂ − cos·ŝ)/(3|s|) with ŝ = (1,1)/√2, t̂ = (0,1).
  const gt = tf.grad((x: tf.Tensor) => distillLoss(x as tf.Tensor2D, t))(s);
  const g = gt.arraySync() as number[][];
  const sh = [Math.SQRT1_2, Math.SQRT1_2];
  const row1 = [0, 1].map((k) => -([0, 1][k] - Math.SQRT1_2 * sh[k]) / (3 * Math.SQRT2));
  expect(g[1][0]).toBeCloseTo(row1[0], 6);
  expect(g[1][1]).toBeCloseTo(row1[1], 6);
  // Row 2 sits at cos −1, a stationary point of the cosine.
  expect(Math.abs(g[2][0]) + Math.abs(g[2][1])).toBeLessThan(1e-6);
  tf.dispose([s, t, l, gt]);
  expect(tf.memory().numTensors).toBe(before);
  const a = tf.zeros([2, 3]) as tf.Tensor2D;
  const b = tf.zeros([2, 4]) as tf.Tensor2D;
  expect(() => distillLoss(a, b)).toThrow(/student \[2, 3\] and teacher \[2, 4\] embeddings differ in shape/);
  tf.dispose([a, b]);
});

test('teacher targets are looked up by path from an N×T .npy and its .txt listing', async () => {
  const file = path.join(dir, 't.npy');
  await writeNpy(file, new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
  await fsp.writeFile(path.join(dir, 't.txt'), 'a/0.jpg\nb/1.jpg\n/abs/c.jpg\n');
  const tt = await TeacherTargets.load(file, '/data');
  expect(tt.dim).toBe(2);
  const before = tf.memory().numTensors;
  const b = tt.batch(['/abs/c.jpg', '/data/a/0.jpg']);
  expect(b.arraySync()).toEqual([
    [5, 6],
    [1, 2],
  ]);
  b.dispose();
  expect(tf.memory().numTensors).toBe(before);
  expect(() => tt.batch(['/data/x.jpg'])).toThrow(/has no teacher embedding for \/data\/x\.jpg/);
  expect(() => tt.checkCovers(['/data/a/0.jpg', '/data/x.jpg', '/data/y.jpg'])).toThrow(
    /lacks teacher embeddings for 2 training image\(s\), e\.g\. \/data\/x\.jpg/,
  );
});

test('bad teacher files give one-line errors', async () => {
  const file = path.join(dir, 'bad.npy');
  await writeNpy(file, new Float32Array([1, 2, 3, 4]), [2, 2]);
  await expect(TeacherTargets.load(file, '/data')).rejects.toThrow(/cannot read .*bad\.txt, the image list/);
  await fsp.writeFile(path.join(dir, 'bad.txt'), 'a.jpg\n');
  await expect(TeacherTargets.load(file, '/data')).rejects.toThrow(/lists 1 images, .* has 2 rows/);
  await writeNpy(file, new Float32Array([1, NaN]), [1, 2]);
  await expect(TeacherTargets.load(file, '/data')).rejects.toThrow(/NaN or infinite/);
  await writeNpy(file, new Float32Array([1, 2]), [2]);
  await expect(TeacherTargets.load(file, '/data')).rejects.toThrow(/must be a non-empty N×T matrix, got shape \(2\)/);
  await expect(TeacherTargets.load(path.join(dir, 'none.npy'), '/data')).rejects.toThrow(ArcinvertError);
});

test('the head saves and loads its projection after the centres; heads without one still load', async () => {
  const head = new ArcFaceHead({ embeddingDim: 4, numClasses: 3, k: 2, seed: 1, projectionDim: 5 });
  expect(head.projection!.shape).toEqual([4, 5]);
  expect(head.trainableVariables).toHaveLength(2);
  // N(0, 1/D): std 0.5 for D = 4 (20 values: loose bounds).
  const p = Array.from(head.projection!.dataSync());
  const std = Math.sqrt(p.reduce((s, x) => s + x * x, 0) / p.length);
  expect(std).toBeGreaterThan(0.25);
  expect(std).toBeLessThan(0.8);
  const base = path.join(dir, 'head');
  await saveHeadWeights(head, base);
  expect((await fsp.stat(`${base}.bin`)).size).toBe((4 * 6 + 4 * 5) * 4);
  const back = await loadArcFaceHead(base);
  expect(back.config.projectionDim).toBe(5);
  expect(Array.from(back.weight.dataSync())).toEqual(Array.from(head.weight.dataSync()));
  expect(Array.from(back.projection!.dataSync())).toEqual(p);
  const x = tf.tensor2d([[1, 0, 0, 0]]);
  const y = back.project(x);
  expect(Array.from(y.dataSync())).toEqual(p.slice(0, 5));
  const plain = new ArcFaceHead({ embeddingDim: 4, numClasses: 3 });
  expect(() => plain.project(x)).toThrow(/no distillation projection/);
  await saveHeadWeights(plain, path.join(dir, 'plain'));
  const plainBack = await loadArcFaceHead(path.join(dir, 'plain'));
  expect(plainBack.projection).toBeNull();
  // A projection header whose data is missing from the .bin.
  const meta = JSON.parse(await fsp.readFile(path.join(dir, 'plain.json'), 'utf8'));
  await fsp.writeFile(path.join(dir, 'plain.json'), JSON.stringify({ ...meta, projection: [4, 5] }));
  await expect(loadArcFaceHead(path.join(dir, 'plain'))).rejects.toThrow(/plain\.bin has 48 bytes, expected 128/);
  tf.dispose([x, y]);
  [head, back, plain, plainBack].forEach((h) => h.dispose());
});

test('the distill part of the training config is validated', () => {
  expect(resolveTrainConfig({}).distill).toBeNull();
  expect(resolveTrainConfig({ distill: { targets: '/t.npy', weight: 2 } }).distill).toEqual({
    targets: '/t.npy',
    weight: 2,
  });
  expect(() => resolveTrainConfig({ distill: { targets: '/t.npy', weight: 0 } })).toThrow(
    /distill\.weight must be > 0/,
  );
  expect(() => resolveTrainConfig({ distill: { targets: '/t.bin', weight: 1 } })).toThrow(/distill must be null or/);
  expect(() => resolveTrainConfig({ distill: { targets: '/t.npy', weight: 1, x: 1 } as never })).toThrow(
    /distill must be null or/,
  );
});
