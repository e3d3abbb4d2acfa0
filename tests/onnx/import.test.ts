/**
 * @jest-environment ./tests/helpers/realmEnvironment.cjs
 *
 * ONNX import against the fixtures of scripts/onnx-fixtures.py: insightface's IResNet and
 * MobileFaceNet structures with small widths and random weights (BN statistics randomised so
 * the folding done by torch.onnx.export matters), exported as insightface's torch2onnx.py does,
 * with PyTorch's own outputs on a fixed input. Also checked against onnxruntime-node on real
 * aligned faces, and every way a file can be bad.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { ArcinvertError } from '../../src/errors.js';
import { listImages, readImageBatch } from '../../src/io/image.js';
import { loadFaceModel } from '../../src/model/store.js';
import { readNpy } from '../../src/io/npy.js';
import { importOnnx, loadOnnxRuntime, noiseInputs, verifyWithOnnxRuntime } from '../../src/onnx/import.js';
import { BnTaps } from '../../src/bnprior/taps.js';
import { calibrateStatistics } from '../../src/bnprior/calibrate.js';
import { priorTargets } from '../../src/bnprior/targets.js';
import { useWasm } from '../helpers/backend.js';
import { cli, type Captured } from '../helpers/cli.js';

const { onnx } = onnxProto;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(repoRoot, 'tests/fixtures/onnx');
const LFW = path.resolve(repoRoot, '../shared/data/lfw');
const fixture = (name: string) => path.join(FIX, `${name}.onnx`);
const errorLines = (c: Captured): string[] =>
  c.err.flatMap((l) => l.split('\n')).filter((l) => !l.startsWith('backend: '));

let tmp: string;
beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-onnx-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Our embedding of the fixture's NCHW input. */
async function embedFixtureInput(
  fm: Awaited<ReturnType<typeof importOnnx>>['fm'],
  name: string,
): Promise<{ ours: Float32Array; torch: Float32Array }> {
  const x = await readNpy(path.join(FIX, `${name}.input.npy`), { maxRank: 4 });
  const torch = (await readNpy(path.join(FIX, `${name}.output.npy`))).data;
  const y = tf.tidy(
    () =>
      fm.model.predict(
        tf.transpose(tf.tensor4d(x.data, x.shape as [number, number, number, number]), [0, 2, 3, 1]),
      ) as tf.Tensor,
  );
  const ours = y.dataSync() as Float32Array;
  y.dispose();
  return { ours, torch };
}

describe.each([
  // name, structure, BN layers kept, convs with a folded bias (from the export, see the script's header)
  ['iresnet-tiny', 'iresnet', 7, 15],
  ['mobilefacenet-tiny', 'mobilefacenet', 1, 49],
] as const)('%s', (name, structure, batchNorms, folded) => {
  test("gives PyTorch's outputs; structure and surviving BatchNorms recognised; no leaks", async () => {
    const before = tf.memory().numTensors;
    const { fm, info } = await importOnnx(fixture(name));
    expect([info.structure, info.batchNorms, info.foldedConvs, info.opset]).toEqual([
      structure,
      batchNorms,
      folded,
      11,
    ]);
    expect(fm.meta.inputSize).toEqual([112, 112]);
    expect(fm.meta.embeddingSize).toBe(64);
    expect(new BnTaps(fm.model).layers).toHaveLength(batchNorms);
    const { ours, torch } = await embedFixtureInput(fm, name);
    expect(ours.length).toBe(4 * 64);
    const scale = Math.max(...torch.map(Math.abs));
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - torch[i])).toBeLessThan(1e-5 * scale + 1e-5);
    fm.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('agrees with onnxruntime to cosine ≥ 0.9999 on aligned faces (or noise without the data)', async () => {
    const ort = await loadOnnxRuntime();
    expect(ort).not.toBeNull();
    const { fm } = await importOnnx(fixture(name));
    const files = existsSync(LFW) ? (await listImages([path.join(LFW, 'Colin_Powell')])).slice(0, 4) : [];
    const inputs =
      files.length > 0
        ? await readImageBatch(files, { size: [112, 112], normalization: fm.meta.normalization })
        : noiseInputs(4, [112, 112], fm.meta.normalization);
    const v = await verifyWithOnnxRuntime(ort!, fixture(name), fm, inputs, files.length > 0 ? 'images' : 'noise');
    inputs.dispose();
    fm.model.dispose();
    expect(v.inputs).toBe(4);
    expect(v.minCosine).toBeGreaterThanOrEqual(0.9999);
  });
});

