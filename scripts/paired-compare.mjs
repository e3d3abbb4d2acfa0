#!/usr/bin/env node
// Is model B better than model A, or is the difference noise? Both score the same pairs; each
// pair is judged right or wrong per model under the 10-fold protocol (`pairedAccuracyTest`), and
// McNemar's exact test asks how likely the split of the pairs only one of them got right would
// be with no difference. The fold spread (±2 points on 6,000 pairs) is shared by both models and
// says little about their difference; this says how much.
// --set heldout (default): the 6,000 held-out pairs of scripts/heldout-eval.mjs (the 10 % of
//   identities `arcinvert train` keeps with seed 0, pairs drawn with seed 1);
// --set degraded: the same pairs with their photos degraded as scripts/degraded-heldout.mjs
//   degrades them (--small 56 --quality 50, copies kept under --tmp);
// --set lfw: ../shared/data/lfw and its pairs.txt with the file's folds.
// Usage: npm run build && node scripts/paired-compare.mjs MODEL_A MODEL_B [--set heldout|degraded|lfw]
//          [--no-flip] [--small 56] [--quality 50] [--tmp DIR]
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { degradedCopies } from './degrade.mjs';
import { takeFlag, takeSwitch } from './flag.mjs';
import { heldoutPairs } from './heldout.mjs';
import { lfwPathPairs, scorePathPairs } from '../dist/metrics/pairEval.js';
import { pairedAccuracyTest } from '../dist/metrics/paired.js';
import { loadFaceModel } from '../dist/model/store.js';
import { embedderFor } from '../dist/onnx/runtime.js';

const args = process.argv.slice(2);
const set = takeFlag(args, '--set', 'heldout');
const small = Number(takeFlag(args, '--small', '56'));
const quality = Number(takeFlag(args, '--quality', '50'));
const tmp = takeFlag(args, '--tmp', os.tmpdir());
const flip = !takeSwitch(args, '--no-flip');
if (
  args.length !== 2 ||
  args.some((a) => a.startsWith('--')) ||
  !['heldout', 'degraded', 'lfw'].includes(set) ||
  !(Number.isInteger(small) && small >= 8 && small <= 112) ||
  !(Number.isInteger(quality) && quality >= 1 && quality <= 100) ||
  tmp === null
) {
  console.error(
    'usage: paired-compare.mjs MODEL_A MODEL_B [--set heldout|degraded|lfw] [--no-flip] [--small 56] [--quality 50] [--tmp DIR]',
  );
  process.exit(2);
}
const missing = args.map((dir) => path.join(dir, 'model.json')).find((f) => !existsSync(f));
if (missing !== undefined) {
  console.error(`no such model: ${missing}`);
  process.exit(2);
}
await tf.setBackend('wasm');
const root = path.resolve(process.env.DATA ?? '../shared/data');

/** The pairs (paths a, b, same) and their folds. */
async function pairsOf() {
  if (set === 'lfw') return lfwPathPairs(path.join(root, 'lfw/pairs.txt'), path.join(root, 'lfw'));
  const data = path.join(root, 'train');
  const { pairs } = await heldoutPairs(data);
  if (set === 'heldout') return { pairs, folds: 10 };
  const files = Array.from(new Set(pairs.flatMap((p) => [p.a, p.b])));
  const copies = await degradedCopies(data, files, small, quality, tmp);
  const copyOf = new Map(files.map((f, i) => [f, copies[i]]));
  return { pairs: pairs.map((p) => ({ ...p, a: copyOf.get(p.a), b: copyOf.get(p.b) })), folds: 10 };
}

/** Cosine of each pair under the model in `dir`. */
async function scoresOf(dir, pairs, folds) {
  const fm = await loadFaceModel(dir);
  const { embedder } = await embedderFor(fm, 'auto', 2);
  try {
    const r = await scorePathPairs(fm, pairs, folds, { flip, embedder });
    if (r.skippedPairs > 0) throw new Error(`${r.skippedImages.length} unreadable images, e.g. ${r.skippedImages[0]}`);
    return r.scores;
  } finally {
    await embedder?.dispose?.();
    fm.model.dispose();
  }
}

const { pairs, folds } = await pairsOf();
const [a, b] = [await scoresOf(args[0], pairs, folds), await scoresOf(args[1], pairs, folds)];
const r = pairedAccuracyTest(
  a,
  b,
  pairs.map((p) => p.same),
  folds,
);
const pct = (x) => `${(x * 100).toFixed(2)} %`;
const signed = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(2)}`;
console.log(`${set}: ${r.pairs} pairs, 10 folds, ${flip ? 'flip TTA' : 'no flip'}`);
console.log(`A ${args[0]}: ${pct(r.accuracyA)}`);
console.log(`B ${args[1]}: ${pct(r.accuracyB)}`);
console.log(
  `B − A: ${signed(r.difference)} points (95 % CI ${signed(r.ci95[0])} to ${signed(r.ci95[1])}); ` +
    `only A right ${r.onlyA}, only B right ${r.onlyB}; McNemar exact p = ${r.pValue.toPrecision(2)}`,
);
