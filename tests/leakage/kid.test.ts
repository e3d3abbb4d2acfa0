import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { readRaster } from '../../src/align/raster.js';
import { kernelInceptionDistance, kidReport, loadFaceFeatures, noiseImages } from '../../src/leakage/kid.js';
import { Mulberry32 } from '../../src/util/random.js';
import { useWasm } from '../helpers/backend.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LFW = path.resolve(repoRoot, '../shared/data/lfw');
const HAVE_LFW = existsSync(path.join(LFW, 'pairs.txt'));

beforeAll(useWasm);

test('KID by hand: x = {0, 1}, y = {1, 2} in 1-D gives 9.5', () => {
  // k(a, b) = (ab + 1)³: within x k(0,1) = 1, within y k(1,2) = 27, across 1 + 1 + 8 + 27 = 37.
  // 2·1/2 + 2·27/2 − 2·37/4 = 1 + 27 − 18.5.
  expect(kernelInceptionDistance(Float32Array.of(0, 1), 2, Float32Array.of(1, 2), 2, 1)).toBeCloseTo(9.5, 10);
});

test('KID is symmetric, about 0 for two samples of one distribution, positive for shifted ones', () => {
  const rng = new Mulberry32(3);
  const gauss = (n: number, d: number, shift: number): Float32Array =>
    Float32Array.from({ length: n * d }, () => {
      const u = Math.max(1e-12, rng.next());
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next()) + shift;
    });
  const d = 8;
  const a = gauss(400, d, 0);
  const b = gauss(400, d, 0);
  const c = gauss(400, d, 0.5);
  const same = kernelInceptionDistance(a, 400, b, 400, d);
  const shifted = kernelInceptionDistance(a, 400, c, 400, d);
  expect(Math.abs(same)).toBeLessThan(0.02);
  expect(shifted).toBeGreaterThan(0.1);
  expect(kernelInceptionDistance(c, 400, a, 400, d)).toBeCloseTo(shifted, 6);
  expect(() => kernelInceptionDistance(a, 1, b, 400, d)).toThrow('at least 2 rows');
});

test('noiseImages: seeded uniform bytes of the asked size', () => {
  const [a] = noiseImages(1, 8, 1);
  const [b] = noiseImages(1, 8, 1);
  expect(a.data).toEqual(b.data);
  expect([a.width, a.height, a.data.length]).toEqual([8, 8, 192]);
  expect(Math.max(...a.data)).toBeGreaterThan(200);
});

(HAVE_LFW ? test : test.skip)(
  'face-api landmark features: real LFW faces sit near other real faces, noise far; no tensors leak (../shared/data/lfw)',
  async () => {
    const { readdirSync } = await import('node:fs');
    const people = readdirSync(LFW, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const first = (name: string): string => path.join(LFW, name, readdirSync(path.join(LFW, name)).sort()[0]);
    const files = people
      .filter((_, i) => i % 50 === 0)
      .slice(0, 80)
      .map(first);
    const images = await Promise.all(files.map((f) => readRaster(f)));
    const net = await loadFaceFeatures();
    const n0 = tf.memory().numTensors;
    const r = await kidReport(net, {
      reconstructions: noiseImages(20, 64, 9),
      targets: images.slice(0, 20),
      reference: images.slice(20),
    });
    expect(tf.memory().numTensors).toBe(n0);
    net.dispose();
    expect(r.reference).toBe(60);
    expect(Math.abs(r.realFloor)).toBeLessThan(0.2 * r.noiseCeiling);
    expect(r.reconstructions).toBeGreaterThan(0.5 * r.noiseCeiling); // noise "reconstructions"
    expect(r.noiseCeiling).toBeGreaterThan(0);
  },
  60_000,
);