test('--bgr folds the channel swap into the first conv: BGR model on RGB input = model on BGR input', async () => {
  const rgb = await importOnnx(fixture('iresnet-tiny'));
  const bgr = await importOnnx(fixture('iresnet-tiny'), { bgr: true });
  const x = noiseInputs(2, [112, 112], rgb.fm.meta.normalization, 3);
  const a = tf.tidy(() => (bgr.fm.model.predict(x) as tf.Tensor).dataSync());
  const b = tf.tidy(() => (rgb.fm.model.predict(tf.reverse(x, 3)) as tf.Tensor).dataSync());
  for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 3);
  x.dispose();
  rgb.fm.model.dispose();
  bgr.fm.model.dispose();
});

/** The iresnet fixture decoded, changed by `edit`, and written to `name` in tmp. */
async function edited(name: string, edit: (m: ReturnType<typeof onnx.ModelProto.decode>) => void): Promise<string> {
  const m = onnx.ModelProto.decode(await fsp.readFile(fixture('iresnet-tiny')));
  edit(m);
  const file = path.join(tmp, name);
  await fsp.writeFile(file, onnx.ModelProto.encode(m).finish());
  return file;
}

describe('bad files get one-line errors naming the problem', () => {
  const rejects = async (file: string, pattern: RegExp) => {
    const err = await importOnnx(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).not.toContain('\n');
  };

  test('missing, truncated and non-ONNX files', async () => {
    await rejects(path.join(tmp, 'nope.onnx'), /nope\.onnx/);
    const bytes = await fsp.readFile(fixture('iresnet-tiny'));
    const cut = path.join(tmp, 'cut.onnx');
    await fsp.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejects(cut, /cut\.onnx is not a readable ONNX model \(truncated or corrupt|cut\.onnx.*truncated/);
    const text = path.join(tmp, 'text.onnx');
    await fsp.writeFile(text, 'hello, this is not protobuf at all');
    await rejects(text, /text\.onnx is not (a readable ONNX model|an ONNX model with a graph)/);
  });

  test('an unsupported operator is named with its node', async () => {
    const file = await edited('sigmoid.onnx', (m) => {
      m.graph!.node![3].opType = 'Sigmoid';
    });
    const node = onnx.ModelProto.decode(await fsp.readFile(file)).graph!.node![3].name;
    await rejects(
      file,
      new RegExp(`unsupported ONNX operator Sigmoid .* at node '${node!.replace(/[/.]/g, '\\$&')}' \\(Sigmoid\\)`),
    );
  });

  test('an unsupported opset, missing external data, an input size not a multiple of 16', async () => {
    await rejects(
      await edited('opset5.onnx', (m) => {
        m.opsetImport![0].version = 5;
      }),
      /unsupported ONNX opset 5 /,
    );
    const ext = await edited('external.onnx', (m) => {
      const t = m.graph!.initializer![0];
      t.rawData = new Uint8Array(0);
      t.floatData = [];
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: 'weights.data' })];
    });
    await rejects(ext, /external data file weights\.data is missing/);
    const odd = await edited('odd.onnx', (m) => {
      const dims = m.graph!.input![0].type!.tensorType!.shape!.dim!;
      dims[2].dimValue = 100;
      dims[3].dimValue = 100;
    });
    await rejects(odd, /input size 100×100 is not a multiple of 16/);
  });
});

