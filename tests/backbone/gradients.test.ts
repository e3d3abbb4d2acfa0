/**
 * Every backbone trains and inverts on wasm: the input gradient matches the cpu backend, and
 * `optimizer.minimize` over all weights (training mode) updates every weight with finite
 * values. Tiny widths keep it fast; the layer structure is the real one.
 */
import * as tf from '@tensorflow/tfjs';
import { BACKBONE_NAMES, type BackboneConfig, type BackboneName } from '../../src/backbone/index.js';
import { buildBackbone } from '../../src/model/build.js';
import { selectBackend } from '../../src/engine/backend.js';

const TINY: Record<BackboneName, Partial<BackboneConfig>> = {
  mobilefacenet: { inputSize: [32, 32], embeddingSize: 8, width: 8, blocks: [1, 1, 1, 1], headChannels: 16 },
  iresnet18: { inputSize: [16, 16], embeddingSize: 8, widths: [4, 4, 8, 8] },
  iresnet34: { inputSize: [16, 16], embeddingSize: 8, widths: [4, 4, 4, 4] },
  iresnet50: { inputSize: [16, 16], embeddingSize: 8, widths: [4, 4, 4, 4] },
};

/** Gradient of a fixed scalar of the embedding w.r.t. the input, in inference mode. */
function inputGradient(name: BackboneName): Float32Array {
  const fm = buildBackbone(name, { ...TINY[name], seed: 3 });
  const [h, w] = fm.meta.inputSize;
  const g = tf.tidy(() => {
    const x = tf.randomUniform([2, h, w, 3], -1, 1, 'float32', 4);
    const f = (xi: tf.Tensor) =>
      tf.sum(tf.mul(fm.model.apply(xi, { training: false }) as tf.Tensor, tf.linspace(-1, 1, 8)));
    return tf.grad(f)(x).dataSync() as Float32Array;
  });
  fm.model.dispose();
  return Float32Array.from(g);
}

describe.each(BACKBONE_NAMES)('%s', (name) => {
  test('input gradient on wasm equals the cpu backend', async () => {
    await selectBackend('cpu');
    const ref = inputGradient(name);
    await selectBackend('wasm');
    const got = inputGradient(name);
    const scale = Math.max(...ref.map(Math.abs));
    const err = Math.max(...got.map((v, i) => Math.abs(v - ref[i]))) / scale;
    expect(scale).toBeGreaterThan(0);
    expect(err).toBeLessThan(1e-4);
  });

  test('optimizer.minimize over all weights on wasm updates every weight', async () => {
    await selectBackend('wasm');
    const fm = buildBackbone(name, { ...TINY[name], seed: 5 });
    const [h, w] = fm.meta.inputSize;
    const x = tf.randomUniform([4, h, w, 3], -1, 1, 'float32', 6);
    const target = tf.randomNormal([4, 8], 0, 1, 'float32', 7);
    const vars = fm.model.trainableWeights.map((v) => v.read() as tf.Variable);
    const before = vars.map((v) => v.dataSync().slice());
    const opt = tf.train.sgd(0.01);
    const n0 = tf.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const loss = opt.minimize(
        () => tf.losses.meanSquaredError(target, fm.model.apply(x, { training: true }) as tf.Tensor),
        true,
        vars,
      );
      losses.push(loss!.dataSync()[0]);
      loss!.dispose();
    }
    expect(tf.memory().numTensors).toBe(n0);
    expect(losses.every(Number.isFinite)).toBe(true);
    vars.forEach((v, i) => {
      const after = v.dataSync();
      expect(after.every(Number.isFinite)).toBe(true);
      expect(after).not.toEqual(before[i]);
    });
    tf.dispose([x, target]);
    opt.dispose();
    fm.model.dispose();
  });
});
