#!/usr/bin/env node
// A judge's own LFW 10-fold accuracy on the aligned crops (default ../shared/data/lfw with its
// pairs.txt), with its documented preprocessing (src/judge). Optional: --folds 0,1 (subset),
// --crop scale,cx,cy (another dlib chip), --json out.json.
// Usage: npm run build && node scripts/judge-lfw.mjs [lfwDir] [--folds ...] [--crop ...] [--json file]
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { DLIB_JUDGE_CROP, judgeLfwAccuracy, loadDlibJudge } from '../dist/judge/index.js';

const args = process.argv.slice(2);
const take = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const folds = take('--folds')?.split(',').map(Number);
const cropArg = take('--crop')?.split(',').map(Number);
const jsonOut = take('--json');
const lfw = args[0] ?? new URL('../../shared/data/lfw', import.meta.url).pathname;
await tf.setBackend('wasm');
const crop = cropArg ? { size: 150, scale: cropArg[0], center: [cropArg[1], cropArg[2]] } : DLIB_JUDGE_CROP;
const judge = await loadDlibJudge(crop);
const r = await judgeLfwAccuracy(judge, lfw, {
  folds,
  onProgress: (d, n) => process.stderr.write(`\rembedded ${d}/${n}`),
});
judge.dispose();
process.stderr.write('\n');
const pct = (x) => `${(x * 100).toFixed(2)}%`;
console.log(`${r.judge}: ${r.description}`);
console.log(
  `LFW ${r.pairs} pairs, ${r.images} images: accuracy ${pct(r.accuracy.accuracy)} ± ${pct(r.accuracy.std)}, TAR@FAR1e-3 ${pct(r.tarAtFar1e3.tar)}, ${r.seconds.toFixed(0)} s`,
);
if (jsonOut)
  writeFileSync(
    jsonOut,
    JSON.stringify(
      { ...r, accuracy: { ...r.accuracy, thresholds: undefined, tpr: undefined, fpr: undefined } },
      null,
      2,
    ),
  );
