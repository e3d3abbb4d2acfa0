import { ArcinvertError } from '../../src/errors.js';
import { orthonormalRows } from '../../src/protect/linalg.js';
import {
  checkKey,
  makeKey,
  parseSchemeSpec,
  polyKey,
  protect,
  similarity,
  type Protected,
} from '../../src/protect/schemes.js';
import { unitRows } from './fixtures.js';

const cos = (x: Float32Array, i: number, j: number, d: number): number => {
  let s = 0;
  for (let k = 0; k < d; k++) s += x[i * d + k] * x[j * d + k];
  return s;
};

test('orthonormalRows: M Mᵀ = I, seeded', () => {
  const m = orthonormalRows(4, 6, 9);
  for (let a = 0; a < 4; a++)
    for (let b = 0; b < 4; b++) {
      let s = 0;
      for (let k = 0; k < 6; k++) s += m[a * 6 + k] * m[b * 6 + k];
      expect(s).toBeCloseTo(a === b ? 1 : 0, 10);
    }
  expect(orthonormalRows(4, 6, 9)).toEqual(m);
  expect(orthonormalRows(4, 6, 10)).not.toEqual(m);
});

test('noise: fresh noise per call unless the draws are given; the key does not fix it', () => {
  const x = unitRows(2, 32, 1);
  const key = makeKey('noise', 32, 5, { sigma: 0.5 });
  expect(protect(key, x, 2).data).not.toEqual(protect(key, x, 2).data);
  expect(protect(key, x, 2, 9).data).toEqual(protect(key, x, 2, 9).data);
});

test('mlphash with a single layer: layers=16 (a number) is one layer of 16 bits', () => {
  const p = protect(makeKey('mlphash', 8, 1, { layers: 16 }), unitRows(1, 8, 2), 1);
  expect(p.dim).toBe(16);
});

test('noise σ = 0 is the template itself; σ > 0 moves it by about σ and renormalises', () => {
  const x = unitRows(3, 64, 1);
  const same = protect(makeKey('noise', 64, 5, { sigma: 0 }), x, 3);
  same.data.forEach((v, k) => expect(v).toBeCloseTo(x[k], 6));
  const noisy = protect(makeKey('noise', 64, 5, { sigma: 0.5 }), x, 3);
  for (let r = 0; r < 3; r++) {
    const c = similarity(noisy, r, { ...noisy, data: x }, r);
    // cos(x, (x + n)/‖x + n‖) ≈ 1/√(1 + σ²) = 0.894 for ‖n‖ ≈ σ.
    expect(c).toBeGreaterThan(0.8);
    expect(c).toBeLessThan(0.97);
  }
});

test('quantize uniform, 1 bit: thresholds at 0, values ±0.5', () => {
  const key = makeKey('quantize', 4, 0, { bits: 1, mode: 'uniform' });
  expect(key.fitted!.thresholds).toEqual([0, 0, 0, 0]);
  const p = protect(key, Float32Array.of(0.5, -0.5, 0.1, -0.7), 1);
  expect(Array.from(p.data)).toEqual([0.5, -0.5, 0.5, -0.5]);
});

test('quantize quantile, 2 bits: per-dimension quartiles of the enrolment data, levels centred', () => {
  // One dimension, enrolment values 1…8: thresholds at the 2nd, 4th, 6th sorted values (3, 5, 7).
  const enrol = Float32Array.of(8, 1, 7, 2, 6, 3, 5, 4);
  const key = makeKey('quantize', 1, 0, { bits: 2, mode: 'quantile' }, { data: enrol, n: 8 });
  expect(key.fitted!.thresholds).toEqual([3, 5, 7]);
  const p = protect(key, Float32Array.of(0, 3, 3.5, 6, 9), 5);
  expect(Array.from(p.data)).toEqual([-1.5, -1.5, -0.5, 0.5, 1.5]);
  expect(() => makeKey('quantize', 1, 0, { bits: 2 })).toThrow('quantile thresholds need enrolment templates');
});

test('sign: one bit per dimension, compared by 1 − Hamming / bits', () => {
  const p = protect(makeKey('sign', 4, 0), Float32Array.of(0.2, -0.1, 0, 0.5, -0.2, -0.1, 0.3, 0.5), 2);
  expect(Array.from(p.data)).toEqual([1, 0, 0, 1, 0, 0, 1, 1]);
  expect(p.comparison).toBe('hamming');
  expect(similarity(p, 0, p, 1)).toBe(0.5);
});

test('project to the full dimension is a rotation: cosines kept; to fewer, unit rows of that dimension', () => {
  const x = unitRows(4, 16, 3);
  const full = protect(makeKey('project', 16, 7, { dim: 16 }), x, 4);
  expect(similarity(full, 0, full, 1)).toBeCloseTo(cos(x, 0, 1, 16), 5);
  expect(similarity(full, 2, full, 3)).toBeCloseTo(cos(x, 2, 3, 16), 5);
  const half = protect(makeKey('project', 16, 7), x, 4);
  expect(half.dim).toBe(8);
  expect(Math.hypot(...half.data.subarray(0, 8))).toBeCloseTo(1, 5);
});

test('biohash: bits of the keyed projection; the same token gives the same code, another token another', () => {
  const x = unitRows(2, 32, 4);
  const a = protect(makeKey('biohash', 32, 1, { bits: 16 }), x, 2);
  const b = protect(makeKey('biohash', 32, 1, { bits: 16 }), x, 2);
  const c = protect(makeKey('biohash', 32, 2, { bits: 16 }), x, 2);
  expect(a.dim).toBe(16);
  expect(a.data).toEqual(b.data);
  expect(a.data).not.toEqual(c.data);
  expect(new Set(a.data)).toEqual(new Set([0, 1]));
  expect(similarity(a, 0, b, 0)).toBe(1);
});

