/**
 * Calibrated statistics (src/bnprior/calibrate.ts, targets.ts, `arcinvert calibrate`): on a
 * model whose running statistics were set to the moments of a known batch, calibrating on
 * that batch (in uneven pieces) must give the running statistics back; the file round-trips;
 * the prior picks running or calibrated statistics as asked, with one-line errors; the CLI
 * writes calibration.json and `invert --prior calibrated` uses it.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { BnTaps } from '../../src/bnprior/taps.js';
import { calibrateStatistics, compareWithRunning } from '../../src/bnprior/calibrate.js';
import { loadCalibration, saveCalibration } from '../../src/model/directory.js';
import type { StatCalibration } from '../../src/model/types.js';
import { priorTargets } from '../../src/bnprior/targets.js';
import { ArcinvertError } from '../../src/errors.js';
import { loadFaceModel, saveFaceModel } from '../../src/model/store.js';
import { writeNpy } from '../../src/io/npy.js';
import { cli } from '../helpers/cli.js';
import { calibrateBn, tinyMobileFaceNet } from '../helpers/tiny.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-calibrate-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

async function* pieces(x: tf.Tensor4D, sizes: number[]): AsyncGenerator<tf.Tensor4D> {
  let at = 0;
  for (const n of sizes) {
    yield tf.slice(x, [at, 0, 0, 0], [n, -1, -1, -1]);
    at += n;
  }
}

test('calibrating on the batch the running statistics came from gives them back', async () => {
  const fm = tinyMobileFaceNet(3);
  const x = tf.randomUniform([16, 32, 32, 3], -1, 1, 'float32', 11) as tf.Tensor4D;
  calibrateBn(fm, x);
  const taps = new BnTaps(fm.model);
  const before = tf.memory().numTensors;
  const cal = await calibrateStatistics(taps, pieces(x, [5, 11]), 'noise');
  expect(tf.memory().numTensors).toBe(before);
  expect(cal.images).toBe(16);
  expect(cal.layers.map((l) => l.name)).toEqual(taps.layers.map((l) => l.name));
  const agree = await compareWithRunning(cal, taps);
  expect(agree).toHaveLength(23);
  for (const a of agree) {
    expect(a.meanShift).toBeLessThan(1e-4);
    expect(a.varianceRelError).toBeLessThan(1e-3);
  }
  // On other images the statistics differ: the comparison can fail.
  const y = tf.randomUniform([8, 32, 32, 3], -0.2, 0.2, 'float32', 12) as tf.Tensor4D;
  const other = await calibrateStatistics(taps, pieces(y, [8]), 'dim noise');
  const far = await compareWithRunning(other, taps);
  expect(far[0].varianceRelError).toBeGreaterThan(0.5);
  x.dispose();
  fm.model.dispose();
});

test('calibration.json round-trips and is picked up by loadFaceModel; corrupt files are one-line errors', async () => {
  const fm = tinyMobileFaceNet(4);
  const modelDir = path.join(dir, 'model');
  await saveFaceModel(fm, modelDir);
  const taps = new BnTaps(fm.model);
  const x = tf.randomUniform([4, 32, 32, 3], -1, 1, 'float32', 13) as tf.Tensor4D;
  const cal = await calibrateStatistics(taps, pieces(x, [4]), 'noise');
  x.dispose();
  await saveCalibration(modelDir, cal);
  const back = (await loadCalibration(modelDir))!;
  expect(back.images).toBe(4);
  expect(back.layers[3].name).toBe(cal.layers[3].name);
  expect(Array.from(back.layers[3].variance)).toEqual(Array.from(cal.layers[3].variance));
  const loaded = await loadFaceModel(modelDir);
  expect(loaded.calibration?.layers).toHaveLength(23);
  loaded.model.dispose();
  expect(await loadCalibration(dir)).toBeUndefined();
  const file = path.join(modelDir, 'calibration.json');
  await fsp.writeFile(file, '{"format": "arcinvert-calibration", ');
  await expect(loadFaceModel(modelDir)).rejects.toThrow(/calibration\.json is corrupt \(not valid JSON\)/);
  const json = JSON.parse(
    JSON.stringify({
      ...cal,
      layers: cal.layers.map((l) => ({ ...l, mean: Array.from(l.mean), variance: Array.from(l.variance) })),
    }),
  );
  json.layers[2].variance[0] = -1;
  await fsp.writeFile(file, JSON.stringify(json));
  await expect(loadCalibration(modelDir)).rejects.toThrow(/has NaN or negative values/);
  await fsp.rm(file);
  fm.model.dispose();
});

test('priorTargets: running statistics, calibrated ones, or running where present', async () => {
  const fm = tinyMobileFaceNet(5);
  const taps = new BnTaps(fm.model);
  const fake: StatCalibration = {
    format: 'arcinvert-calibration',
    version: 1,
    images: 1,
    source: 'test',
    layers: taps.layers.map((l, i) => ({
      name: l.name,
      channels: l.channels,
      mean: new Float32Array(l.channels).fill(i),
      variance: new Float32Array(l.channels).fill(i + 1),
    })),
  };
  const before = tf.memory().numTensors;
  const bn = priorTargets(taps, 'bn', undefined);
  expect(bn.stats[2].mean).toBe(taps.layers[2].runningMean);
  expect(bn.owned).toHaveLength(0);
  const both = priorTargets(taps, 'both', fake);
  expect(both.stats[2].variance).toBe(taps.layers[2].runningVar);
  const cal = priorTargets(taps, 'calibrated', fake);
  expect(Array.from(cal.stats[2].mean.dataSync())).toEqual(new Array(taps.layers[2].channels).fill(2));
  expect(Array.from(cal.stats[2].variance.dataSync())).toEqual(new Array(taps.layers[2].channels).fill(3));
  tf.dispose(cal.owned);
  expect(tf.memory().numTensors).toBe(before);
  expect(() => priorTargets(taps, 'calibrated', undefined)).toThrow(
    /^priorStats calibrated needs calibrated statistics; run 'arcinvert calibrate'/,
  );
  const missing = { ...fake, layers: fake.layers.slice(1) };
  expect(() => priorTargets(taps, 'calibrated', missing)).toThrow(ArcinvertError);
  const wrong = { ...fake, layers: fake.layers.map((l, i) => (i === 1 ? { ...l, channels: l.channels + 1 } : l)) };
  expect(() => priorTargets(taps, 'calibrated', wrong)).toThrow(/has \d+ channels, the layer \d+/);
  expect(tf.memory().numTensors).toBe(before);
  fm.model.dispose();
});

test('arcinvert calibrate writes calibration.json; invert --prior calibrated needs and uses it', async () => {
  const fm = tinyMobileFaceNet(6);
  const modelDir = path.join(dir, 'cli-model');
  await saveFaceModel(fm, modelDir);
  fm.model.dispose();
  const imgDir = path.join(dir, 'faces');
  await fsp.mkdir(imgDir, { recursive: true });
  for (let i = 0; i < 5; i++) {
    const px = Buffer.from(Array.from({ length: 32 * 32 * 3 }, (_, k) => (k * (i + 3) * 7) % 256));
    await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(path.join(imgDir, `f${i}.png`));
  }
  const emb = path.join(dir, 'e.npy');
  await writeNpy(emb, new Float32Array(16).fill(0.25), [1, 16]);
  const invertArgs = [
    'invert',
    '--model',
    modelDir,
    '--embedding',
    emb,
    '--steps',
    '2',
    '--batch-size',
    '2',
    '--backend',
    'cpu',
    '--prior',
    'calibrated',
  ];
  const missing = await cli(...invertArgs, '--out', path.join(dir, 'out0'));
  expect(missing.code).toBe(2);
  expect(missing.err.join('\n')).toMatch(/--prior calibrated needs calibrated statistics/);
  const report = path.join(dir, 'report.json');
  const run = await cli(
    'calibrate',
    '--model',
    modelDir,
    '--images',
    imgDir,
    '--n',
    '4',
    '--batch-size',
    '3',
    '--backend',
    'cpu',
    '--report',
    report,
  );
  expect(run.code).toBe(0);
  expect(run.out.join('\n')).toMatch(
    /calibration\.json: 23 layers \(23 BatchNorm inputs, 0 outputs of convs without a BatchNorm\), 4 images/,
  );
  const cal = (await loadCalibration(modelDir))!;
  expect(cal.images).toBe(4);
  expect(JSON.parse(await fsp.readFile(report, 'utf8')).layers).toHaveLength(23);
  const ok = await cli(...invertArgs, '--out', path.join(dir, 'out1'));
  expect(ok.code).toBe(0);
  const bad = await cli('calibrate', '--model', modelDir, '--images', path.join(dir, 'none'), '--backend', 'cpu');
  expect(bad.code).toBe(2);
  expect(bad.err.filter((l) => !l.startsWith('backend')).join('\n')).not.toMatch(/\n\s+at /);
});
