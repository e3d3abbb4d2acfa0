#!/usr/bin/env node
// Chooses between checkpoints of one training run on its held-out identities, with more pairs
// than the run's own 600 (whose accuracy has a standard error of about 1.3 points, too wide to
// tell neighbouring epochs apart). The held-out identities are the ones `arcinvert train` keeps
// with its defaults (seed 0, 10 %); the pairs are a fresh draw from them (seed 1: every matched
// pair up to PAIRS/2, as many mismatched), 10 folds, flip TTA, on onnxruntime where it loads.
// LFW plays no part. --no-flip scores the images alone, as scripts/teacher-heldout.mjs scores a
// distillation target (embeddings of the unflipped images).
// Usage: npm run build && node scripts/heldout-eval.mjs MODEL_DIR… [--pairs 6000] [--no-flip]
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { takeFlag, takeSwitch } from './flag.mjs';
import { heldoutPairs } from './heldout.mjs';
import { evaluatePathPairs } from '../dist/metrics/pairEval.js';
import { loadFaceModel } from '../dist/model/store.js';
import { embedderFor } from '../dist/onnx/runtime.js';

const args = process.argv.slice(2);
const maxPairs = Number(takeFlag(args, '--pairs', '6000'));
const flip = !takeSwitch(args, '--no-flip');
if (args.length === 0 || args.some((a) => a.startsWith('--')) || !Number.isInteger(maxPairs) || maxPairs < 20) {
  console.error('usage: heldout-eval.mjs MODEL_DIR… [--pairs 6000] [--no-flip]');
  process.exit(2);
}
await tf.setBackend('wasm');
const data = path.resolve(process.env.DATA ?? '../shared/data', 'train');
const { val, pairs } = await heldoutPairs(data, maxPairs);
const matched = pairs.filter((p) => p.same).length;
console.log(
  `${val.classNames.length} held-out identities, ${val.items.length} photos; ${matched} matched and ${pairs.length - matched} mismatched pairs; 10 folds, ${flip ? 'flip TTA' : 'no flip'}`,
);
console.log('| model | held-out accuracy | TAR @ FAR 1e-2 | TAR @ FAR 1e-3 | pairs |');
console.log('|---|---|---|---|---|');
for (const m of args) {
  const fm = await loadFaceModel(m);
  const { embedder } = await embedderFor(fm, 'auto', 2);
  const r = await evaluatePathPairs(fm, pairs, 10, { flip, embedder });
  await embedder?.dispose?.();
  fm.model.dispose();
  const pct = (x) => `${(x * 100).toFixed(2)} %`;
  console.log(
    `| ${m} | ${pct(r.accuracy)} ± ${(r.std * 100).toFixed(2)} | ${pct(r.tarAtFar1e2.tar)} | ${pct(r.tarAtFar1e3.tar)} | ${r.pairs} |`,
  );
}
