/**
 * FrozenGraph: the same outputs and input gradients as `model.apply(x, { training: false })`
 * (relErr ≤ 1e-4), without any weight gradient, without leaks, for the real backbones (tiny
 * configurations) and for graphs with shared outputs and pass-through layers.
 * TrainGraph: the same outputs, weight gradients and moving BatchNorm statistics as
 * `model.apply(x, { training: true })` on a twin model, no input gradient of the first conv,
 * no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../../src/model/types.js';
import { selectBackend } from '../../src/engine/backend.js';
import { FrozenGraph, TrainGraph } from '../../src/engine/layerGraph.js';
import { tinyIResNet, tinyMobileFaceNet } from '../helpers/tiny.js';
import { random, relErr, TOLERANCE } from './compare.js';

/** A taps-like model: every BN layer's input plus the embedding, as BnTaps builds it. */
function tapsModel(fm: FaceModel): tf.LayersModel {
  const bns = fm.model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  const outputs = [...bns.map((l) => l.input as tf.SymbolicTensor), ...fm.model.outputs];
  return tf.model({ inputs: fm.model.inputs, outputs });
}

function input(fm: FaceModel, batch: number, seed: number): tf.Tensor4D {
  const [h, w] = fm.meta.inputSize;
  const r = random([batch, h, w, 3], seed);
  return tf.tensor4d(r.data, r.shape as [number, number, number, number]);
}

/** Σ over outputs of Σ(output · fixed weights): a scalar touching every output. */
function weightedSum(outs: tf.Tensor[]): tf.Scalar {
  return tf.addN(outs.map((o, i) => tf.sum(tf.mul(o, tf.tensor(random(o.shape, 500 + i).data, o.shape))))) as tf.Scalar;
}

const backbones: Array<[string, () => FaceModel]> = [
  ['tiny MobileFaceNet', () => tinyMobileFaceNet(3)],
  ['tiny IResNet', () => tinyIResNet(4)],
];

describe.each(['wasm', 'cpu'])('on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
  });

  describe.each(backbones)('%s', (_name, make) => {
    let fm: FaceModel;
    let model: tf.LayersModel;
    let graph: FrozenGraph;
    beforeAll(() => {
      fm = make();
      model = tapsModel(fm);
      graph = new FrozenGraph(model);
    });
    afterAll(() => fm.model.dispose());

    test('outputs equal model.apply in inference mode', () => {
      const x = input(fm, 2, 1);
      const ref = tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor[]).map((t) => t.dataSync()));
      const got = tf.tidy(() => graph.apply(x).map((t) => t.dataSync()));
      expect(got).toHaveLength(ref.length);
      got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThanOrEqual(TOLERANCE));
      x.dispose();
    });

    test('input gradients equal those through model.apply', () => {
      const x = input(fm, 2, 2);
      const ref = tf.tidy(() =>
        tf
          .grad((xi: tf.Tensor) => weightedSum(model.apply(xi, { training: false }) as tf.Tensor[]))(x)
          .dataSync(),
      );
      const got = tf.tidy(() =>
        tf
          .grad((xi: tf.Tensor) => weightedSum(graph.apply(xi)))(x)
          .dataSync(),
      );
      expect(relErr(got, ref)).toBeLessThanOrEqual(TOLERANCE);
      x.dispose();
    });

    test('computes no weight gradient', async () => {
      const x = input(fm, 1, 3);
      const profile = await tf.profile(() => tf.grad((xi: tf.Tensor) => weightedSum(graph.apply(xi)))(x));
      const names = new Set(profile.kernelNames);
      for (const k of [
        tf.Conv2DBackpropFilter,
        tf.DepthwiseConv2dNativeBackpropFilter,
        'fusedConv2d__op',
        'FusedConv2D',
      ]) {
        expect(names.has(k)).toBe(false);
      }
      expect(names.has(tf.Conv2DBackpropInput)).toBe(true);
      tf.dispose([x, profile.result as tf.Tensor]);
    });

    test('leaves only its outputs behind, and nothing after a gradient', () => {
      const x = input(fm, 1, 4);
      const before = tf.memory().numTensors;
      const outs = graph.apply(x);
      const created = new Set(outs.filter((t) => t !== x));
      expect(tf.memory().numTensors).toBe(before + created.size);
      tf.dispose([...created]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(tf.grad((xi: tf.Tensor) => weightedSum(graph.apply(xi)))(x));
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });
});

