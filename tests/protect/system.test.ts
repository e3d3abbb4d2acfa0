/**
 * The protected system as a judge, and the two attacks on its stolen templates
 * (src/protect/system.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { RasterImage } from '../../src/align/warp.js';
import type { Judge } from '../../src/judge/types.js';
import { makeKey, protect, similarity } from '../../src/protect/schemes.js';
import { attackTemplates, comparableRows, protectedJudge } from '../../src/protect/system.js';
import { useWasm } from '../helpers/backend.js';
import { unitRows } from './fixtures.js';

beforeAll(() => useWasm());

const dot = (a: Float32Array, i: number, b: Float32Array, j: number, d: number): number => {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
  return s;
};

/** A judge that returns fixed rows, one per crop in order, and counts its calls. */
function fixedJudge(rows: Float32Array, dim: number): Judge & { calls: number } {
  const j = {
    name: 'fixed',
    dim,
    description: 'fixed rows',
    calls: 0,
    embed: async (crops: readonly RasterImage[]) => {
      j.calls++;
      return rows.slice(0, crops.length * dim);
    },
    dispose: () => undefined,
  };
  return j;
}

const crops = (n: number): RasterImage[] =>
  Array.from({ length: n }, () => ({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }));

it('bit strings become ±1 unit rows whose cosine is 1 − 2·Hamming/bits', () => {
  const rows = comparableRows({
    data: Float32Array.from([1, 0, 1, 1, 1, 1, 0, 1]),
    n: 2,
    dim: 4,
    comparison: 'hamming',
  });
  // Each row is (±1)/2; the rows differ in 2 of 4 bits: cosine 1 − 2·2/4 = 0.
  expect(Array.from(rows)).toEqual([0.5, -0.5, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5]);
  expect(dot(rows, 0, rows, 1, 4)).toBe(0);
  const cos = comparableRows({ data: Float32Array.from([3, 4]), n: 1, dim: 2, comparison: 'cosine' });
  expect(Array.from(cos)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
});

it('the protected judge orders pairs as the scheme compares them', async () => {
  const d = 32;
  const x = unitRows(6, d, 3);
  const key = makeKey('biohash', d, 11, { bits: 24 });
  const judge = protectedJudge(fixedJudge(x, d), key, 5);
  expect([judge.name, judge.dim]).toEqual(['protected-biohash', 24]);
  expect(judge.description).toBe('fixed protected by biohash bits=24, compared by hamming');
  const e = await judge.embed(crops(6));
  const p = protect(key, x, 6);
  for (let i = 0; i < 6; i++)
    for (let j = 0; j < 6; j++) expect(dot(e, i, e, j, 24)).toBeCloseTo(2 * similarity(p, i, p, j) - 1, 6);
});

it('the noise system draws fresh noise per call, reproducibly from its seed, and does not own the model', async () => {
  const d = 16;
  const x = unitRows(2, d, 4);
  const key = makeKey('noise', d, 0, { sigma: 0.5 });
  const inner = fixedJudge(x, d);
  let disposed = false;
  inner.dispose = () => (disposed = true);
  const a = protectedJudge(inner, key, 9);
  const b = protectedJudge(inner, key, 9);
  const a1 = await a.embed(crops(2));
  const a2 = await a.embed(crops(2));
  expect(Array.from(a1)).not.toEqual(Array.from(a2));
  expect(Array.from(await b.embed(crops(2)))).toEqual(Array.from(a1));
  a.dispose();
  expect(disposed).toBe(false);
});

it('key stolen: a full-rank projection is inverted exactly; key unknown: the guess is unrelated', () => {
  const d = 64;
  const n = 5;
  const x = unitRows(n, d, 8);
  const key = makeKey('project', d, 21, { dim: d });
  const stolen = attackTemplates(key, x, n, 'key-stolen', 1);
  expect(stolen.attackerSeed).toBe(21);
  for (const c of stolen.cosineToTrue) expect(c).toBeCloseTo(1, 5);
  for (const s of stolen.protectedSimilarity) expect(s).toBeCloseTo(1, 5);
  const unknown = attackTemplates(key, x, n, 'key-unknown', 1);
  expect(unknown.attackerSeed).not.toBe(21);
  // A random rotation's guess: cosines of unrelated 64-d directions (σ = 1/8).
  for (const c of unknown.cosineToTrue) expect(Math.abs(c)).toBeLessThan(0.5);
  expect(Math.max(...unknown.protectedSimilarity)).toBeLessThan(0.5);
});

it('key unknown on a keyless scheme is the key-stolen attack (nothing in the key is secret)', () => {
  const d = 32;
  const x = unitRows(4, d, 2);
  const key = makeKey('sign', d, 7);
  const a = attackTemplates(key, x, 4, 'key-unknown', 3);
  const b = attackTemplates(key, x, 4, 'key-stolen', 3);
  expect(a.attackerSeed).toBe(7);
  expect(Array.from(a.recovered)).toEqual(Array.from(b.recovered));
  // sign(x) as ±1/√d: cosine to x is ‖x‖₁/√d, the same bits again once protected.
  for (let i = 0; i < 4; i++) {
    const l1 = x.subarray(i * d, (i + 1) * d).reduce((s, v) => s + Math.abs(v), 0);
    expect(a.cosineToTrue[i]).toBeCloseTo(l1 / Math.sqrt(d), 5);
    expect(a.protectedSimilarity[i]).toBe(1);
  }
});

it('the biohash attack owns no tensors once done', () => {
  const d = 32;
  const x = unitRows(3, d, 5);
  const key = makeKey('biohash', d, 2, { bits: 16 });
  const before = tf.memory().numTensors;
  const a = attackTemplates(key, x, 3, 'key-stolen', 0, { steps: 20 });
  expect(tf.memory().numTensors).toBe(before);
  for (const s of a.protectedSimilarity) expect(s).toBeGreaterThan(0.8);
});
