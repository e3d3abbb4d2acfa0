#!/usr/bin/env node
// A uniform weight average ("model soup", Wortsman et al., ICML 2022) of saved models of one
// architecture, e.g. checkpoints of one run: every weight, BatchNorm moving statistics included,
// is the mean of the models'. The classifier head, class list, training config and teachers
// (what `arcinvert leakage` reads to tell which judges are related) are copied from the first
// model; average.json names the models averaged. Writes OUT_DIR, which must not exist.
// Usage: npm run build && node scripts/average-models.mjs OUT_DIR MODEL_DIR MODEL_DIR…
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadFaceModel, saveFaceModel } from '../dist/model/store.js';

const [out, ...dirs] = process.argv.slice(2);
if (!out || dirs.length < 2 || existsSync(out)) {
  console.error(existsSync(out ?? '') ? `${out} exists` : 'usage: average-models.mjs OUT_DIR MODEL_DIR MODEL_DIR…');
  process.exit(2);
}
await tf.setBackend('wasm');
const models = [];
for (const d of dirs) {
  try {
    models.push(await loadFaceModel(d));
  } catch (err) {
    console.error(`cannot load ${d}: ${err.message}`);
    process.exit(2);
  }
}
const metaOf = (m) => JSON.stringify([m.meta.inputSize, m.meta.normalization, m.meta.embeddingSize]);
const unlike = models.findIndex((m) => metaOf(m) !== metaOf(models[0]));
if (unlike >= 0) {
  console.error(`${dirs[unlike]} does not take the input of ${dirs[0]} (size, normalisation, embedding)`);
  process.exit(2);
}
const weights = models.map((m) => m.model.getWeights());
const shapes = (ws) => ws.map((w) => w.shape.join('×')).join(',');
const other = weights.findIndex((ws) => shapes(ws) !== shapes(weights[0]));
if (other >= 0) {
  console.error(`${dirs[other]} does not have the weights of ${dirs[0]}`);
  process.exit(2);
}
const mean = weights[0].map((_, i) => tf.tidy(() => tf.div(tf.addN(weights.map((ws) => ws[i])), weights.length)));
models[0].model.setWeights(mean);
tf.dispose(mean);
await fsp.mkdir(out, { recursive: true });
await saveFaceModel(models[0], out);
for (const f of ['head.bin', 'head.json', 'classes.json', 'config.json', 'teachers.json']) {
  if (existsSync(path.join(dirs[0], f))) await fsp.copyFile(path.join(dirs[0], f), path.join(out, f));
}
const average = { format: 'arcinvert-average', models: dirs.map((d) => path.resolve(d)) };
await fsp.writeFile(path.join(out, 'average.json'), `${JSON.stringify(average, null, 2)}\n`);
for (const m of models) m.model.dispose();
console.log(`${out}: the mean of ${dirs.length} models' ${weights[0].length} weights`);