describe('graphs with pass-through and repeated layers', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  test('a Dropout at inference returns its input, which stays alive; Dense without and with bias', () => {
    const inp = tf.input({ shape: [6] });
    const a = tf.layers
      .dense({ units: 5, useBias: true, name: 'd1', kernelInitializer: 'glorotNormal' })
      .apply(inp) as tf.SymbolicTensor;
    const b = tf.layers.dropout({ rate: 0.5 }).apply(a) as tf.SymbolicTensor;
    const c = tf.layers.dense({ units: 3, useBias: false, name: 'd2' }).apply(b) as tf.SymbolicTensor;
    const shared = tf.layers.dense({ units: 3, name: 'd3' });
    const d = tf.layers
      .add()
      .apply([shared.apply(c) as tf.SymbolicTensor, shared.apply(c) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: inp, outputs: [a, d] });
    const graph = new FrozenGraph(model);
    const x = tf.tensor(random([4, 6], 7).data, [4, 6]);
    const ref = tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor[]).map((t) => t.dataSync()));
    const outs = graph.apply(x);
    outs.forEach((t, i) => expect(relErr(t.dataSync(), ref[i]!)).toBeLessThanOrEqual(TOLERANCE));
    tf.dispose([x, ...outs]);
    model.dispose();
  });

  test('rejects the wrong number of inputs', () => {
    const fm = tinyMobileFaceNet(5);
    const graph = new FrozenGraph(fm.model);
    const x = tf.zeros([1, 32, 32, 3]);
    expect(() => graph.apply([x, x])).toThrow(/2 inputs for a model with 1/);
    x.dispose();
    fm.model.dispose();
  });
});

describe.each(['wasm', 'cpu'])('TrainGraph on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
  });

  /** Outputs, weight gradients (trainable-weight order) and moving statistics after one step. */
  function step(
    fm: FaceModel,
    x: tf.Tensor4D,
    useGraph: boolean,
  ): { out: Float32Array; grads: Float32Array[]; moving: Float32Array[] } {
    const vars = fm.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const graph = new TrainGraph(fm.model);
    let out: Float32Array = new Float32Array();
    const { value, grads } = tf.variableGrads(() => {
      const y = useGraph ? graph.apply(x)[0]! : (fm.model.apply(x, { training: true }) as tf.Tensor);
      out = y.dataSync() as Float32Array;
      return weightedSum([y]);
    }, vars);
    const result = {
      out,
      grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array),
      moving: fm.model.layers
        .filter((l) => l.getClassName() === 'BatchNormalization')
        .flatMap((l) => l.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array)),
    };
    tf.dispose([value, ...Object.values(grads)]);
    return result;
  }

  test.each(backbones)(
    '%s: outputs, every weight gradient and the moving statistics equal model.apply',
    (_name, make) => {
      const [a, b] = [make(), make()];
      const x = input(a, 3, 7);
      const before = tf.memory().numTensors;
      const ref = step(a, x, false);
      const got = step(b, x, true);
      expect(tf.memory().numTensors).toBe(before);
      expect(relErr(got.out, ref.out)).toBeLessThanOrEqual(TOLERANCE);
      expect(got.grads).toHaveLength(ref.grads.length);
      // Per weight, relative to its own scale plus 1e-5 of the largest gradient: a BN's β feeding
      // another BN has an exact gradient of 0, computed as float noise (~1e-7) both ways.
      const largest = Math.max(...ref.grads.map((g) => Math.max(...Array.from(g, Math.abs))));
      got.grads.forEach((g, i) => {
        const r = ref.grads[i]!;
        const diff = Math.max(...Array.from(g, (v, j) => Math.abs(v - r[j]!)));
        expect(diff).toBeLessThanOrEqual(TOLERANCE * Math.max(...Array.from(r, Math.abs)) + 1e-5 * largest);
      });
      expect(got.moving.length).toBeGreaterThan(0);
      // Means of normalised activations are float noise around 0 (~1e-8) both ways: absolute 1e-6 too.
      got.moving.forEach((m, i) => {
        const r = ref.moving[i]!;
        const diff = Math.max(...Array.from(m, (v, j) => Math.abs(v - r[j]!)));
        expect(diff).toBeLessThanOrEqual(TOLERANCE * Math.max(...Array.from(r, Math.abs)) + 1e-6);
      });
      // The update really moved them: momentum 0.9 towards the batch statistics.
      expect(ref.moving.some((m) => m.some((v) => v !== 0 && v !== 1))).toBe(true);
      x.dispose();
      a.model.dispose();
      b.model.dispose();
    },
  );

  test("never computes the first convolution's input gradient, nor fused kernels", async () => {
    const fm = tinyMobileFaceNet(3);
    const x = input(fm, 2, 8);
    const vars = fm.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const graph = new TrainGraph(fm.model);
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => weightedSum(graph.apply(x)), vars);
      tf.dispose([value, ...Object.values(grads)]);
      return [];
    });
    const convs = fm.model.layers.filter((l) => l.getClassName() === 'Conv2D').length;
    expect(profile.kernels.filter((k) => k.name === tf.Conv2DBackpropInput)).toHaveLength(convs - 1);
    expect(profile.kernels.filter((k) => k.name === tf.Conv2DBackpropFilter)).toHaveLength(convs);
    expect(profile.kernelNames).not.toContain('FusedConv2D');
    x.dispose();
    fm.model.dispose();
  });
});
