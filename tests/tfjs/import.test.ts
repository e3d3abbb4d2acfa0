/**
 * @jest-environment ./tests/helpers/realmEnvironment.cjs
 *
 * tfjs graph-model import against a graph written by the test itself (`fixture.ts`): the
 * rebuilt model's embeddings and input gradients against `tf.GraphModel` (the gradient on wasm
 * against the original's on the cpu backend), the folded-BN taps, the written directory, no
 * leaked tensors, and every way a graph can be bad (one line, exit 2, nothing written).
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BnTaps } from '../../src/bnprior/taps.js';
import { selectBackend } from '../../src/engine/backend.js';
import { writeNpy } from '../../src/io/npy.js';
import { loadFaceModel } from '../../src/model/store.js';
import type { TfjsImportInfo } from '../../src/model/types.js';
import { noiseInputs } from '../../src/model/verification.js';
import { importTfjs, verifyWithGraphModel } from '../../src/tfjs/import.js';
import { useWasm } from '../helpers/backend.js';
import { cli, type Captured } from '../helpers/cli.js';
import { classifierGraph, faceGraph, writeGraphModel, type GraphSpec } from './fixture.js';

const errorLines = (c: Captured): string[] =>
  c.err.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('arcinvert:'));

let tmp: string;
let face: string;
beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-tfjs-'));
  face = await writeGraphModel(path.join(tmp, 'face'), faceGraph());
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** The fixture changed by `edit`, written to `tmp/name/model.json`. */
async function edited(name: string, edit: (g: GraphSpec) => void, base = faceGraph()): Promise<string> {
  edit(base);
  return writeGraphModel(path.join(tmp, name), base);
}

/** embed → calibrate → invert (2 steps, both priors) on an imported model; all must succeed. */
async function embedCalibrateInvert(out: string, faces: string): Promise<void> {
  const npy40 = path.join(tmp, 'cp.npy');
  expect((await cli('embed', '--model', out, '--images', faces, '--out', npy40)).code).toBe(0);
  expect((await cli('calibrate', '--model', out, '--images', faces, '--n', '4')).code).toBe(0);
  const ok = await cli(
    'invert',
    '--model',
    out,
    '--embedding',
    npy40,
    '--out',
    path.join(tmp, 'inv40'),
    '--steps',
    '2',
    '--batch-size',
    '2',
    '--prior',
    'both',
  );
  expect(errorLines(ok)).toEqual([]);
  expect(ok.code).toBe(0);
}