test('mlphash: a bit string of the last layer width, deterministic in the seed', () => {
  const x = unitRows(3, 8, 6);
  const key = makeKey('mlphash', 8, 3, { layers: '32x12' });
  const p = protect(key, x, 3);
  expect([p.dim, p.comparison]).toEqual([12, 'hamming']);
  expect(protect(key, x, 3).data).toEqual(p.data);
  expect(makeKey('mlphash', 8, 3).options.layers).toBe('16x8');
});

test('polyprotect: Σₖ cₖ·v^eₖ over windows of m with overlap, the last padded with zeros, by hand', () => {
  const key = makeKey('polyprotect', 6, 11, { window: 3, overlap: 1 });
  const { c, e } = polyKey(key);
  expect(c.every((v) => v !== 0 && Math.abs(v) <= 50 && Number.isInteger(v))).toBe(true);
  expect([...e].sort()).toEqual([1, 2, 3]);
  const x = Float32Array.of(0.1, -0.2, 0.3, 0.4, -0.5, 0.6);
  const p = protect(key, x, 1);
  // Step 2: windows start at 0, 2, 4; the last one is (x4, x5, 0).
  const w = (start: number): number =>
    [0, 1, 2].reduce((s, k) => s + (start + k < 6 ? c[k] * x[start + k] ** e[k] : 0), 0);
  expect(p.dim).toBe(3);
  [0, 2, 4].forEach((start, i) => expect(p.data[i]).toBeCloseTo(w(start), 5));
});

test('options are checked: unknown and bad values are one-line errors naming them', () => {
  const cases: Array<[() => unknown, string]> = [
    [() => makeKey('noise', 8, 0, { sigma: -1 }), 'noise: sigma must be a number ≥ 0'],
    [() => makeKey('noise', 8, 0, { bits: 2 }), "noise: unknown option 'bits' (options: sigma)"],
    [() => makeKey('project', 8, 0, { dim: 9 }), 'project: dim must be an integer in [1, 8], got 9'],
    [() => makeKey('quantize', 8, 0, { bits: 9 }), 'quantize: bits must be an integer in [1, 8]'],
    [
      () => makeKey('polyprotect', 8, 0, { window: 3, overlap: 3 }),
      'polyprotect: overlap must be an integer in [0, window − 1]',
    ],
    [() => makeKey('mlphash', 8, 0, { layers: '8,4' }), 'mlphash: layers must be widths joined by x'],
    [
      () => protect(makeKey('sign', 8, 0), new Float32Array(6), 1),
      'templates have dimension 6, the sign key is for dimension 8',
    ],
  ];
  for (const [f, message] of cases) {
    expect(f).toThrow(ArcinvertError);
    expect(f).toThrow(message);
  }
});

test('keys round-trip through JSON and are checked when read', () => {
  const enrol = unitRows(8, 4, 2);
  const key = makeKey('quantize', 4, 0, { bits: 2 }, { data: enrol, n: 8 });
  const back = checkKey(JSON.parse(JSON.stringify(key)), 'k.json');
  const x = unitRows(2, 4, 5);
  expect(protect(back, x, 2).data).toEqual(protect(key, x, 2).data);
  expect(() => checkKey({ format: 'x' }, 'k.json')).toThrow('k.json is not an arcinvert protection key');
  expect(() => checkKey({ ...key, fitted: undefined }, 'k.json')).toThrow(
    'the quantize key needs 12 finite fitted thresholds',
  );
  expect(() => checkKey({ ...key, fitted: { thresholds: [0, 1] } }, 'k.json')).toThrow(
    'needs 12 finite fitted thresholds',
  );
  expect(() => checkKey({ ...key, options: null }, 'k.json')).toThrow('is not an arcinvert protection key');
  expect(() => checkKey({ ...key, options: { ...key.options, extra: 1 } }, 'k.json')).toThrow(
    "the quantize key's options must be exactly bits, mode",
  );
});

test('similarity of a template with itself is 1 for every scheme', () => {
  const x = unitRows(2, 16, 8);
  const enrol = { data: unitRows(16, 16, 9), n: 16 };
  for (const scheme of ['noise', 'quantize', 'sign', 'project', 'biohash', 'mlphash', 'polyprotect'] as const) {
    const p: Protected = protect(makeKey(scheme, 16, 1, {}, enrol), x, 2);
    expect(similarity(p, 1, p, 1)).toBeCloseTo(1, 6);
  }
});

test('parseSchemeSpec: name and key=value options joined by colons', () => {
  expect(parseSchemeSpec('biohash:bits=256')).toEqual({ scheme: 'biohash', options: { bits: 256 } });
  expect(parseSchemeSpec('quantize:bits=2:mode=uniform')).toEqual({
    scheme: 'quantize',
    options: { bits: 2, mode: 'uniform' },
  });
  expect(parseSchemeSpec('mlphash:layers=1024x512').options).toEqual({ layers: '1024x512' });
  expect(parseSchemeSpec('sign')).toEqual({ scheme: 'sign', options: {} });
  expect(() => parseSchemeSpec('rot13')).toThrow("unknown protection scheme 'rot13'");
  expect(() => parseSchemeSpec('noise:sigma')).toThrow("scheme options are key=value, got 'sigma'");
});
