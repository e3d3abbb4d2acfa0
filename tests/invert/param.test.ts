import * as tf from '@tensorflow/tfjs';
import { colourMixing, FACE_COLOUR } from '../../src/invert/colour.js';
import { createImageParam, dctMatrix, initialParams, spectrumScale } from '../../src/invert/param.js';
import { useWasm } from '../helpers/backend.js';

beforeAll(useWasm);

const FOURIER = { parametrisation: 'fourier', colour: 'decorrelated', fourierDecay: 1 } as const;

test('dctMatrix is orthonormal, row 0 constant, row k with k sign changes', () => {
  const n = 6;
  const d = dctMatrix(n);
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += d[a * n + i] * d[b * n + i];
      expect(dot).toBeCloseTo(a === b ? 1 : 0, 6);
    }
  for (let i = 0; i < n; i++) expect(d[i]).toBeCloseTo(1 / Math.sqrt(n), 7);
  expect(d[1 * n + 0]).toBeCloseTo(Math.sqrt(2 / n) * Math.cos(Math.PI / (2 * n)), 7);
});

test('spectrumScale: 1/f with f in cycles per pixel, floored at 1/max(h, w), times 1/4', () => {
  const s = spectrumScale(4, 8, 1);
  expect(s[0]).toBeCloseTo(0.25 * 8, 6); // DC: floor 1/8
  expect(s[1]).toBeCloseTo(0.25 * 8, 6); // f = 1/16 < 1/8: floored
  expect(s[3]).toBeCloseTo(0.25 / (3 / 16), 5); // (u, v) = (0, 3): f = 3/16
  expect(s[3 * 8 + 7]).toBeCloseTo(0.25 / Math.hypot(3 / 8, 7 / 16), 5);
  expect(spectrumScale(4, 8, 0)[3 * 8 + 7]).toBeCloseTo(0.25, 7);
});

test('pixel + rgb renders the parameters themselves', () => {
  const p = createImageParam({ parametrisation: 'pixel', colour: 'rgb', fourierDecay: 1 }, 4, 4);
  const x = tf.randomNormal([1, 4, 4, 3]) as tf.Tensor4D;
  expect(p.identity).toBe(true);
  expect(p.render(x)).toBe(x);
  x.dispose();
});

test('fourier + decorrelated: tanh(atanh(mean) + M · D_hᵀ (S ⊙ C) D_w), by explicit sums in float64', () => {
  const [h, w] = [4, 6];
  const param = createImageParam(FOURIER, h, w);
  const coeffs = Float32Array.from({ length: h * w * 3 }, (_, k) => Math.sin(k * 0.7) * 0.05);
  const out = tf.tidy(() => param.render(tf.tensor4d(coeffs, [1, h, w, 3])).dataSync());
  const dh = dctMatrix(h);
  const dw = dctMatrix(w);
  const s = spectrumScale(h, w, 1);
  const m = colourMixing(FACE_COLOUR);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const ch = [0, 1, 2].map((c) => {
        let v = 0;
        for (let u = 0; u < h; u++)
          for (let q = 0; q < w; q++) v += dh[u * h + y] * s[u * w + q] * coeffs[(u * w + q) * 3 + c] * dw[q * w + x];
        return v;
      });
      for (let r = 0; r < 3; r++) {
        const lin = Math.atanh(FACE_COLOUR.mean[r]) + m[r * 3] * ch[0] + m[r * 3 + 1] * ch[1] + m[r * 3 + 2] * ch[2];
        expect(out[(y * w + x) * 3 + r]).toBeCloseTo(Math.tanh(lin), 5);
      }
    }
  param.dispose();
});

test('zero parameters render the mean face colour everywhere', () => {
  const param = createImageParam(FOURIER, 8, 8);
  const out = tf.tidy(() => param.render(tf.zeros([2, 8, 8, 3]) as tf.Tensor4D).dataSync());
  for (let k = 0; k < out.length; k++) expect(out[k]).toBeCloseTo(FACE_COLOUR.mean[k % 3], 5);
  param.dispose();
});

test('the render gradient on wasm equals the cpu backend one', async () => {
  const run = (): Float32Array => {
    const param = createImageParam(FOURIER, 8, 12);
    const coeffs = tf.tensor4d(
      Float32Array.from({ length: 2 * 8 * 12 * 3 }, (_, k) => Math.cos(k) * 0.1),
      [2, 8, 12, 3],
    );
    const weights = tf.tensor4d(
      Float32Array.from({ length: 2 * 8 * 12 * 3 }, (_, k) => Math.sin(k * 1.3)),
      [2, 8, 12, 3],
    );
    const g = tf.grad((c: tf.Tensor) => tf.sum(tf.mul(param.render(c as tf.Tensor4D), weights)))(coeffs);
    const v = g.dataSync() as Float32Array;
    tf.dispose([coeffs, weights, g]);
    param.dispose();
    return v;
  };
  const wasm = run();
  await tf.setBackend('cpu');
  const cpu = run();
  await useWasm();
  let maxDiff = 0;
  for (let k = 0; k < cpu.length; k++) maxDiff = Math.max(maxDiff, Math.abs(cpu[k] - wasm[k]));
  expect(maxDiff).toBeLessThan(1e-4);
  // Not a vanishing gradient: the low frequencies get the large 1/f gains.
  expect(Math.max(...cpu.map(Math.abs))).toBeGreaterThan(0.1);
});

test('initialParams: pixel noise clipped to [−1, 1] at initStd; fourier noise at 0.01, unclipped', () => {
  const draw = (k: number, std: number): tf.Tensor3D => tf.fill([4, 4, 3], (k + 1) * 50 * std) as tf.Tensor3D;
  const pixel = createImageParam({ parametrisation: 'pixel', colour: 'rgb', fourierDecay: 1 }, 4, 4);
  const fourier = createImageParam(FOURIER, 4, 4);
  const a = initialParams(pixel, draw, 2, 0.25);
  const b = initialParams(fourier, draw, 2, 0.25);
  expect([a.dataSync()[0], a.dataSync()[48]]).toEqual([1, 1]); // 12.5 and 25, clipped
  expect(b.dataSync()[0]).toBeCloseTo(0.5, 6);
  expect(b.dataSync()[48]).toBeCloseTo(1, 6);
  tf.dispose([a, b]);
  fourier.dispose();
});

test('no tensor leaks: create, render, gradient, dispose', () => {
  const before = tf.memory().numTensors;
  const param = createImageParam(FOURIER, 8, 8);
  const c = tf.randomNormal([1, 8, 8, 3]) as tf.Tensor4D;
  const g = tf.grad((v: tf.Tensor) => tf.sum(param.render(v as tf.Tensor4D)))(c);
  const img = param.render(c);
  tf.dispose([g, img, c]);
  param.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
