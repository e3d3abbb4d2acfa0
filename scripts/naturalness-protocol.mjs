#!/usr/bin/env node
// Chooses the naturalness proxy's detection protocol (docs/INVERSION.md, "Measuring naturalness"):
// face-api's SSD-MobileNet v1 and Tiny Face Detector on aligned 112×112 crops placed on canvases
// of several sizes and fills, scored on real aligned LFW faces (the first photo of the first N
// identities, sorted) and on three kinds of non-faces that must not pass: uniform noise,
// multi-octave (≈ 1/f) colour noise, and faces whose 14-px blocks are shuffled (face colours and
// texture without a face's layout). Writes every image's best score per protocol to OUT.json
// and prints the detection rate of each protocol at thresholds 0.3 / 0.5 / 0.7.
// Usage: npm run build && node scripts/naturalness-protocol.mjs [N=200] [NEG=40] [OUT=/tmp/naturalness-protocol]
//   [--detectors ssd,tiny] [--pads 1.5,2,3] [--fills grey,edge]
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { faceapi, loadFaceApiNet } from '../dist/align/faceapi.js';
import { readRaster, resizeRaster } from '../dist/align/raster.js';
import { Mulberry32 } from '../dist/util/random.js';

const argv = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = argv.indexOf(name);
  return (i >= 0 ? argv.splice(i, 2)[1] : dflt).split(',');
};
const [detectorNames, pads, fills] = [
  flag('--detectors', 'ssd,tiny'),
  flag('--pads', '1.5,2,3').map(Number),
  flag('--fills', 'grey,edge'),
];
process.argv.splice(2, process.argv.length, ...argv);
const n = Number(process.argv[2] ?? 200);
const neg = Number(process.argv[3] ?? 40);
const out = process.argv[4] ?? '/tmp/naturalness-protocol';
const lfw = path.resolve('../shared/data/lfw');
await tf.setBackend('wasm');

const S = 112;
/** `img` (112×112) on a canvas `pad`·112 wide, the border filled with grey, the edge pixels, or a mirror image. */
function canvas(img, pad, fill) {
  const side = Math.round(S * pad);
  const off = Math.floor((side - S) / 2);
  const data = new Uint8Array(side * side * 3).fill(128);
  const clamp = (v) => Math.min(S - 1, Math.max(0, v));
  const mirror = (v) => {
    const p = 2 * S;
    const m = ((v % p) + p) % p;
    return m < S ? m : p - 1 - m;
  };
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const [sx, sy] = [x - off, y - off];
      const inside = sx >= 0 && sy >= 0 && sx < S && sy < S;
      if (!inside && fill === 'grey') continue;
      const [u, v] = inside ? [sx, sy] : fill === 'edge' ? [clamp(sx), clamp(sy)] : [mirror(sx), mirror(sy)];
      for (let c = 0; c < 3; c++) data[(y * side + x) * 3 + c] = img.data[(v * S + u) * 3 + c];
    }
  return { width: side, height: side, channels: 3, data };
}

function uniformNoise(rng) {
  const data = new Uint8Array(S * S * 3).map(() => Math.floor(rng.next() * 256));
  return { width: S, height: S, channels: 3, data };
}

/** Sum of value-noise octaves with amplitude ∝ wavelength (≈ 1/f), per channel. */
function octaveNoise(rng) {
  const f = new Float32Array(S * S * 3);
  for (let o = 0; o < 5; o++) {
    const g = 2 ** (o + 1) + 1;
    const grid = Float32Array.from({ length: g * g * 3 }, () => rng.next() - 0.5);
    const amp = 1 / 2 ** o;
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const [gx, gy] = [(x / (S - 1)) * (g - 1), (y / (S - 1)) * (g - 1)];
        const [x0, y0] = [Math.min(g - 2, Math.floor(gx)), Math.min(g - 2, Math.floor(gy))];
        const [tx, ty] = [gx - x0, gy - y0];
        for (let c = 0; c < 3; c++) {
          const at = (i, j) => grid[(j * g + i) * 3 + c];
          const v =
            (1 - ty) * ((1 - tx) * at(x0, y0) + tx * at(x0 + 1, y0)) +
            ty * ((1 - tx) * at(x0, y0 + 1) + tx * at(x0 + 1, y0 + 1));
          f[(y * S + x) * 3 + c] += amp * v;
        }
      }
  }
  const data = new Uint8Array(S * S * 3).map((_, i) => Math.max(0, Math.min(255, 128 + 160 * f[i])));
  return { width: S, height: S, channels: 3, data };
}

