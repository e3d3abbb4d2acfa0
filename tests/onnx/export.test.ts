/**
 * @jest-environment ./tests/helpers/realmEnvironment.cjs
 *
 * ONNX export (src/onnx/export.ts) and inference on onnxruntime (src/onnx/runtime.ts): the
 * exported graph run by onnxruntime-node gives tfjs's embeddings to float rounding — for the
 * tiny backbones with non-trivial BN statistics, a zoo of the other layers (asymmetric 'same'
 * padding, pools, a flattened 3×3 map into a Dense), the shipped model on real faces — and
 * `arcinvert import --onnx` reads the file back as the same model.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { ArcinvertError } from '../../src/errors.js';
import { listImages, readImageBatch } from '../../src/io/image.js';
import { embedBatch, embedFiles } from '../../src/model/embed.js';
import { loadFaceModel } from '../../src/model/store.js';
import type { FaceModel } from '../../src/model/types.js';
import { compareEmbeddings, noiseInputs } from '../../src/model/verification.js';
import { exportOnnx, permute } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { OnnxEmbedder } from '../../src/onnx/runtime.js';
import { useWasm } from '../helpers/backend.js';
import { cli } from '../helpers/cli.js';
import { calibrateBn, calibratedTinyMobileFaceNet, tinyIResNet } from '../helpers/tiny.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LFW = path.resolve(repoRoot, '../shared/data/lfw');
const DEFAULT_MODEL = path.join(repoRoot, 'samples/models/default');
const withData = existsSync(LFW) ? it : it.skip;

let tmp: string;
beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-export-'));
});
afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

/** tfjs's raw embeddings of `x` against onnxruntime's. */
async function bothRuntimes(fm: FaceModel, x: tf.Tensor4D) {
  const ort = await OnnxEmbedder.create(fm, 1);
  try {
    const ours = tf.tidy(() => fm.model.predict(x) as tf.Tensor2D);
    const data = ours.dataSync() as Float32Array;
    ours.dispose();
    return compareEmbeddings(data, await ort.forward(x, false), fm.meta.embeddingSize, 'noise');
  } finally {
    await ort.dispose();
  }
}

/** A model of every other layer the export maps, with an even input so 'same' pads asymmetrically. */
function zoo(): FaceModel {
  const input = tf.input({ shape: [12, 12, 3], name: 'input' });
  let x = tf.layers
    .conv2d({
      filters: 6,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      useBias: true,
    })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.leakyReLU({ alpha: 0.2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 0],
        [0, 1],
      ],
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  const a = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.add().apply([a, b]) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1e-3 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'valid' }).apply(x) as tf.SymbolicTensor; // 7×7 → 3×3
  const flat = tf.layers.flatten().apply(x) as tf.SymbolicTensor; // a 3×3×6 map: rows reordered for ONNX
  const g = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const d1 = tf.layers.dense({ units: 5, useBias: true }).apply(flat) as tf.SymbolicTensor;
  const d2 = tf.layers.dense({ units: 5, activation: 'relu' }).apply(g) as tf.SymbolicTensor;
  let y = tf.layers.add().apply([d1, d2]) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({}).apply(y) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: y });
  // Non-trivial weights everywhere, BN statistics included.
  model.setWeights(
    model.getWeights().map((w, i) => tf.tidy(() => tf.add(tf.randomUniform(w.shape, 0.1, 0.9, 'float32', i), 0))),
  );
  return {
    model,
    meta: {
      format: 1,
      backbone: 'mobilefacenet',
      config: {} as FaceModel['meta']['config'],
      inputSize: [12, 12],
      embeddingSize: 5,
      normalization: { mean: 127.5, std: 127.5 },
    },
  };
}

test('permute moves axes as a transpose does (hand-computed)', () => {
  // [2, 3] → [3, 2]
  expect(Array.from(permute(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]))).toEqual([1, 4, 2, 5, 3, 6]);
  // [1, 2, 2, 2] (kh, kw, in, out) → [out, in, kh, kw]: element (0, j, c, o) lands at (o, c, 0, j).
  const k = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]); // index = j·4 + c·2 + o
  expect(Array.from(permute(k, [1, 2, 2, 2], [3, 2, 0, 1]))).toEqual([0, 4, 2, 6, 1, 5, 3, 7]);
});

test.each([
  ['MobileFaceNet', () => calibratedTinyMobileFaceNet(3)],
  [
    'IResNet',
    () => {
      const fm = tinyIResNet(4);
      calibrateBn(fm, noiseInputs(8, fm.meta.inputSize, fm.meta.normalization, 2));
      return fm;
    },
  ],
  ['a zoo of the other layers', zoo],
])('%s: onnxruntime gives tfjs embeddings (cosine ≥ 1 − 1e-5) and leaves no tensors', async (_name, make) => {
  const fm = make();
  const x = noiseInputs(6, fm.meta.inputSize, fm.meta.normalization, 11);
  const before = tf.memory().numTensors;
  const v = await bothRuntimes(fm, x);
  expect(tf.memory().numTensors).toBe(before);
  expect(v.inputs).toBe(6);
  expect(v.minCosine).toBeGreaterThan(1 - 1e-5);
  expect(v.maxAbsDiff).toBeLessThan(1e-3);
  tf.dispose(x);
  fm.model.dispose();
});

