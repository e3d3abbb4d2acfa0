#!/usr/bin/env node
// LFW verification of distillation teachers and of their ensemble target (issue #16): each
// human-models graph embeds the LFW crops (no flip, as scripts/teacher-embeddings.mjs does), the
// embeddings are centred on the mean of N training faces and L2-normalised (the teacher-target
// convention), and the ensemble is the concatenation of the normalised teachers, renormalised.
// Reports the 10-fold accuracy and TAR at FAR 1e-3 of each teacher, raw and centred, and of the
// ensemble. Writes the per-teacher LFW embeddings to OUT_DIR (reused on a second run).
// Usage: npm run build && node scripts/teacher-ensemble-lfw.mjs <human-models models dir> OUT_DIR [teachers=faceres,mobileface] [N=2000]
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { GRAPH_TEACHERS, embedFilesWithJudge, loadGraphJudge } from '../dist/judge/index.js';
import { loadImageFolder } from '../dist/io/imageFolder.js';
import { readNpy, writeNpy } from '../dist/io/npy.js';
import { lfwImagePath, parsePairs, tarAtFar, tenFoldAccuracy } from '../dist/metrics/verification.js';
import { Mulberry32, shuffleInPlace } from '../dist/util/random.js';

const [modelsDir, outDir, teacherList = 'faceres,mobileface', nTrain = '2000'] = process.argv.slice(2);
if (!outDir) throw new Error('usage: teacher-ensemble-lfw.mjs <models dir> OUT_DIR [teachers] [N]');
await tf.setBackend('wasm');
await fsp.mkdir(outDir, { recursive: true });
const lfw = path.resolve('../shared/data/lfw');
const { pairs } = parsePairs(await fsp.readFile(path.join(lfw, 'pairs.txt'), 'utf8'));
const index = new Map();
const files = [];
const idOf = (f) => {
  if (!index.has(f)) {
    index.set(f, files.length);
    files.push(f);
  }
  return index.get(f);
};
const ab = pairs.map((p) => [idOf(lfwImagePath(lfw, p.a)), idOf(lfwImagePath(lfw, p.b))]);
const issame = pairs.map((p) => p.same);
const folds = pairs.map((p) => p.fold);
const train = await loadImageFolder(path.resolve('../shared/data/train'));
const sample = shuffleInPlace(
  train.items.map((it) => it.path),
  new Mulberry32(11),
).slice(0, Number(nTrain));

const normalise = (e, dim) => {
  for (let i = 0; i < e.length / dim; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += e[i * dim + k] ** 2;
    const inv = 1 / Math.sqrt(s || 1);
    for (let k = 0; k < dim; k++) e[i * dim + k] *= inv;
  }
  return e;
};
const centred = (e, dim, mean) =>
  normalise(
    e.map((v, j) => v - mean[j % dim]),
    dim,
  );
const score = (name, e, dim) => {
  const s = ab.map(([a, b]) => {
    let d = 0;
    for (let k = 0; k < dim; k++) d += e[a * dim + k] * e[b * dim + k];
    return d;
  });
  const acc = tenFoldAccuracy(s, issame, folds);
  const tar = tarAtFar(s, issame, 1e-3);
  console.log(
    `${name.padEnd(34)} LFW ${(acc.accuracy * 100).toFixed(2)} % ± ${(acc.std * 100).toFixed(2)}, TAR@FAR1e-3 ${(tar.tar * 100).toFixed(1)} %`,
  );
};

const parts = [];
for (const t of teacherList.split(',')) {
  const judge = await loadGraphJudge({ ...GRAPH_TEACHERS[t], model: path.join(modelsDir, `${t}.json`) });
  const cache = path.join(outDir, `lfw-${t}.npy`);
  const cacheTrain = path.join(outDir, `train${nTrain}-${t}.npy`);
  const e = existsSync(cache) ? (await readNpy(cache)).data : await embedFilesWithJudge(judge, files, 256);
  if (!existsSync(cache)) await writeNpy(cache, e, [files.length, judge.dim]);
  const et = existsSync(cacheTrain) ? (await readNpy(cacheTrain)).data : await embedFilesWithJudge(judge, sample, 256);
  if (!existsSync(cacheTrain)) await writeNpy(cacheTrain, et, [sample.length, judge.dim]);
  judge.dispose();
  const dim = judge.dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < sample.length; i++) for (let k = 0; k < dim; k++) mean[k] += et[i * dim + k] / sample.length;
  score(`${t} raw`, e, dim);
  const c = centred(Float32Array.from(e), dim, mean);
  score(`${t} centred on ${sample.length} training faces`, c, dim);
  parts.push({ c, dim });
}
if (parts.length > 1) {
  const dim = parts.reduce((s, p) => s + p.dim, 0);
  const cat = new Float32Array(files.length * dim);
  for (let i = 0; i < files.length; i++) {
    let o = 0;
    for (const p of parts) {
      cat.set(p.c.subarray(i * p.dim, (i + 1) * p.dim), i * dim + o);
      o += p.dim;
    }
  }
  score(`ensemble ${teacherList} (concatenated)`, normalise(cat, dim), dim);
}
