import * as tf from '@tensorflow/tfjs';
import { recoverEmbeddings } from '../../src/protect/recover.js';
import { makeKey, protect } from '../../src/protect/schemes.js';
import { unitRows } from './fixtures.js';
import { useWasm } from '../helpers/backend.js';

beforeAll(useWasm);

const meanCos = (a: Float32Array, b: Float32Array, d: number): number => {
  let s = 0;
  for (let r = 0; r < a.length / d; r++) for (let k = 0; k < d; k++) s += a[r * d + k] * b[r * d + k];
  return s / (a.length / d);
};

test('closed forms: a full-dimension projection is undone exactly, noise σ = 0 and 2-bit quantisation nearly', () => {
  const d = 32;
  const x = unitRows(6, d, 1);
  const full = makeKey('project', d, 3, { dim: d });
  expect(meanCos(recoverEmbeddings(full, protect(full, x, 6)), x, d)).toBeCloseTo(1, 5);
  const noise = makeKey('noise', d, 3, { sigma: 0 });
  expect(meanCos(recoverEmbeddings(noise, protect(noise, x, 6, 1)), x, d)).toBeCloseTo(1, 5);
  const q = makeKey('quantize', d, 0, { bits: 2 }, { data: unitRows(200, d, 2), n: 200 });
  expect(meanCos(recoverEmbeddings(q, protect(q, x, 6)), x, d)).toBeGreaterThan(0.85);
});

test('with the stolen key, BioHash and PolyProtect templates give back embeddings close to the originals; a wrong key does not', () => {
  const d = 32;
  const x = unitRows(4, d, 5);
  const n0 = tf.memory().numTensors;
  const bio = makeKey('biohash', d, 7, { bits: d });
  const bioBack = recoverEmbeddings(bio, protect(bio, x, 4), { steps: 200 });
  expect(meanCos(bioBack, x, d)).toBeGreaterThan(0.7);
  const wrong = makeKey('biohash', d, 8, { bits: d });
  expect(Math.abs(meanCos(recoverEmbeddings(wrong, protect(bio, x, 4), { steps: 50 }), x, d))).toBeLessThan(0.5);
  const poly = makeKey('polyprotect', d, 7, { window: 4, overlap: 3 });
  const polyBack = recoverEmbeddings(poly, protect(poly, x, 4), { steps: 300, lr: 0.02 });
  // The polynomial map is compared by cosine: recovered up to what its windows determine.
  expect(meanCos(polyBack, x, d)).toBeGreaterThan(0.5);
  expect(tf.memory().numTensors).toBe(n0);
}, 60_000);