/** The face cut into 8×8 blocks of 14 px, shuffled. */
function scrambled(img, rng) {
  const B = 14;
  const order = Array.from({ length: 64 }, (_, i) => i);
  for (let i = 63; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const data = new Uint8Array(S * S * 3);
  order.forEach((src, dst) => {
    const [sx, sy, dx, dy] = [(src % 8) * B, Math.floor(src / 8) * B, (dst % 8) * B, Math.floor(dst / 8) * B];
    for (let y = 0; y < B; y++)
      data.set(img.data.subarray(((sy + y) * S + sx) * 3, ((sy + y) * S + sx + B) * 3), ((dy + y) * S + dx) * 3);
  });
  return { width: S, height: S, channels: 3, data };
}

const names = (await fsp.readdir(lfw, { withFileTypes: true }))
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
  .slice(0, n);
const faces = [];
for (const name of names) {
  const first = (await fsp.readdir(path.join(lfw, name))).filter((f) => f.endsWith('.jpg')).sort()[0];
  faces.push(await resizeRaster(await readRaster(path.join(lfw, name, first)), S, S));
}
const rng = new Mulberry32(7);
const sets = {
  lfw: faces,
  uniform: faces.slice(0, neg).map(() => uniformNoise(rng)),
  octaves: faces.slice(0, neg).map(() => octaveNoise(rng)),
  scrambled: faces.slice(0, neg).map((f) => scrambled(f, rng)),
};

const ssd = await loadFaceApiNet('ssd_mobilenetv1');
const tiny = await loadFaceApiNet('tiny_face_detector');
const detectors = {
  ssd: (t) => ssd.locateFaces(t, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.05, maxResults: 20 })),
  tiny: (t) => tiny.locateFaces(t, new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.05 })),
};
const protocols = [];
for (const det of detectorNames) for (const pad of pads) for (const fill of fills) protocols.push({ det, pad, fill });

const scores = {};
const t0 = Date.now();
for (const p of protocols) {
  const key = `${p.det} pad ${p.pad} ${p.fill}`;
  scores[key] = {};
  for (const [set, imgs] of Object.entries(sets)) {
    scores[key][set] = [];
    for (const img of imgs) {
      const c = canvas(img, p.pad, p.fill);
      const t = tf.tensor3d(Int32Array.from(c.data), [c.height, c.width, 3], 'int32');
      const found = await detectors[p.det](t);
      t.dispose();
      scores[key][set].push(found.length ? Math.max(...found.map((d) => d.score)) : 0);
    }
  }
  const rate = (set, th) => scores[key][set].filter((s) => s >= th).length / scores[key][set].length;
  const cells = [0.3, 0.5, 0.7].map((th) =>
    ['lfw', 'uniform', 'octaves', 'scrambled'].map((s) => (100 * rate(s, th)).toFixed(1)).join('/'),
  );
  console.log(
    `${key.padEnd(22)} lfw/uniform/octaves/scrambled % at 0.3: ${cells[0]}  0.5: ${cells[1]}  0.7: ${cells[2]}  (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
  );
  await fsp.mkdir(path.dirname(out), { recursive: true });
  await fsp.writeFile(`${out}.json`, JSON.stringify({ n, neg, identities: names, scores }));
}
