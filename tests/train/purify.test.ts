import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { loadImageFolder } from '../../src/io/imageFolder.js';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { purifyByAngle, purifyDataset } from '../../src/train/purify.js';
import { colourModel, writeFlat } from '../helpers/colourModel.js';

test('purifyByAngle: dominant sub-centre by majority, angle threshold, hand values', () => {
  // 2 classes, K = 2. Class 0: samples 0–2 pick sub-centre 1 (dominant), sample 3 picks 0.
  // Class 1: both pick sub-centre 0.
  const ownCos = Float32Array.from([
    0.1,
    0.9, // class 0 → j 1, angle acos(0.9) = 25.84°
    0.2,
    0.8, // → j 1, 36.87°
    0.0,
    0.5, // → j 1, 60°
    0.95,
    0.1, // → j 0; angle to dominant j 1: acos(0.1) = 84.26° > 75 → dropped
    1,
    0, // class 1 → j 0, 0°
    0.26,
    0.2, // → j 0, acos(0.26) = 74.93° → kept
  ]);
  const labels = Int32Array.from([0, 0, 0, 0, 1, 1]);
  const r = purifyByAngle(ownCos, labels, 2, 2, 75);
  expect(Array.from(r.dominant)).toEqual([1, 0]);
  expect(r.keep).toEqual([true, true, true, false, true, true]);
  expect(r.angles[2]).toBeCloseTo(60, 4);
  expect(r.angles[3]).toBeCloseTo(84.2608, 3);
  expect(r.angles[5]).toBeCloseTo(74.9299, 3);
  expect(() => purifyByAngle(ownCos, labels, 2, 3, 75)).toThrow(ArcinvertError);
});

describe('purifyDataset', () => {
  let root: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-purify-'));
    const red: [number, number, number] = [255, 0, 0];
    const orange: [number, number, number] = [255, 128, 0];
    const green: [number, number, number] = [0, 255, 0];
    const blue: [number, number, number] = [0, 0, 255];
    for (let i = 0; i < 4; i++) await writeFlat(path.join(root, 'red', `${i}.png`), red);
    await writeFlat(path.join(root, 'red', 'orange.png'), orange); // 35° from red: kept
    await writeFlat(path.join(root, 'red', 'planted-blue.png'), blue); // mislabelled: 109° from red
    for (let i = 0; i < 3; i++) await writeFlat(path.join(root, 'green', `${i}.png`), green);
    await writeFlat(path.join(root, 'green', 'planted-red.png'), red); // mislabelled
    await writeFlat(path.join(root, 'zz_unknown', '0.png'), blue);
  });
  afterAll(async () => fsp.rm(root, { recursive: true, force: true }));

  test('planted mislabelled samples are dropped, the rest kept', async () => {
    const fm = colourModel();
    // Head [3, 2·3]: class 'green' (id 0) has green at sub-centre 2; class 'red' (id 1) has red at 0.
    // Columns: c·3 + j. Other sub-centres point elsewhere (blue-ish, grey).
    const cols = [
      [0, 0, 1],
      [1, 1, 1],
      [-1, 1, -1], // green: j0 blue, j1 grey, j2 green
      [1, -1, -1],
      [0, 0, 1],
      [1, 1, 1], // red:   j0 red, j1 blue, j2 grey
    ];
    const w = new Float32Array(3 * 6);
    cols.forEach((v, col) => v.forEach((x, i) => (w[i * 6 + col] = x)));
    const head = new ArcFaceHead({ embeddingDim: 3, numClasses: 2, k: 3 }, w);
    const before = tf.memory().numTensors;
    const data = await loadImageFolder(root);
    const r = await purifyDataset({ fm, head, classNames: ['green', 'red'] }, data, { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.dropped.map((d) => path.basename(d.path)).sort()).toEqual(['planted-blue.png', 'planted-red.png']);
    expect(r.kept).toHaveLength(8);
    expect(r.unknownIdentities).toEqual(['zz_unknown']);
    expect(r.classes).toEqual([
      { identity: 'green', dominant: 2, kept: 3, dropped: 1 },
      { identity: 'red', dominant: 0, kept: 5, dropped: 1 },
    ]);
    const orange = r.kept.find((k) => k.path.endsWith('orange.png'))!;
    expect(orange.angleDeg).toBeGreaterThan(30);
    expect(orange.angleDeg).toBeLessThan(40);
    expect(r.dropped.find((d) => d.path.endsWith('planted-blue.png'))!.angleDeg).toBeCloseTo(109.47, 1);
    await expect(purifyDataset({ fm, head, classNames: ['a', 'b'] }, data)).rejects.toThrow(/none of the data/);
    await expect(purifyDataset({ fm, head, classNames: ['green', 'red'] }, data, { angleDeg: 0 })).rejects.toThrow(
      ArcinvertError,
    );
    fm.model.dispose();
    head.dispose();
  });
});
