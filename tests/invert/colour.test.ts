import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { colourMixing, FACE_COLOUR, faceColourStatistics, symmetricEigen3 } from '../../src/invert/colour.js';
import { loadImageFolder } from '../../src/io/imageFolder.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TRAIN = path.resolve(repoRoot, '../shared/data/train');
const HAVE_TRAIN = existsSync(TRAIN);

const matmul3 = (a: number[], b: number[]): number[] =>
  Array.from({ length: 9 }, (_, k) =>
    [0, 1, 2].reduce((s, j) => s + a[Math.floor(k / 3) * 3 + j] * b[j * 3 + (k % 3)], 0),
  );
const transpose3 = (a: number[]): number[] => [0, 3, 6, 1, 4, 7, 2, 5, 8].map((k) => a[k]);

test('symmetricEigen3: U Λ Uᵀ gives the matrix back, U orthonormal, values descending', () => {
  const a = [4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 1];
  const { values, vectors } = symmetricEigen3(a);
  expect(values[0]).toBeGreaterThan(values[1]);
  expect(values[1]).toBeGreaterThan(values[2]);
  const lambda = [values[0], 0, 0, 0, values[1], 0, 0, 0, values[2]];
  const back = matmul3(matmul3(vectors, lambda), transpose3(vectors));
  back.forEach((v, k) => expect(v).toBeCloseTo(a[k], 10));
  matmul3(transpose3(vectors), vectors).forEach((v, k) => expect(v).toBeCloseTo(k % 4 === 0 ? 1 : 0, 10));
  // The trace is invariant.
  expect(values.reduce((s, v) => s + v)).toBeCloseTo(8, 10);
});

test('symmetricEigen3 of a diagonal matrix: its diagonal, sorted', () => {
  expect(symmetricEigen3([1, 0, 0, 0, 5, 0, 0, 0, 3]).values).toEqual([5, 3, 1]);
});

test('colourMixing: M Mᵀ is the covariance over the largest column norm², whose column has norm 1', () => {
  const m = colourMixing(FACE_COLOUR);
  const norms = [0, 1, 2].map((j) => Math.hypot(m[j], m[3 + j], m[6 + j]));
  expect(Math.max(...norms)).toBeCloseTo(1, 12);
  const mmt = matmul3(m, transpose3(m));
  const { values } = symmetricEigen3(FACE_COLOUR.covariance);
  // The largest column of U√Λ is the luminance one, of norm √λ₁.
  mmt.forEach((v, k) => expect(v).toBeCloseTo(FACE_COLOUR.covariance[k] / values[0], 10));
  // Luminance: the first channel mixes into R, G and B with the same sign.
  expect(m[0] * m[3]).toBeGreaterThan(0);
  expect(m[0] * m[6]).toBeGreaterThan(0);
});

test('faceColourStatistics of a two-pixel image: mean and covariance by hand', async () => {
  const { promises: fsp } = await import('node:fs');
  const os = await import('node:os');
  const sharp = (await import('sharp')).default;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'colour-'));
  const file = path.join(dir, 'two.png');
  // Pixels (255, 0, 127.5±) and (0, 255, 127.5±): bytes 255/0 are ±1.
  await sharp(Buffer.from([255, 0, 255, 0, 255, 0]), { raw: { width: 2, height: 1, channels: 3 } })
    .png()
    .toFile(file);
  const s = await faceColourStatistics([file]);
  expect(s.mean).toEqual([0, 0, 0]);
  // R and B are the same, G opposite: cov = [[1, −1, 1], [−1, 1, −1], [1, −1, 1]].
  expect(s.covariance).toEqual([1, -1, 1, -1, 1, -1, 1, -1, 1]);
  await fsp.rm(dir, { recursive: true });
});

(HAVE_TRAIN ? test : test.skip)(
  'FACE_COLOUR matches 300 training faces (../shared/data/train)',
  async () => {
    const ds = await loadImageFolder(TRAIN);
    const k = Math.floor(ds.items.length / 300);
    const files = ds.items
      .filter((_, i) => i % k === 5)
      .slice(0, 300)
      .map((it) => it.path);
    const s = await faceColourStatistics(files);
    s.mean.forEach((v, i) => expect(Math.abs(v - FACE_COLOUR.mean[i])).toBeLessThan(0.05));
    s.covariance.forEach((v, i) => expect(Math.abs(v - FACE_COLOUR.covariance[i])).toBeLessThan(0.03));
  },
  60_000,
);
