import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import {
  evaluatePairs,
  evaluatePathPairs,
  foldCount,
  lfwPathPairs,
  sampleVerificationPairs,
  scorePathPairs,
} from '../../src/metrics/pairEval.js';
import type { Dataset } from '../../src/io/imageFolder.js';
import { colourModel, writeColourLfw } from '../helpers/colourModel.js';

let dir: string;
const fm = colourModel();
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-lfw-'));
  await writeColourLfw(dir); // cosines in the helper's comment
});
afterAll(async () => {
  fm.model.dispose();
  await fsp.rm(dir, { recursive: true, force: true });
});

test('hand-built pairs: fold accuracies, thresholds and TAR@FAR as computed by hand', async () => {
  const before = tf.memory().numTensors;
  const r = await evaluatePairs(fm, path.join(dir, 'pairs.txt'), dir, { flip: true, batchSize: 3 });
  expect(tf.memory().numTensors).toBe(before);
  // Fold 0 is tested with the threshold learnt on fold 1: accept > 0.334 (first grid value
  // above its best region [1/3, 1)), which classifies fold 0 perfectly.
  // Fold 1 is tested with fold 0's threshold −0.333 (first grid value ≥ −1/3): C ✓, A1–A3 ✗,
  // B2–C2 ✓ (rejected), B1–A3 ✗ (accepted) → 0.5.
  expect(r.folds.map((f) => f.accuracy)).toEqual([1, 0.5]);
  expect(r.folds[0].threshold).toBeCloseTo(0.334, 9);
  expect(r.folds[1].threshold).toBeCloseTo(-0.333, 9);
  expect(r.accuracy).toBe(0.75);
  expect(r.std).toBe(0.25);
  expect(r.threshold).toBeCloseTo(0.0005, 9);
  // All 4 impostor scores: max is 1/3, so at FAR ≤ 1e-2 the threshold is 1/3 and 3 of 4 genuine pass.
  expect(r.tarAtFar1e2.tar).toBe(0.75);
  expect(r.tarAtFar1e2.far).toBe(0);
  expect(r.tarAtFar1e3.tar).toBe(0.75);
  expect(r.pairs).toBe(8);
  expect(r.images).toBe(7); // each unique image embedded once
  expect(r.skippedPairs).toBe(0);
});

test('unreadable images are skipped with their pairs; nothing left is an error', async () => {
  const a = path.join(dir, 'A/A_0001.jpg');
  const b = path.join(dir, 'A/A_0002.jpg');
  const g = path.join(dir, 'B/B_0001.jpg');
  const missing = path.join(dir, 'A/A_0009.jpg');
  const r = await evaluatePathPairs(
    fm,
    [
      { a, b, same: true },
      { a, b: g, same: false },
      { a: missing, b: a, same: true },
      { a: g, b: missing, same: false },
    ],
    1,
    { batchSize: 8 },
  );
  expect(r.skippedImages).toEqual([missing]);
  expect(r.skippedPairs).toBe(2);
  expect(r.pairs).toBe(2);
  expect(r.accuracy).toBe(1);
  await expect(evaluatePathPairs(fm, [{ a: missing, b: missing, same: true }], 1)).rejects.toThrow(ArcinvertError);
  await expect(evaluatePairs(fm, path.join(dir, 'nope.txt'), dir)).rejects.toThrow(/cannot read pairs file/);
});

test('lfwPathPairs and scorePathPairs: the file order, its folds and the cosines of the helper', async () => {
  const { pairs, folds } = await lfwPathPairs(path.join(dir, 'pairs.txt'), dir);
  expect(folds).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  expect([pairs[0].a, pairs[0].b, pairs[0].same]).toEqual([
    path.join(dir, 'A/A_0001.jpg'),
    path.join(dir, 'A/A_0002.jpg'),
    true,
  ]);
  const before = tf.memory().numTensors;
  const r = await scorePathPairs(fm, pairs, folds, { flip: false });
  expect(tf.memory().numTensors).toBe(before);
  // fold 0: A1–A2, B1–B2 (1, 1), A1–B1, A2–C1 (−1/3, −1/3); fold 1: C1–C2, A1–A3 (1, −1), B2–C2, B1–A3 (−1/3, 1/3)
  const third = 1 / 3;
  [1, 1, -third, -third, 1, -1, -third, third].forEach((c, i) => expect(r.scores[i]).toBeCloseTo(c, 5));
  expect(r.same).toEqual(pairs.map((p) => p.same));
  expect(r.folds).toEqual(folds);
  expect([r.images, r.skippedPairs]).toEqual([7, 0]);
  // a dropped pair takes its fold id with it: the rest keep theirs
  const missing = path.join(dir, 'A/A_0009.jpg');
  const some = await scorePathPairs(fm, [pairs[0], { a: missing, b: pairs[1].b, same: true }, pairs[2]], 3);
  expect([some.folds, some.skippedPairs, some.skippedImages]).toEqual([[0, 2], 1, [missing]]);
});

test('sampleVerificationPairs: balanced, alternating, deterministic, identity-correct', () => {
  const classNames = ['p', 'q', 'r', 's'];
  const items = classNames.flatMap((_, c) =>
    Array.from({ length: 3 + c }, (_, i) => ({ path: `${classNames[c]}/${i}`, label: c })),
  );
  const ds: Dataset = { classNames, items };
  const pairs = sampleVerificationPairs(ds, 20, 7);
  expect(pairs).toHaveLength(20);
  expect(pairs.map((p) => p.same)).toEqual(Array.from({ length: 20 }, (_, i) => i % 2 === 0));
  for (const p of pairs) {
    const same = p.a.split('/')[0] === p.b.split('/')[0];
    expect(same).toBe(p.same);
    if (p.same) expect(p.a).not.toBe(p.b);
  }
  // Round-robin: the first four matched pairs come from four different identities.
  expect(
    new Set(
      pairs
        .filter((p) => p.same)
        .slice(0, 4)
        .map((p) => p.a.split('/')[0]),
    ).size,
  ).toBe(4);
  expect(sampleVerificationPairs(ds, 20, 7)).toEqual(pairs);
  expect(sampleVerificationPairs(ds, 20, 8)).not.toEqual(pairs);
  expect(() => sampleVerificationPairs({ classNames: ['p'], items: items.slice(0, 3) }, 10, 0)).toThrow(ArcinvertError);
  expect([2, 7, 20, 600].map(foldCount)).toEqual([1, 3, 10, 10]);
});