describe('MXNet-era graphs: normalisation inside the graph, Pad nodes', () => {
  test("Sub and Mul on the input become the model's normalisation; onnxruntime gets raw pixels", async () => {
    // data → Sub 127.5 → Mul 1/128 → (the original graph): the model then takes raw 0–255 pixels.
    const file = await edited('normalising.onnx', (m) => {
      const g = m.graph!;
      const scalar = (name: string, v: number) =>
        onnx.TensorProto.create({ name, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [v] });
      g.initializer!.push(scalar('sub_c', 127.5), scalar('mul_c', 1 / 128));
      for (const node of g.node!) node.input = node.input!.map((i) => (i === 'data' ? 'normalised' : i));
      g.node!.unshift(
        onnx.NodeProto.create({ name: '_minusscalar0', opType: 'Sub', input: ['data', 'sub_c'], output: ['centred'] }),
        onnx.NodeProto.create({
          name: '_mulscalar0',
          opType: 'Mul',
          input: ['centred', 'mul_c'],
          output: ['normalised'],
        }),
      );
    });
    const { fm, info } = await importOnnx(file);
    expect(info.normalizationFromGraph).toBe(true);
    expect(fm.meta.normalization).toEqual({ mean: 127.5, std: 128 });
    // Same weights as the plain fixture: same output on (x − 127.5) / 128.
    const { ours, torch } = await embedFixtureInput(fm, 'iresnet-tiny');
    const scale = Math.max(...torch.map(Math.abs));
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - torch[i])).toBeLessThan(1e-5 * scale + 1e-5);
    const ort = (await loadOnnxRuntime())!;
    const x = noiseInputs(2, [112, 112], fm.meta.normalization);
    const v = await verifyWithOnnxRuntime(ort, file, fm, x, 'noise');
    x.dispose();
    fm.model.dispose();
    expect(v.minCosine).toBeGreaterThanOrEqual(0.9999);
  });

  test("a Pad node before a conv gives the same model as the conv's own pads", async () => {
    const file = await edited('pad.onnx', (m) => {
      const g = m.graph!;
      const i = g.node!.findIndex((n) => n.opType === 'Conv');
      const conv = g.node![i];
      const pads = conv.attribute!.find((a) => a.name === 'pads')!;
      const [t, l, b, r] = (pads.ints as number[]).map(Number);
      pads.ints = [0, 0, 0, 0];
      g.initializer!.push(
        onnx.TensorProto.create({
          name: 'pad_amounts',
          dims: [8],
          dataType: onnx.TensorProto.DataType.INT64,
          int64Data: [0, 0, t, l, 0, 0, b, r],
        }),
      );
      g.node!.splice(
        i,
        0,
        onnx.NodeProto.create({
          name: 'explicit_pad',
          opType: 'Pad',
          input: [conv.input![0], 'pad_amounts'],
          output: ['padded'],
          attribute: [
            onnx.AttributeProto.create({
              name: 'mode',
              type: onnx.AttributeProto.AttributeType.STRING,
              s: new TextEncoder().encode('constant'),
            }),
          ],
        }),
      );
      conv.input![0] = 'padded';
    });
    const { fm } = await importOnnx(file);
    expect(fm.model.layers.some((l) => l.name === 'explicit_pad')).toBe(true);
    const { ours, torch } = await embedFixtureInput(fm, 'iresnet-tiny');
    const scale = Math.max(...torch.map(Math.abs));
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - torch[i])).toBeLessThan(1e-5 * scale + 1e-5);
    fm.model.dispose();
  });
});

describe('arcinvert import', () => {
  test('writes a model directory that loads, embeds like the import and records the check', async () => {
    const out = path.join(tmp, 'imported');
    const r = await cli('import', '--onnx', fixture('mobilefacenet-tiny'), '--out', out, '--verify-n', '3');
    expect(errorLines(r).filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(
      /wrote .*imported: mobilefacenet from mobilefacenet-tiny\.onnx, cosine ≥ (0\.9999\d*|1\.000000) against onnxruntime/,
    );
    const rec = JSON.parse(await fsp.readFile(path.join(out, 'import.json'), 'utf8'));
    expect(rec.structure).toBe('mobilefacenet');
    expect(rec.verification.inputs).toBe(3);
    expect(rec.verification.minCosine).toBeGreaterThanOrEqual(0.9999);
    const fm = await loadFaceModel(out);
    expect(fm.meta.backbone).toBe('onnx');
    const { ours, torch } = await embedFixtureInput(fm, 'mobilefacenet-tiny');
    for (let i = 0; i < ours.length; i++) expect(ours[i]).toBeCloseTo(torch[i], 4);
    fm.model.dispose();
  });

  test('bad input exits 2 with one line and leaves an existing --out alone', async () => {
    const out = path.join(tmp, 'kept');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'mine.txt'), 'keep');
    const cut = path.join(tmp, 'cut2.onnx');
    await fsp.writeFile(cut, (await fsp.readFile(fixture('iresnet-tiny'))).subarray(0, 1000));
    for (const args of [
      ['--onnx', cut, '--out', out, '--overwrite'],
      ['--onnx', fixture('iresnet-tiny'), '--out', out],
      ['--onnx', fixture('iresnet-tiny'), '--out', out, '--std', '0'],
    ]) {
      const r = await cli('import', ...args);
      expect(r.code).toBe(2);
      const errs = errorLines(r).filter((l) => l.startsWith('arcinvert:'));
      expect(errs).toHaveLength(1);
    }
    expect(await fsp.readdir(out)).toEqual(['mine.txt']);
  });
});

