/**
 * The fused inference BatchNorm (+ PReLU) with its input's batch statistics (`simd/simd.ts`
 * `bnAct`, run by `FrozenGraph` on wasm): `BnTaps.statsAt` on wasm against the unfused layers
 * and `channelStats` on tfjs-backend-cpu, values and input gradients (relErr ≤ 1e-4), with
 * BatchNorm parameters and PReLU slopes far from their initial values; which kernels run; and
 * no tensors left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { BnTaps } from '../../src/bnprior/taps.js';
import { selectBackend } from '../../src/engine/backend.js';
import { TrainGraph } from '../../src/engine/layerGraph.js';
import { random, randomMapped, relErr, TOLERANCE } from './compare.js';

/**
 * conv → BN → PReLU → 1×1 conv → BN → pool → PReLU → dense → BN (rank 2, the model's output): a BN
 * fused with its PReLU, one alone inside the net and one whose output the model returns.
 */
function model(): tf.LayersModel {
  const input = tf.input({ shape: [6, 5, 3] });
  let t = tf.layers
    .conv2d({ name: 'c1', filters: 8, kernelSize: 3, padding: 'same', useBias: false })
    .apply(input) as tf.SymbolicTensor;
  t = tf.layers.batchNormalization({ name: 'bn1' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.prelu({ name: 'p1', sharedAxes: [1, 2] }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.conv2d({ name: 'c2', filters: 12, kernelSize: 1, useBias: false }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.batchNormalization({ name: 'bn2' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(t) as tf.SymbolicTensor;
  // Not linear between bn2 and bn3: through linear layers alone, a training-mode BN's input
  // gradient sums to zero over the batch, and so would β's gradient of the BN before it.
  t = tf.layers.prelu({ name: 'p2' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.dense({ name: 'fc', units: 8, useBias: false }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.batchNormalization({ name: 'bn3' }).apply(t) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: t });
  // Every weight drawn, so that γ, β, the running statistics and α all matter.
  const maps: Record<string, (v: number) => number> = {
    gamma: (v) => 1 + 0.5 * v,
    beta: (v) => 0.5 * v,
    moving_mean: (v) => 0.5 * v,
    moving_variance: (v) => 1.25 + 0.75 * v,
    alpha: (v) => 0.5 * v,
  };
  m.weights.forEach((w, i) => {
    const kind = w.originalName.split('/').at(-1)!;
    const r = randomMapped(w.shape as number[], 700 + i, maps[kind] ?? ((v) => v));
    w.write(tf.tensor(r.data, w.shape as number[]));
  });
  return m;
}

/** The tap statistics and embedding of `x`, and the gradient of a weighted sum of them w.r.t. x, as plain values. */
function run(taps: BnTaps, x: Float32Array, shape: number[]): Float32Array[] {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, shape as [number, number, number, number]);
    const parts = (xi: tf.Tensor4D): tf.Tensor[] => {
      const { stats, embedding } = taps.statsAt(xi, [0, 1, 2]);
      return [...stats, embedding];
    };
    const weighted = (xi: tf.Tensor): tf.Scalar =>
      tf.addN(
        parts(xi as tf.Tensor4D).map((o, i) => tf.sum(tf.mul(o, tf.tensor(random(o.shape, 800 + i).data, o.shape)))),
      ) as tf.Scalar;
    const values = parts(xt).map((t) => t.dataSync() as Float32Array);
    return [...values, tf.grad(weighted)(xt).dataSync() as Float32Array];
  });
}

test('BnTaps.statsAt on wasm (fused) equals the unfused layers and channelStats on cpu, values and input gradient', async () => {
  const x = random([3, 6, 5, 3], 71);
  await selectBackend('cpu');
  const refModel = model();
  const ref = run(new BnTaps(refModel), x.data, x.shape);
  refModel.dispose();
  await selectBackend('wasm');
  const m = model();
  const taps = new BnTaps(m);
  const before = tf.memory().numTensors;
  const got = run(taps, x.data, x.shape);
  expect(tf.memory().numTensors).toBe(before);
  expect(got).toHaveLength(5); // three [2, C] statistics, the embedding, the gradient
  got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThanOrEqual(TOLERANCE));
  m.dispose();
});

test('on wasm each BatchNorm runs as one fused kernel forward and one backward, PReLU inside it', async () => {
  await selectBackend('wasm');
  const m = model();
  const taps = new BnTaps(m);
  const x = tf.tensor4d(random([2, 6, 5, 3], 72).data, [2, 6, 5, 3]);
  const profile = await tf.profile(() =>
    tf.grad((xi: tf.Tensor) => {
      const { stats, embedding } = taps.statsAt(xi as tf.Tensor4D, [0, 1, 2]);
      return tf.addN([...stats.map((s) => tf.sum(s)), tf.sum(embedding)]) as tf.Scalar;
    })(x),
  );
  (profile.result as tf.Tensor).dispose();
  const count = (name: string): number => profile.kernels.filter((k) => k.name === name).length;
  expect(count('ArcinvertBnAct')).toBe(3);
  expect(count('ArcinvertBnActDx')).toBe(3);
  expect(count(tf.FusedBatchNorm)).toBe(0);
  expect(count(tf.Prelu)).toBe(1); // p2, after the pooling: no BatchNorm before it
  expect(count('ArcinvertChannelStats')).toBe(0); // the statistics come from the fused kernel
  x.dispose();
  m.dispose();
});

/** Training mode through TrainGraph: outputs, every weight's gradient and the moving statistics after one step, as plain values. */
function trainRun(m: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array[] {
  const graph = new TrainGraph(m);
  const values = tf.tidy(() => {
    const xt = tf.tensor4d(x, shape as [number, number, number, number]);
    const trainable = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => {
      const [out] = graph.apply(xt);
      return tf.sum(tf.mul(out!, tf.tensor(random(out!.shape, 900).data, out!.shape))) as tf.Scalar;
    }, trainable);
    return [value.dataSync() as Float32Array, ...trainable.map((v) => grads[v.name]!.dataSync() as Float32Array)];
  });
  const moving = m.weights
    .filter((w) => /moving_(mean|variance)$/.test(w.originalName))
    .map((w) => w.read().dataSync() as Float32Array);
  return [...values, ...moving];
}

test('TrainGraph on wasm (fused, batch statistics) equals the unfused layers on cpu: output, every weight gradient, moving statistics', async () => {
  const x = random([3, 6, 5, 3], 73);
  await selectBackend('cpu');
  const refModel = model();
  const ref = trainRun(refModel, x.data, x.shape);
  refModel.dispose();
  await selectBackend('wasm');
  const m = model();
  const before = tf.memory().numTensors;
  const got = trainRun(m, x.data, x.shape);
  expect(tf.memory().numTensors).toBe(before);
  // the loss, 11 trainable weights (2 convs, 3 × γ and β, 2 × α, the dense kernel), 6 moving statistics
  expect(got).toHaveLength(1 + 11 + 6);
  got.forEach((g, i) => expect(relErr(g, ref[i]!)).toBeLessThanOrEqual(TOLERANCE));
  m.dispose();
});

test('in training mode each BatchNorm runs as one fused kernel forward, its sums and one dx kernel backward', async () => {
  await selectBackend('wasm');
  const m = model();
  const graph = new TrainGraph(m);
  const x = tf.tensor4d(random([2, 6, 5, 3], 74).data, [2, 6, 5, 3]);
  const trainable = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const profile = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(graph.apply(x)[0]!) as tf.Scalar, trainable);
    return [value, ...Object.values(grads)];
  });
  tf.dispose(profile.result as tf.Tensor[]);
  const count = (name: string): number => profile.kernels.filter((k) => k.name === name).length;
  expect([count('ArcinvertBnTrainAct'), count('ArcinvertBnActSums'), count('ArcinvertBnActDx')]).toEqual([3, 3, 3]);
  expect([count(tf.FusedBatchNorm), count(tf.Prelu)]).toEqual([0, 1]); // p2 alone
  x.dispose();
  m.dispose();
});
