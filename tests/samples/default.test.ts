/**
 * The shipped default model (samples/models/default) and the README's sample target
 * (samples/vec.npy): the model loads with its BatchNorm statistics and calibration, and, where
 * the LFW crops are present, vec.npy holds exactly what `arcinvert embed` gives for the photos
 * listed in samples/vec.txt.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { BnTaps } from '../../src/bnprior/taps.js';
import { embedFiles } from '../../src/model/embed.js';
import { loadFaceModel } from '../../src/model/store.js';
import { readEmbeddings } from '../../src/io/npy.js';
import { useWasm } from '../helpers/backend.js';

const MODEL = path.resolve('samples/models/default');
const VEC = path.resolve('samples/vec.npy');

beforeAll(async () => {
  await useWasm();
});

test('the default model: MobileFaceNet 112×112, 512-d, 50 BatchNorm layers, calibrated statistics for each', async () => {
  const fm = await loadFaceModel(MODEL);
  expect(fm.meta.backbone).toBe('mobilefacenet');
  expect(fm.meta.inputSize).toEqual([112, 112]);
  expect(fm.meta.embeddingSize).toBe(512);
  const taps = new BnTaps(fm.model);
  expect(taps.layers).toHaveLength(50);
  expect(fm.calibration?.layers.map((l) => l.name)).toEqual(taps.layers.map((l) => l.name));
  const evalLfw = JSON.parse(await fsp.readFile(path.join(MODEL, 'eval-lfw.json'), 'utf8'));
  expect(evalLfw.pairs).toBe(6000);
  expect(evalLfw.accuracy).toBeGreaterThanOrEqual(0.94); // 94.37 % measured (MODEL_CARD.md)
  expect(evalLfw.tarAtFar1e3.far).toBe(0.001);
  fm.model.dispose();
});

test('every shipped model file is under 30 MB', async () => {
  const root = path.resolve('samples/models');
  for (const model of await fsp.readdir(root)) {
    for (const f of await fsp.readdir(path.join(root, model))) {
      expect([`${model}/${f}`, (await fsp.stat(path.join(root, model, f))).size < 30 * 2 ** 20]).toEqual([`${model}/${f}`, true]);
    }
  }
});

const listed = existsSync(VEC) ? (await fsp.readFile(VEC.replace(/\.npy$/, '.txt'), 'utf8')).split('\n').filter((l) => l.trim() !== '') : [];
const withPhotos = listed.length > 0 && listed.every((l) => existsSync(path.resolve(l))) ? test : test.skip;

withPhotos('samples/vec.npy holds the default model’s embeddings of the photos in samples/vec.txt', async () => {
  const vec = await readEmbeddings(VEC);
  expect([vec.n, vec.dim]).toEqual([8, 512]);
  const fm = await loadFaceModel(MODEL);
  const e = await embedFiles(fm, listed.map((l) => path.resolve(l)));
  fm.model.dispose();
  for (let i = 0; i < vec.n; i++) {
    let dot = 0;
    let norm = 0;
    for (let k = 0; k < 512; k++) {
      dot += e[i * 512 + k] * vec.data[i * 512 + k];
      norm += e[i * 512 + k] ** 2;
    }
    expect(dot / Math.sqrt(norm)).toBeGreaterThan(0.9999);
  }
}, 60000);