test('a layer with no ONNX mapping is refused, naming it', () => {
  const input = tf.input({ shape: [4, 4, 3] });
  const y = tf.layers
    .dense({ units: 2, activation: 'tanh', name: 'odd' })
    .apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
  const fm = { ...zoo(), model: tf.model({ inputs: input, outputs: y }) };
  expect(() => exportOnnx(fm)).toThrow(
    new ArcinvertError("cannot export layer odd (Dense) to ONNX: activation 'tanh'"),
  );
  fm.model.dispose();
});

test('embedFiles through onnxruntime (flip added) equals tfjs; the export reads back through import --onnx', async () => {
  const fm = calibratedTinyMobileFaceNet(5);
  const dir = path.join(tmp, 'faces');
  await fsp.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < 5; i++) {
    const f = path.join(dir, `${i}.png`);
    await sharp({
      create: {
        width: 48,
        height: 40,
        channels: 3,
        background: { r: 0, g: 0, b: 0 },
        noise: { type: 'gaussian', mean: 120, sigma: 40 },
      },
    })
      .png()
      .toFile(f);
    files.push(f);
  }
  const ort = await OnnxEmbedder.create(fm, 2);
  const a = await embedFiles(fm, files, { flip: true, batchSize: 2 });
  const b = await embedFiles(fm, files, { flip: true, batchSize: 2, embedder: ort });
  await ort.dispose();
  const v = compareEmbeddings(a, b, 16, 'images');
  expect(v.minCosine).toBeGreaterThan(1 - 1e-5);
  // The file itself, imported as an insightface model, computes the same embedding.
  const file = path.join(tmp, 'tiny.onnx');
  await fsp.writeFile(file, exportOnnx(fm));
  const { fm: back, info } = await importOnnx(file);
  expect(info.structure).toBe('mobilefacenet');
  expect(info.batchNorms).toBe(23);
  const x = noiseInputs(4, fm.meta.inputSize, fm.meta.normalization, 9);
  const e1 = embedBatch(fm.model, x, false);
  const e2 = embedBatch(back.model, x, false);
  expect(compareEmbeddings(e1.dataSync(), e2.dataSync(), 16, 'noise').minCosine).toBeGreaterThan(1 - 1e-5);
  tf.dispose([x, e1, e2]);
  fm.model.dispose();
  back.model.dispose();
});

withData(
  'the shipped model on 16 LFW faces: onnxruntime equals tfjs; export writes once, then refuses',
  async () => {
    const fm = await loadFaceModel(DEFAULT_MODEL);
    const files = (await listImages([LFW])).slice(0, 16);
    const x = await readImageBatch(files, { size: fm.meta.inputSize, normalization: fm.meta.normalization });
    const v = await bothRuntimes(fm, x);
    expect(v.minCosine).toBeGreaterThan(1 - 1e-5);
    tf.dispose(x);
    fm.model.dispose();
    const out = path.join(tmp, 'default.onnx');
    const r = await cli(
      'export',
      '--model',
      DEFAULT_MODEL,
      '--onnx',
      out,
      '--verify-images',
      path.join(LFW, 'Aaron_Peirsol'),
      '--backend',
      'wasm',
    );
    expect(r.code).toBe(0);
    expect(r.err.filter((l) => l.startsWith('onnxruntime vs tfjs'))).toHaveLength(2);
    expect(r.out[0]).toMatch(
      /^wrote .*default\.onnx \(\d+\.\d MiB; input \[N, 3, 112, 112\] as \(x − 127\.5\) \/ 127\.5 of RGB, output \[N, 512\]\)$/,
    );
    const again = await cli('export', '--model', DEFAULT_MODEL, '--onnx', out, '--backend', 'wasm');
    expect(again.code).toBe(2);
    expect(again.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
      `arcinvert: ${out} exists (use --overwrite to replace it)`,
    ]);
    // eval on either runtime: the same pairs, the same verdicts.
    const pairs = path.join(tmp, 'pairs.txt');
    const names = ['Aaron_Peirsol', 'Colin_Powell'];
    await fsp.writeFile(
      pairs,
      `1 2\n${names[0]} 1 3\n${names[1]} 40 49\n${names[0]} 1 ${names[1]} 40\n${names[0]} 4 ${names[1]} 71\n`,
    );
    const reports = [];
    for (const runtime of ['tfjs', 'onnx']) {
      const e = await cli(
        'eval',
        '--model',
        DEFAULT_MODEL,
        '--pairs',
        pairs,
        '--images',
        LFW,
        '--runtime',
        runtime,
        '--json',
        '--backend',
        'wasm',
      );
      expect(e.code).toBe(0);
      reports.push(JSON.parse(e.out[0]));
    }
    expect(reports.map((x) => x.runtime)).toEqual(['tfjs', 'onnxruntime']);
    expect(reports[1].accuracy).toBe(reports[0].accuracy);
    expect(reports[1].threshold).toBeCloseTo(reports[0].threshold, 4);
  },
  120000,
);
