#!/usr/bin/env node
// The frontal-vs-profile check of the model cards: verification between a near-frontal and a
// strongly turned face of the same person, on identities no model saw in training (the held-out
// 10 % of ../shared/data/train that `arcinvert train` keeps for validation: seed 0).
// Yaw is read from face-api's 68-point landmarks on each aligned crop: with the nose tip n
// (point 30) and the jaw ends l, r (points 0, 16), yaw index = 2·(n.x − l.x)/(r.x − l.x) − 1
// (0 frontal, ±1 the nose at a jaw end). Near-frontal: |index| ≤ FRONTAL; strongly turned:
// |index| ≥ TURNED. Matched pairs: per identity having both, its most frontal and its most turned
// photo; mismatched pairs: the frontal photo of one identity and the turned photo of the next
// (rotating), as many. Each model: 10 folds, flip TTA (as `arcinvert eval`).
// Usage: npm run build && node scripts/frontal-profile.mjs OUT_DIR MODEL_DIR… [--frontal 0.1] [--turned 0.35]
// Writes OUT_DIR/yaw.json (the per-image index, reused), OUT_DIR/pairs.json, OUT_DIR/sheet.jpg
// (8 matched pairs) and prints a markdown table.
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { heldoutIdentities } from './heldout.mjs';
import { loadFaceApiNet, faceapi } from '../dist/align/faceapi.js';
import { rastersToTensor, readRaster } from '../dist/align/raster.js';
import { evaluatePathPairs } from '../dist/metrics/pairEval.js';
import { loadFaceModel } from '../dist/model/store.js';
import { readImageTensor } from '../dist/io/image.js';
import { contactSheetPng } from '../dist/io/grid.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args.splice(i, 2)[1]) : dflt;
};
const FRONTAL = opt('--frontal', 0.1);
const TURNED = opt('--turned', 0.35);
const [out, ...models] = args;
if (!out || models.length === 0)
  throw new Error('usage: frontal-profile.mjs OUT_DIR MODEL_DIR… [--frontal 0.1] [--turned 0.35]');
await tf.setBackend('wasm');
await fsp.mkdir(out, { recursive: true });
const data = path.resolve(process.env.DATA ?? '../shared/data', 'train');
const val = await heldoutIdentities(data);

// Yaw index per held-out image (cached).
const yawFile = path.join(out, 'yaw.json');
let yaw;
if (existsSync(yawFile)) yaw = JSON.parse(await fsp.readFile(yawFile, 'utf8'));
else {
  const net = await loadFaceApiNet('face_landmark_68');
  yaw = {};
  for (let s = 0; s < val.items.length; s += 32) {
    const chunk = val.items.slice(s, s + 32);
    const rasters = await Promise.all(chunk.map((it) => readRaster(it.path)));
    const batch = rastersToTensor(rasters);
    const slices = tf.unstack(batch);
    const input = await faceapi.toNetInput(slices);
    const out = net.forwardInput(input);
    const rel = await out.data();
    tf.dispose([out, batch, ...slices]);
    chunk.forEach((it, k) => {
      const x = (i) => rel[k * 136 + 2 * i];
      yaw[path.relative(data, it.path)] = (2 * (x(30) - x(0))) / (x(16) - x(0)) - 1;
    });
  }
  net.dispose();
  await writeFileAtomic(yawFile, JSON.stringify(yaw));
}

// Pairs.
const byId = new Map();
for (const it of val.items) {
  const name = val.classNames[it.label];
  byId.set(name, [...(byId.get(name) ?? []), { file: it.path, yaw: yaw[path.relative(data, it.path)] }]);
}
const both = [];
for (const [name, imgs] of [...byId].sort()) {
  const frontal = imgs.filter((i) => Math.abs(i.yaw) <= FRONTAL).sort((a, b) => Math.abs(a.yaw) - Math.abs(b.yaw))[0];
  const turned = imgs.filter((i) => Math.abs(i.yaw) >= TURNED).sort((a, b) => Math.abs(b.yaw) - Math.abs(a.yaw))[0];
  if (frontal && turned) both.push({ name, frontal, turned });
}
if (both.length < 10) throw new Error(`only ${both.length} held-out identities have a frontal and a turned photo`);
const pairs = [];
both.forEach((b, i) => {
  pairs.push({ a: b.frontal.file, b: b.turned.file, same: true });
  pairs.push({ a: b.frontal.file, b: both[(i + 1) % both.length].turned.file, same: false });
});
await writeFileAtomic(
  path.join(out, 'pairs.json'),
  JSON.stringify(
    {
      frontal: FRONTAL,
      turned: TURNED,
      identities: val.classNames.length,
      pairs: pairs.map((p) => ({ ...p, a: path.relative(data, p.a), b: path.relative(data, p.b) })),
    },
    null,
    1,
  ),
);
const turnedYaw = both.map((b) => Math.abs(b.turned.yaw));
console.log(
  `${val.classNames.length} held-out identities, ${val.items.length} photos; ${both.length} with a frontal (|yaw index| ≤ ${FRONTAL}) and a turned (≥ ${TURNED}) photo; median |index| of the turned ones ${turnedYaw.sort((a, b) => a - b)[turnedYaw.length >> 1].toFixed(2)}; ${pairs.length} pairs`,
);

// The sheet: 8 matched pairs.
const side = 112;
const norm = { mean: 127.5, std: 127.5 };
const rows = [];
const labels = [];
for (const b of both.slice(0, 8)) {
  rows.push([
    await readImageTensor(b.frontal.file, { size: [side, side], normalization: norm }),
    await readImageTensor(b.turned.file, { size: [side, side], normalization: norm }),
  ]);
  labels.push([`${b.frontal.yaw.toFixed(2)}`, `${b.turned.yaw.toFixed(2)}`]);
}
const png = await contactSheetPng(rows, { normalization: norm, cellLabels: labels });
await writeFileAtomic(path.join(out, 'sheet.jpg'), await sharp(png).jpeg({ quality: 85 }).toBuffer());
tf.dispose(rows.flat());

// The held-out identities are the ones `arcinvert train` keeps with its defaults (seed 0,
// validation fraction 0.1, every identity): a model trained otherwise has seen some of them.
for (const m of models) {
  const cfgFile = path.join(m, 'config.json');
  if (!existsSync(cfgFile)) continue;
  const cfg = JSON.parse(await fsp.readFile(cfgFile, 'utf8'));
  if ((cfg.seed ?? 0) !== 0 || (cfg.valFraction ?? 0.1) !== 0.1 || (cfg.maxClasses ?? 0) !== 0)
    throw new Error(
      `${m} was trained with another identity split (seed ${cfg.seed}, valFraction ${cfg.valFraction}, maxClasses ${cfg.maxClasses})`,
    );
}
console.log('| model | frontal–profile accuracy | TAR @ FAR 1e-2 | pairs |');
console.log('|---|---|---|---|');
for (const m of models) {
  const fm = await loadFaceModel(m);
  const r = await evaluatePathPairs(fm, pairs, 10, { flip: true });
  fm.model.dispose();
  console.log(
    `| ${m} | ${(r.accuracy * 100).toFixed(2)} % ± ${(r.std * 100).toFixed(2)} | ${(r.tarAtFar1e2.tar * 100).toFixed(1)} % | ${r.pairs} |`,
  );
}