describe('the prior on an imported model: folded BatchNorms get calibrated statistics', () => {
  test('taps: 7 surviving BN inputs + 15 folded conv outputs; bn | both | calibrated pick their statistics', async () => {
    const { fm } = await importOnnx(fixture('iresnet-tiny'));
    const taps = new BnTaps(fm.model);
    expect(taps.layers).toHaveLength(7);
    expect(taps.folded).toHaveLength(15);
    expect(taps.folded.map((t) => t.channels).slice(0, 3)).toEqual([8, 8, 8]);
    const before = tf.memory().numTensors;
    const x = noiseInputs(3, [112, 112], fm.meta.normalization);
    const out = taps.apply(x);
    expect(out.bnInputs).toHaveLength(22);
    expect(out.bnInputs[7].shape).toEqual([3, 112, 112, 8]); // the stem conv's output
    const cal = await calibrateStatistics(
      taps,
      (async function* () {
        yield x;
      })(),
      'noise',
    );
    expect(cal.layers.map((l) => l.name)).toEqual(taps.statLayers.map((l) => l.name));
    // The calibrated statistics are the moments of the tapped tensors.
    const m = tf.tidy(() => tf.moments(out.bnInputs[7], [0, 1, 2]));
    expect(Array.from(cal.layers[7].mean)).toEqual(Array.from(m.mean.dataSync()).map((v) => expect.closeTo(v, 4)));
    tf.dispose([out.bnInputs, out.embedding, m.mean, m.variance]);
    const bn = priorTargets(taps, 'bn', undefined);
    expect(bn.indices).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const both = priorTargets(taps, 'both', cal);
    // Network order: the stem conv (folded tap 7) comes before the first block's bn1 (BN tap 0).
    expect(both.indices.slice(0, 3)).toEqual([7, 0, 8]);
    expect([...both.indices].sort((a, b) => a - b)).toEqual([...Array(22).keys()]);
    expect(both.indices.map((i) => taps.depth[i])).toEqual(
      [...both.indices.map((i) => taps.depth[i])].sort((a, b) => a - b),
    );
    expect(both.stats[1].mean).toBe(taps.layers[0].runningMean);
    expect(Array.from(both.stats[0].mean.dataSync())).toEqual(Array.from(cal.layers[7].mean));
    const calibrated = priorTargets(taps, 'calibrated', cal);
    expect(calibrated.indices).toEqual(both.indices);
    expect(Array.from(calibrated.stats[1].variance.dataSync())).toEqual(Array.from(cal.layers[0].variance));
    tf.dispose([...both.owned, ...calibrated.owned]);
    expect(tf.memory().numTensors).toBe(before);
    fm.model.dispose();
  });

  test('import → invert --prior both without calibration: exit 2 naming the missing step', async () => {
    const out = path.join(tmp, 'mfn');
    expect((await cli('import', '--onnx', fixture('mobilefacenet-tiny'), '--out', out, '--no-verify')).code).toBe(0);
    const noCal = await cli(
      'invert',
      '--model',
      out,
      '--random',
      '1',
      '--steps',
      '2',
      '--prior',
      'both',
      '--out',
      path.join(tmp, 'inv0'),
    );
    expect(noCal.code).toBe(2);
    expect(errorLines(noCal)).toContain(
      "arcinvert: --prior both needs calibrated statistics; run 'arcinvert calibrate' on the model first",
    );
  });

  // Calibration needs aligned faces: skipped, with the reason in its name, without the data.
  (existsSync(LFW) ? test : test.skip)(
    `import → calibrate → invert --prior both, end to end${existsSync(LFW) ? '' : ` [skipped: ${LFW} is absent]`}`,
    async () => {
      const out = path.join(tmp, 'mfn-calibrated');
      expect((await cli('import', '--onnx', fixture('mobilefacenet-tiny'), '--out', out, '--no-verify')).code).toBe(0);
      const cal = await cli('calibrate', '--model', out, '--images', path.join(LFW, 'Colin_Powell'), '--n', '6');
      expect(cal.code).toBe(0);
      expect(cal.out.join('\n')).toMatch(
        /: 50 layers \(1 BatchNorm inputs, 49 outputs of convs without a BatchNorm\), 6 images/,
      );
      const inv = await cli(
        'invert',
        '--model',
        out,
        '--random',
        '1',
        '--steps',
        '3',
        '--prior',
        'both',
        '--out',
        path.join(tmp, 'inv1'),
      );
      expect(errorLines(inv).filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
      expect(inv.code).toBe(0);
    },
  );
});
