import * as tf from '@tensorflow/tfjs';
import { adamDispose, adamInit, adamStep } from '../../src/invert/adam.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const OPTS = { lr: 0.1, beta1: 0.5, beta2: 0.9, epsilon: 1e-8 };

test('first two steps equal PyTorch Adam on a scalar, computed by hand', () => {
  // x₀ = 1; g₁ = 0.5, g₂ = −1; lr 0.1, β = (0.5, 0.9), ε = 1e-8. PyTorch:
  //   m_t = β1·m + (1−β1)·g,  v_t = β2·v + (1−β2)·g²,
  //   x −= lr/(1−β1ᵗ) · m_t / (√v_t/√(1−β2ᵗ) + ε)
  // step 1: m = 0.25, v = 0.025; denom = √0.025/√0.1 = 0.5; x = 1 − 0.2·0.25/0.5 = 0.9
  // step 2: m = 0.125 − 0.5 = −0.375, v = 0.0225 + 0.1 = 0.1225;
  //         denom = 0.35/√0.19 = 0.802955; x = 0.9 − (0.1/0.75)·(−0.375/0.802955) = 0.9 + 0.0622700 = 0.9622700
  const x0 = tf.scalar(1);
  const s0 = adamInit(x0);
  const before = tf.memory().numTensors;
  const g1 = tf.scalar(0.5);
  const r1 = adamStep(x0, g1, s0, OPTS);
  expect(r1.state.t).toBe(1);
  expect(r1.state.m.dataSync()[0]).toBeCloseTo(0.25, 7);
  expect(r1.state.v.dataSync()[0]).toBeCloseTo(0.025, 7);
  expect(r1.x.dataSync()[0]).toBeCloseTo(0.9, 6);
  const g2 = tf.scalar(-1);
  const r2 = adamStep(r1.x, g2, r1.state, OPTS);
  expect(r2.state.t).toBe(2);
  expect(r2.state.m.dataSync()[0]).toBeCloseTo(-0.375, 7);
  expect(r2.state.v.dataSync()[0]).toBeCloseTo(0.1225, 7);
  expect(r2.x.dataSync()[0]).toBeCloseTo(0.96227, 5);
  // The caller owns and disposes the old state; nothing else is left behind.
  tf.dispose([g1, g2, r1.x, r2.x]);
  adamDispose(r1.state);
  adamDispose(r2.state);
  expect(tf.memory().numTensors).toBe(before);
  adamDispose(s0);
  x0.dispose();
});

test('the inputs are not modified', () => {
  const x = tf.tensor1d([1, 2]);
  const g = tf.tensor1d([0.5, -0.5]);
  const s = adamInit(x);
  const r = adamStep(x, g, s, OPTS);
  expect(Array.from(x.dataSync())).toEqual([1, 2]);
  expect(Array.from(s.m.dataSync())).toEqual([0, 0]);
  expect(s.t).toBe(0);
  tf.dispose([x, g, r.x]);
  adamDispose(s);
  adamDispose(r.state);
});

test('a constant gradient moves every element by exactly lr per step, whatever its scale', () => {
  // With g constant, m̂ = g and v̂ = g² exactly, so each step is lr·g/|g|.
  let x: tf.Tensor = tf.tensor1d([0, 0, 0]);
  let s = adamInit(x);
  const g = tf.tensor1d([1e-3, -5, 200]);
  for (let t = 0; t < 3; t++) {
    const r = adamStep(x, g, s, OPTS);
    x.dispose();
    adamDispose(s);
    x = r.x;
    s = r.state;
  }
  const v = x.dataSync();
  expect(v[0]).toBeCloseTo(-0.3, 5);
  expect(v[1]).toBeCloseTo(0.3, 5);
  expect(v[2]).toBeCloseTo(-0.3, 5);
  tf.dispose([x, g]);
  adamDispose(s);
});

test('a zero gradient leaves x unchanged, without NaN', () => {
  const x = tf.tensor1d([1, -2]);
  const g = tf.tensor1d([0.5, 0]);
  const s = adamInit(x);
  const r = adamStep(x, g, s, OPTS);
  const v = Array.from(r.x.dataSync());
  expect(v[0]).toBeCloseTo(0.9, 6);
  expect(v[1]).toBe(-2);
  tf.dispose([x, g, r.x]);
  adamDispose(s);
  adamDispose(r.state);
});
