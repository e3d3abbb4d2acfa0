import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { ArcinvertError } from '../../src/errors.js';
import { modelArtifacts } from '../../src/model/artifacts.js';
import {
  CLASSES_FILE,
  hasClassNames,
  hasHead,
  hasModel,
  headBasePath,
  loadHeadIfPresent,
  readClassNames,
  writeClassNames,
  writeImportRecord,
} from '../../src/model/directory.js';
import { saveHeadWeights } from '../../src/model/headWeights.js';
import { saveFaceModel } from '../../src/model/store.js';
import { tinyMobileFaceNet } from '../helpers/tiny.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-modeldir-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

test('an empty directory has no model, head or classes', async () => {
  expect(hasModel(dir)).toBe(false);
  expect(hasHead(dir)).toBe(false);
  expect(hasClassNames(dir)).toBe(false);
  expect(await loadHeadIfPresent(dir)).toBeUndefined();
  await expect(readClassNames(dir)).rejects.toThrow(ArcinvertError);
});

test('model, head, classes and import record land under the layout names', async () => {
  const before = tf.memory().numTensors;
  const fm = tinyMobileFaceNet();
  await saveFaceModel(fm, dir);
  fm.model.dispose();
  const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 2 }, new Float32Array([1, 0, 0, 2]));
  await saveHeadWeights(head, headBasePath(dir));
  head.dispose();
  await writeClassNames(dir, ['Ann', 'Bob']);
  await writeImportRecord(dir, { source: 'x.onnx' });

  expect(hasModel(dir)).toBe(true);
  expect(hasHead(dir)).toBe(true);
  expect(hasClassNames(dir)).toBe(true);
  const files = (await fsp.readdir(dir)).filter((f) => !f.startsWith('weights-')).sort();
  expect(files).toEqual(['classes.json', 'head.bin', 'head.json', 'import.json', 'model.json']);
  expect(await readClassNames(dir)).toEqual(['Ann', 'Bob']);
  expect(JSON.parse(await fsp.readFile(path.join(dir, 'import.json'), 'utf8'))).toEqual({ source: 'x.onnx' });

  const back = (await loadHeadIfPresent(dir))!;
  expect(back.config.numClasses).toBe(2);
  expect(Array.from(back.weight.dataSync())).toEqual([1, 0, 0, 2]);
  back.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test('a class list without names is a user error', async () => {
  await fsp.writeFile(path.join(dir, CLASSES_FILE), '{"format":"arcinvert-classes"}');
  await expect(readClassNames(dir)).rejects.toThrow(/has no class-name list/);
  await fsp.writeFile(path.join(dir, CLASSES_FILE), '{');
  await expect(readClassNames(dir)).rejects.toThrow(/corrupt/);
});

test('modelArtifacts rebuild the same model in memory', async () => {
  const fm = tinyMobileFaceNet(3);
  const before = tf.memory().numTensors;
  const copy = await tf.loadLayersModel(tf.io.fromMemory(await modelArtifacts(fm.model)));
  const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 9);
  const [a, b] = [fm.model.predict(x) as tf.Tensor, copy.predict(x) as tf.Tensor];
  expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  tf.dispose([x, a, b]);
  copy.dispose();
  expect(tf.memory().numTensors).toBe(before);
  fm.model.dispose();
});
