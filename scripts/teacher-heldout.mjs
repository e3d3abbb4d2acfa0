#!/usr/bin/env node
// How good is a distillation target on the held-out identities? Scores the precomputed teacher
// embeddings of ../shared/data/train (an .npy and its .txt listing, e.g.
// training/teachers/ensemble-pca512.npy) on the same 6,000 held-out pairs as
// scripts/heldout-eval.mjs (the 10 % of identities `arcinvert train` keeps with seed 0; pairs
// drawn with seed 1), 10 folds, no flip (the targets are of the unflipped images). A student
// distilled from the target is compared with it there: where the student is already close, more
// of the same distillation has little left to give on unseen people.
// Usage: npm run build && node scripts/teacher-heldout.mjs TARGETS.npy [--pairs 6000]
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { takeFlag } from './flag.mjs';
import { heldoutPairs } from './heldout.mjs';
import { kFoldAssignment, tarAtFar, tenFoldAccuracy } from '../dist/metrics/verification.js';
import { readNpy } from '../dist/io/npy.js';

const args = process.argv.slice(2);
const maxPairs = Number(takeFlag(args, '--pairs', '6000'));
const [targets] = args;
if (args.length !== 1 || !targets.endsWith('.npy') || !Number.isInteger(maxPairs) || maxPairs < 20) {
  console.error('usage: teacher-heldout.mjs TARGETS.npy [--pairs 6000]');
  process.exit(2);
}
const data = path.resolve(process.env.DATA ?? '../shared/data', 'train');
const { pairs } = await heldoutPairs(data, maxPairs);
let npy;
let listing;
try {
  npy = await readNpy(targets);
  listing = (await fsp.readFile(targets.replace(/\.npy$/, '.txt'), 'utf8')).split('\n').filter((l) => l !== '');
} catch (err) {
  console.error(`cannot read the targets: ${err.message}`);
  process.exit(2);
}
if (npy.shape.length !== 2 || listing.length !== npy.shape[0]) {
  console.error(
    `${targets}: ${npy.shape[0]} rows (shape ${npy.shape.join('×')}) against ${listing.length} listed images`,
  );
  process.exit(2);
}
const dim = npy.shape[1];
const row = new Map(listing.map((rel, i) => [path.join(data, rel), npy.data.subarray(i * dim, (i + 1) * dim)]));
const cosine = (a, b) => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < dim; j++) {
    ab += a[j] * b[j];
    aa += a[j] * a[j];
    bb += b[j] * b[j];
  }
  return ab / Math.sqrt(aa * bb);
};
const missing = pairs.flatMap((p) => [p.a, p.b]).find((f) => !row.has(path.resolve(f)));
if (missing) {
  console.error(`${targets} has no row for ${missing}`);
  process.exit(2);
}
const scores = pairs.map((p) => cosine(row.get(path.resolve(p.a)), row.get(path.resolve(p.b))));
const same = pairs.map((p) => p.same);
const r = tenFoldAccuracy(scores, same, kFoldAssignment(pairs.length, 10));
const pct = (x) => `${(x * 100).toFixed(2)} %`;
console.log('| target | held-out accuracy | TAR @ FAR 1e-2 | TAR @ FAR 1e-3 | pairs |');
console.log('|---|---|---|---|---|');
console.log(
  `| ${targets} | ${pct(r.accuracy)} ± ${(r.std * 100).toFixed(2)} | ${pct(tarAtFar(scores, same, 1e-2).tar)} | ${pct(tarAtFar(scores, same, 1e-3).tar)} | ${pairs.length} |`,
);