describe('import --tfjs of a graph model fixture', () => {
  test('the rebuilt model agrees with tf.GraphModel; BN remains folded, PReLU/ReLU6 patterns as layers, scaling lifted', async () => {
    const before = tf.memory().numTensors;
    const { fm, info, reference } = await importTfjs(face);
    expect(info.output).toBe('embedding');
    expect(info.outputs.map((o) => [o.name, o.shape, o.op])).toEqual([
      ['embedding', [1, 40], 'Mul'],
      ['age/Softmax', [1, 10], 'Softmax'],
    ]);
    expect(info.normalizationFromGraph).toBe(true);
    expect(fm.meta.normalization).toEqual({ mean: 127.5, std: 128 });
    expect(info.graphInput).toEqual({ mean: 0, std: 1, from: 'graph' });
    expect(info.l2NormalizedOutput).toBe(true);
    expect([info.batchNorms, info.foldedConvs]).toEqual([1, 4]);
    expect(info.convertedOps.Softmax).toBeUndefined();
    const classes = fm.model.layers.map((l) => l.getClassName());
    expect(classes.filter((c) => c === 'PReLU')).toHaveLength(2);
    expect(classes.filter((c) => c === 'ReLU')).toHaveLength(2); // depthwise's Relu, the ReLU6
    const taps = new BnTaps(fm.model);
    expect(taps.layers.map((l) => l.name)).toEqual(['bn2']);
    // conv1, dw1, pw1 (bias from the folded Mul/AddV2) are taps; conv2 feeds the surviving BN.
    expect(taps.folded.map((t) => [t.name, t.channels])).toEqual([
      ['conv1', 8],
      ['dw1', 8],
      ['pw1_bn_add', 8],
    ]);
    const x = noiseInputs(4, fm.meta.inputSize, fm.meta.normalization);
    const v = await verifyWithGraphModel(reference, fm, x, 'noise');
    expect(v.minCosine).toBeGreaterThanOrEqual(0.99999);
    expect(v.maxAbsDiff).toBeLessThan(1e-5);
    x.dispose();
    fm.model.dispose();
    reference.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('input gradients on wasm (BnTaps / FrozenGraph, what invert runs) equal the GraphModel’s on cpu', async () => {
    const { fm, info, reference } = await importTfjs(face);
    const { mean, std } = fm.meta.normalization;
    const x = noiseInputs(2, fm.meta.inputSize, fm.meta.normalization, 3);
    const dir = tf.tensor2d(
      Array.from({ length: 80 }, (_, i) => Math.sin(i)),
      [2, 40],
    );
    const taps = new BnTaps(fm.model);
    // The rebuilt model's embedding, L2-normalised as the graph does, dotted with a fixed direction.
    const ours = tf.grad((xi: tf.Tensor) => {
      const e = taps.apply(xi as tf.Tensor4D);
      tf.dispose(e.bnInputs);
      return tf.sum(tf.mul(tf.div(e.embedding, tf.norm(e.embedding, 2, 1, true)), dir));
    })(x);
    const oursData = await ours.data();
    const before = tf.memory().numTensors;
    await selectBackend('cpu');
    try {
      // The graph takes 0–255 pixels: fed x·std + mean, so both differentiate w.r.t. the same x.
      const theirs = tf.grad((xi: tf.Tensor) =>
        tf.sum(tf.mul(reference.execute(tf.add(tf.mul(xi, std), mean), info.output) as tf.Tensor, dir)),
      )(x);
      const theirsData = await theirs.data();
      let [err, scale] = [0, 0];
      for (let i = 0; i < oursData.length; i++) {
        err = Math.max(err, Math.abs(oursData[i] - theirsData[i]));
        scale = Math.max(scale, Math.abs(theirsData[i]));
      }
      expect(scale).toBeGreaterThan(0);
      expect(err / scale).toBeLessThan(1e-4);
      theirs.dispose();
    } finally {
      await useWasm();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ours, x, dir]);
    fm.model.dispose();
    reference.dispose();
  });

  test('the CLI writes a model directory that loads, with the import record; embed/invert accept it', async () => {
    const out = path.join(tmp, 'imported');
    const r = await cli('import', '--tfjs', face, '--out', out);
    expect(errorLines(r)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(
      /wrote .*imported: 40-d tfjs graph model from model\.json, cosine ≥ (0\.9999\d*|1\.000000) against tf\.GraphModel/,
    );
    const fm = await loadFaceModel(out);
    expect(fm.meta.backbone).toBe('tfjs');
    expect((fm.meta.config as TfjsImportInfo).output).toBe('embedding');
    const record = JSON.parse(await fsp.readFile(path.join(out, 'import.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ output: 'embedding', foldedConvs: 4, normalization: { mean: 127.5, std: 128 } });
    expect((record.verification as { kind: string }).kind).toBe('noise');
    fm.model.dispose();
    // embed, calibrate and invert take it (the fixture's input is 32×32: faces are resized to it).
    const faces = path.resolve('../shared/data/lfw/Colin_Powell');
    if (existsSync(faces)) await embedCalibrateInvert(out, faces);
    // An embedding whose dimension is not the model's: one line, exit 2, nothing written.
    const npy = path.join(tmp, 'e512.npy');
    await writeNpy(npy, new Float32Array(512).fill(0.1), [1, 512]);
    const inv = await cli('invert', '--model', out, '--embedding', npy, '--out', path.join(tmp, 'inv'), '--steps', '1');
    expect(inv.code).toBe(2);
    expect(errorLines(inv)).toHaveLength(1);
    expect(errorLines(inv)[0]).toMatch(/512/);
    await expect(fsp.stat(path.join(tmp, 'inv'))).rejects.toThrow();
  });

  test('--bgr: the first conv takes the channels reversed, so the import takes RGB', async () => {
    const { fm, info, reference } = await importTfjs(face, { bgr: true });
    expect(info.bgr).toBe(true);
    const { mean, std } = fm.meta.normalization;
    const x = noiseInputs(2, fm.meta.inputSize, fm.meta.normalization, 5);
    const [ours, theirs] = tf.tidy(() => {
      const y = fm.model.predict(x) as tf.Tensor2D;
      return [
        tf.div(y, tf.norm(y, 2, 1, true)),
        reference.execute(tf.reverse(tf.add(tf.mul(x, std), mean), 3), 'embedding') as tf.Tensor,
      ];
    });
    const [a, b] = [ours.dataSync(), theirs.dataSync()];
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    tf.dispose([ours, theirs, x]);
    fm.model.dispose();
    reference.dispose();
  });

  test('a graph whose input scaling is not in it needs --mean/--std; they are recorded', async () => {
    const file = await edited('unscaled', (g) => {
      g.nodes = g.nodes.filter((n) => n.name !== 'sub' && n.name !== 'mul');
      const pad = g.nodes.find((n) => n.name === 'pad');
      if (pad) pad.input = ['input', 'pads'];
    });
    const out = path.join(tmp, 'unscaled-out');
    const asked = await cli('import', '--tfjs', file, '--out', out);
    expect(asked.code).toBe(2);
    expect(errorLines(asked)).toHaveLength(1);
    expect(errorLines(asked)[0]).toMatch(/give --mean and --std/);
    const r = await cli('import', '--tfjs', file, '--out', out, '--mean', '127.5', '--std', '127.5');
    expect(r.code).toBe(0);
    const fm = await loadFaceModel(out);
    expect(fm.meta.normalization).toEqual({ mean: 127.5, std: 127.5 });
    expect((fm.meta.config as TfjsImportInfo).graphInput.from).toBe('flags');
    fm.model.dispose();
  });

  test('--output picks another node; ambiguity is refused naming --output', async () => {
    const { fm, info, reference } = await importTfjs(face, { output: 'fc' });
    expect([info.output, fm.meta.embeddingSize, info.l2NormalizedOutput]).toEqual(['fc', 40, false]);
    fm.model.dispose();
    reference.dispose();
    const two = await edited('two', (g) => {
      g.outputs = ['embedding', 'gap'];
    });
    const r = await cli('import', '--tfjs', two, '--out', path.join(tmp, 'two-out'));
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([
      expect.stringMatching(
        /several outputs could be the embedding: 'embedding' \[N, 40\], 'gap' \[N, 32\]; choose one with --output/,
      ),
    ]);
  });

  test('bad graphs: one line, exit 2, an existing --out left alone', async () => {
    const out = path.join(tmp, 'kept');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'mine.txt'), 'keep');
    const tanh = await edited('tanh', (g) => {
      const n = g.nodes.find((x) => x.name === 'relu6/Relu');
      if (n) n.op = 'Tanh';
    });
    const classifier = await writeGraphModel(path.join(tmp, 'classifier'), classifierGraph());
    const noShard = await edited('noshard', () => undefined);
    await fsp.rm(path.join(tmp, 'noshard', 'group1-shard1of1.bin'));
    const layers = path.join(tmp, 'layers.json');
    await fsp.writeFile(layers, JSON.stringify({ format: 'layers-model', modelTopology: {}, weightsManifest: [] }));
    const cases: [string[], RegExp][] = [
      [
        ['--tfjs', tanh],
        /^arcinvert: unsupported tfjs graph op Tanh at node 'relu6\/Relu' \(supported: .*FusedBatchNormV3\)$/,
      ],
      [
        ['--tfjs', classifier],
        /no output is a face embedding.*'probs' \[N, 10\] \(a classifier's probabilities \(Softmax\)\)/,
      ],
      [['--tfjs', noShard], /weight shard/],
      [['--tfjs', layers], /not a tfjs graph model/],
      [['--tfjs', face, '--output', 'nowhere'], /--output 'nowhere' is not a node/],
      [['--tfjs', face, '--input-size', '64'], /--input-size 64 differs/],
      [['--tfjs', face, '--onnx', 'x.onnx'], /--onnx FILE or --tfjs/],
      [['--tfjs', face], /exists and is not empty/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(
        'import',
        ...args,
        '--out',
        out,
        ...(args.includes(face) && args.length === 2 ? [] : ['--overwrite']),
      );
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(errorLines(r)).toEqual([expect.stringMatching(message)]);
    }
    expect(await fsp.readdir(out)).toEqual(['mine.txt']);
  });
});
