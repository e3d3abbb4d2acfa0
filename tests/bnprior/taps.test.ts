import * as tf from '@tensorflow/tfjs';
import { BnTaps, channelMoments } from '../../src/bnprior/taps.js';
import { countBn, tinyIResNet, tinyMobileFaceNet } from '../helpers/tiny.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test.each([
  ['mobilefacenet', tinyMobileFaceNet],
  ['iresnet', tinyIResNet],
] as const)('%s: one tap per BN layer with its input shape and running stats by name', (_n, make) => {
  const fm = make();
  const taps = new BnTaps(fm.model);
  expect(taps.layers.length).toBe(countBn(fm));
  const [h, w] = fm.meta.inputSize;
  const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const out = taps.apply(x);
  out.bnInputs.forEach((t, i) => {
    expect(t.shape[0]).toBe(2);
    expect(t.shape[t.rank - 1]).toBe(taps.layers[i].channels);
    expect(t.rank).toBe(taps.layers[i].inputRank);
    expect(taps.layers[i].runningMean.shape).toEqual([taps.layers[i].channels]);
  });
  // The taps model's embedding is the model's own output.
  const y = fm.model.predict(x) as tf.Tensor;
  expect(out.embedding.dataSync()).toEqual(y.dataSync());
  const bn = fm.model.getLayer(taps.layers[0].name);
  expect(taps.layers[0].runningVar).toBe(bn.weights.find((v) => v.originalName.endsWith('/moving_variance'))?.read());
  tf.dispose([x, y, out.bnInputs, out.embedding]);
  // Every conv of arcinvert's own backbones feeds a BatchNorm: nothing to calibrate beyond them.
  expect(taps.folded).toEqual([]);
  fm.model.dispose();
});

test('convs that feed no BatchNorm are taps, with or without a bias (a network without BatchNorms: mobileface)', () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = (name: string, useBias: boolean, filters = 4) =>
    tf.layers.conv2d({ name, filters, kernelSize: 3, padding: 'same', useBias });
  const c1 = conv('c1', false).apply(input) as tf.SymbolicTensor;
  const a1 = tf.layers.prelu({ name: 'p1' }).apply(c1) as tf.SymbolicTensor;
  const d1 = tf.layers
    .depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same', useBias: false })
    .apply(a1) as tf.SymbolicTensor;
  const c2 = conv('c2', true, 6).apply(d1) as tf.SymbolicTensor;
  const c3 = conv('c3', false).apply(c2) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(c3) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'fc', units: 5 }).apply(tf.layers.flatten().apply(bn)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const taps = new BnTaps(model);
  expect(taps.layers.map((l) => l.name)).toEqual(['bn']);
  // c3 feeds the BatchNorm (its input is that BN's tap); c1, dw (no bias) and c2 (bias) feed none.
  expect(taps.folded.map((t) => [t.name, t.channels])).toEqual([
    ['c1', 4],
    ['dw', 4],
    ['c2', 6],
  ]);
  expect(taps.statLayers.map((l) => l.name)).toEqual(['bn', 'c1', 'dw', 'c2']);
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const o = taps.apply(x);
  expect(o.bnInputs.map((t) => t.shape)).toEqual([
    [2, 8, 8, 4],
    [2, 8, 8, 4],
    [2, 8, 8, 4],
    [2, 8, 8, 6],
  ]);
  // The conv tap is the conv's own output.
  const c1Only = tf.model({ inputs: input, outputs: c1 });
  const ref = c1Only.predict(x) as tf.Tensor;
  expect(o.bnInputs[1].dataSync()).toEqual(ref.dataSync());
  tf.dispose([x, ref, o.bnInputs, o.embedding]);
  model.dispose();
});

test('moving statistics are bit-identical after 10 inference-mode passes with gradients', () => {
  const fm = tinyMobileFaceNet();
  const taps = new BnTaps(fm.model);
  const snapshot = () => taps.layers.map((l) => [l.runningMean.dataSync().slice(), l.runningVar.dataSync().slice()]);
  const before = snapshot();
  const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  for (let i = 0; i < 10; i++) {
    const g = tf.grad((xi: tf.Tensor) => {
      const out = taps.apply(xi as tf.Tensor4D);
      const m = channelMoments(out.bnInputs[3]);
      return tf.addN([out.embedding.square().mean(), m.mean.square().sum(), m.variance.sum()]);
    })(x);
    expect(Number.isFinite(g.abs().sum().dataSync()[0])).toBe(true);
    g.dispose();
  }
  expect(snapshot()).toEqual(before);
  x.dispose();
  fm.model.dispose();
});

test('channelMoments gives the biased per-channel mean and variance', () => {
  // channel 0: 1, 3, 5, 7 → mean 4, var (9+1+1+9)/4 = 5; channel 1: all 2 → mean 2, var 0
  const x = tf.tensor4d([1, 2, 3, 2, 5, 2, 7, 2], [2, 1, 2, 2]);
  const { mean, variance } = channelMoments(x);
  expect(Array.from(mean.dataSync())).toEqual([4, 2]);
  expect(Array.from(variance.dataSync())).toEqual([5, 0]);
  const x2 = tf.tensor2d([
    [1, 10],
    [3, 20],
  ]);
  const m2 = channelMoments(x2);
  expect(Array.from(m2.mean.dataSync())).toEqual([2, 15]);
  expect(Array.from(m2.variance.dataSync())).toEqual([1, 25]);
  tf.dispose([x, mean, variance, x2, m2.mean, m2.variance]);
});

test('building taps and a forward pass leak no tensors', () => {
  const fm = tinyIResNet();
  const before = tf.memory().numTensors;
  const taps = new BnTaps(fm.model);
  tf.tidy(() => {
    const out = taps.apply(tf.zeros([2, 16, 16, 3]) as tf.Tensor4D);
    return out.embedding.sum();
  }).dispose();
  expect(tf.memory().numTensors).toBe(before);
  fm.model.dispose();
});
