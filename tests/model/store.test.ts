import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import { loadFaceModel, saveFaceModel } from '../../src/model/store.js';
import { tinyIResNet, tinyMobileFaceNet } from '../helpers/tiny.js';

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-model-'));
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

/** Gives every BN layer non-trivial moving statistics, as a trained model has. */
function randomiseMovingStats(model: tf.LayersModel): void {
  for (const l of model.layers.filter((x) => x.getClassName() === 'BatchNormalization')) {
    const [g, b, m, v] = l.getWeights();
    l.setWeights([g, b, tf.randomNormal(m.shape, 0, 1, 'float32', 3), tf.randomUniform(v.shape, 0.5, 2, 'float32', 4)]);
  }
}

test.each([
  ['mobilefacenet', tinyMobileFaceNet],
  ['iresnet', tinyIResNet],
] as const)('%s: save → load keeps outputs, BN moving statistics and metadata', async (_name, make) => {
  const fm = make(7);
  randomiseMovingStats(fm.model);
  const dir = path.join(tmp, _name);
  await saveFaceModel(fm, dir);
  const loaded = await loadFaceModel(dir);
  expect(loaded.meta).toEqual(fm.meta);
  const before = fm.model.getWeights().map((w) => w.dataSync());
  const after = loaded.model.getWeights().map((w) => w.dataSync());
  expect(after).toEqual(before);
  const names = loaded.model.weights.map((w) => w.originalName);
  expect(names.filter((n) => n.endsWith('moving_mean')).length).toBeGreaterThan(10);
  const [h, w] = fm.meta.inputSize;
  const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', 1);
  const ya = fm.model.predict(x) as tf.Tensor;
  const yb = loaded.model.predict(x) as tf.Tensor;
  expect(yb.dataSync()).toEqual(ya.dataSync());
  tf.dispose([x, ya, yb]);
  fm.model.dispose();
  loaded.model.dispose();
});

test('saving again replaces the shard and leaves no temp files', async () => {
  const dir = path.join(tmp, 'resave');
  const a = tinyIResNet(1);
  await saveFaceModel(a, dir);
  const b = tinyIResNet(2);
  await saveFaceModel(b, dir);
  const files = (await fsp.readdir(dir)).sort();
  expect(files.length).toBe(2);
  expect(files[0]).toBe('model.json');
  expect(files[1]).toMatch(/^weights-[0-9a-f]{12}\.bin$/);
  const loaded = await loadFaceModel(dir);
  expect(loaded.model.getLayer('stem_conv').getWeights()[0].dataSync()).toEqual(
    b.model.getLayer('stem_conv').getWeights()[0].dataSync(),
  );
  [a, b, loaded].forEach((m) => m.model.dispose());
});

describe('bad model directories give one-line errors', () => {
  test('missing directory', async () => {
    await expect(loadFaceModel(path.join(tmp, 'nope'))).rejects.toThrow(/does not exist/);
  });
  test('directory without model.json', async () => {
    const dir = path.join(tmp, 'empty');
    await fsp.mkdir(dir);
    await expect(loadFaceModel(dir)).rejects.toThrow(ArcinvertError);
  });
  test('corrupt JSON', async () => {
    const dir = path.join(tmp, 'corrupt');
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, 'model.json'), '{"modelTopology": ');
    await expect(loadFaceModel(dir)).rejects.toThrow(/not valid JSON/);
  });
  test('truncated weights', async () => {
    const dir = path.join(tmp, 'truncated');
    const fm = tinyIResNet();
    await saveFaceModel(fm, dir);
    const shard = (await fsp.readdir(dir)).find((f) => f.endsWith('.bin')) as string;
    const bytes = await fsp.readFile(path.join(dir, shard));
    await fsp.writeFile(path.join(dir, shard), bytes.subarray(0, bytes.length - 100));
    await expect(loadFaceModel(dir)).rejects.toThrow(/truncated or corrupt/);
    fm.model.dispose();
  });
  test('a tfjs model without arcinvert metadata', async () => {
    const dir = path.join(tmp, 'plain');
    const fm = tinyIResNet();
    await saveFaceModel(fm, dir);
    const json = JSON.parse(await fsp.readFile(path.join(dir, 'model.json'), 'utf8'));
    delete json.userDefinedMetadata;
    await fsp.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await expect(loadFaceModel(dir)).rejects.toThrow(/not an arcinvert face model/);
    fm.model.dispose();
  });
});

describe('broken models are refused at load (one line naming the directory)', () => {
  /** A saved tiny model in a fresh folder; `edit` changes its files before the load. */
  async function brokenCopy(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(tmp, name);
    const fm = tinyMobileFaceNet(3);
    await saveFaceModel(fm, dir);
    fm.model.dispose();
    await edit(dir);
    return dir;
  }
  async function editMeta(dir: string, change: (meta: Record<string, unknown>) => void): Promise<void> {
    const file = path.join(dir, 'model.json');
    const json = JSON.parse(await fsp.readFile(file, 'utf8'));
    change(json.userDefinedMetadata.arcinvert);
    await fsp.writeFile(file, JSON.stringify(json));
  }

  test('a weight shard of the right size full of 0xFF bytes (NaN)', async () => {
    const dir = await brokenCopy('nan-weights', async (d) => {
      const shard = (await fsp.readdir(d)).find((f) => f.endsWith('.bin')) as string;
      const size = (await fsp.stat(path.join(d, shard))).size;
      await fsp.writeFile(path.join(d, shard), Buffer.alloc(size, 0xff));
    });
    const before = tf.memory().numTensors;
    const err = await loadFaceModel(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toContain(dir);
    expect((err as Error).message).toMatch(
      /the model is broken: its embedding of a probe image is not finite \((NaN|-?Infinity)\)/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  test('one weight set to +Inf', async () => {
    const dir = await brokenCopy('inf-weight', async (d) => {
      const shard = (await fsp.readdir(d)).find((f) => f.endsWith('.bin')) as string;
      const bytes = await fsp.readFile(path.join(d, shard));
      bytes.writeFloatLE(Infinity, 0);
      await fsp.writeFile(path.join(d, shard), bytes);
    });
    await expect(loadFaceModel(dir)).rejects.toThrow(/embedding of a probe image is not finite/);
  });

  test('metadata inputSize that disagrees with the topology', async () => {
    const dir = await brokenCopy('bad-input-size', (d) => editMeta(d, (m) => (m.inputSize = [48, 48])));
    const before = tf.memory().numTensors;
    const err = await loadFaceModel(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toBe(
      `${dir}: model metadata inputSize [48,48] does not match the topology's input 32×32×3`,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  test('metadata embeddingSize that disagrees with the topology', async () => {
    const dir = await brokenCopy('bad-embedding-size', (d) => editMeta(d, (m) => (m.embeddingSize = 512)));
    await expect(loadFaceModel(dir)).rejects.toThrow(
      `${dir}: model metadata embeddingSize 512 does not match the topology's output 16`,
    );
  });

  test('metadata without a usable normalization', async () => {
    const dir = await brokenCopy('bad-normalization', (d) => editMeta(d, (m) => (m.normalization = { mean: 0 })));
    await expect(loadFaceModel(dir)).rejects.toThrow(/bad normalization/);
  });

  test('the probe image is deterministic and at the model input size', async () => {
    const { probeImage } = await import('../../src/model/check.js');
    const meta = tinyIResNet().meta;
    const a = probeImage(meta);
    const b = probeImage(meta);
    expect(a.shape).toEqual([1, 16, 16, 3]);
    expect(a.dataSync()).toEqual(b.dataSync());
    expect(Math.max(...a.dataSync())).toBeLessThanOrEqual(1);
    tf.dispose([a, b]);
  });
});
