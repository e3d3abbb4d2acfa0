#!/usr/bin/env node
// Students against their teachers on the held-out identities, on the photos as they are and
// degraded (shrunk to SMALL px and back to 112, then saved as JPEG at QUALITY): the same 6,000
// pairs as scripts/heldout-eval.mjs (the 10 % of identities `arcinvert train` keeps with seed 0,
// pairs drawn with seed 1), 10 folds, no flip, raw embeddings (the teachers uncentred). A
// student distilled on the training photos inherits the teachers' behaviour there; this shows
// whether it matches them on unseen people and how much each loses to low-quality photos.
// The degraded copies go to TMP (default: the system's temporary folder), never next to the data,
// in a folder named after the settings and the data folder, and are kept there for the next run.
// Usage: npm run build && node scripts/degraded-heldout.mjs MODEL_DIR… [--teachers faceres,mobileface]
//          [--human-models DIR (or ARCINVERT_HUMAN_MODELS)] [--small 56] [--quality 50] [--tmp DIR]
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { degradedCopies } from './degrade.mjs';
import { takeFlag } from './flag.mjs';
import { heldoutPairs } from './heldout.mjs';
import { GRAPH_TEACHERS, loadGraphJudge } from '../dist/judge/graphModel.js';
import { embedFilesWithJudge } from '../dist/judge/lfw.js';
import { kFoldAssignment, tarAtFar, tenFoldAccuracy } from '../dist/metrics/verification.js';
import { embedFiles } from '../dist/model/embed.js';
import { loadFaceModel } from '../dist/model/store.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => takeFlag(args, name, dflt);
const teacherList = opt('--teachers', 'faceres,mobileface');
const teachers = (teacherList ?? '').split(',').filter(Boolean);
const humanModels = opt('--human-models', process.env.ARCINVERT_HUMAN_MODELS);
const small = Number(opt('--small', '56'));
const quality = Number(opt('--quality', '50'));
const tmp = opt('--tmp', os.tmpdir());
const unknown = teachers.find((t) => !Object.hasOwn(GRAPH_TEACHERS, t));
if (
  [teacherList, humanModels, tmp].includes(null) ||
  args.some((a) => a.startsWith('--')) ||
  (args.length === 0 && teachers.length === 0) ||
  !(Number.isInteger(small) && small >= 8 && small <= 112) ||
  !(Number.isInteger(quality) && quality >= 1 && quality <= 100) ||
  unknown !== undefined ||
  (teachers.length > 0 && !humanModels)
) {
  console.error(
    unknown !== undefined
      ? `unknown teacher ${unknown} (one of ${Object.keys(GRAPH_TEACHERS).join(', ')})`
      : 'usage: degraded-heldout.mjs MODEL_DIR… [--teachers faceres,mobileface] [--human-models DIR] [--small 56] [--quality 50] [--tmp DIR]',
  );
  process.exit(2);
}
const missing = [
  ...args.map((dir) => path.join(dir, 'model.json')),
  ...teachers.map((t) => path.join(humanModels, `${t}.json`)),
].find((f) => !existsSync(f));
if (missing !== undefined) {
  console.error(`no such model: ${missing}`);
  process.exit(2);
}
await tf.setBackend('wasm');
const data = path.resolve(process.env.DATA ?? '../shared/data', 'train');
const { val, pairs } = await heldoutPairs(data);
const files = Array.from(new Set(pairs.flatMap((p) => [p.a, p.b])));
const row = new Map(files.map((f, i) => [f, i]));
const degraded = await degradedCopies(data, files, small, quality, tmp);

const same = pairs.map((p) => p.same);
const folds = kFoldAssignment(pairs.length, 10);
/** Accuracy and TAR of the pairs from embeddings [files, dim] (any norm). */
const score = (e, dim) => {
  const s = pairs.map((p) => {
    const a = row.get(p.a) * dim;
    const b = row.get(p.b) * dim;
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let k = 0; k < dim; k++) {
      ab += e[a + k] * e[b + k];
      aa += e[a + k] ** 2;
      bb += e[b + k] ** 2;
    }
    return ab / Math.sqrt(aa * bb);
  });
  const pct = (x) => `${(x * 100).toFixed(2)} %`;
  const acc = tenFoldAccuracy(s, same, folds);
  const tars = [1e-2, 1e-3].map((far) => pct(tarAtFar(s, same, far).tar));
  return `${pct(acc.accuracy)} ± ${(acc.std * 100).toFixed(2)} · ${tars.join(' · ')}`;
};
/** Each model opened once: its embedding function, width and release. */
const opens = [
  ...args.map((dir) => ({
    name: dir,
    async open() {
      const fm = await loadFaceModel(dir);
      return { embed: (list) => embedFiles(fm, list), dim: fm.meta.embeddingSize, close: () => fm.model.dispose() };
    },
  })),
  ...teachers.map((t) => ({
    name: `${t} (human-models)`,
    async open() {
      const judge = await loadGraphJudge({ ...GRAPH_TEACHERS[t], model: path.join(humanModels, `${t}.json`) });
      return { embed: (list) => embedFilesWithJudge(judge, list, 256), dim: judge.dim, close: () => judge.dispose() };
    },
  })),
];
console.log(
  `${val.classNames.length} held-out identities; ${pairs.length} pairs, 10 folds, no flip; accuracy · TAR @ FAR 1e-2 · TAR @ FAR 1e-3`,
);
console.log(`| model | as they are | degraded (${small} px and back, JPEG q${quality}) |`);
console.log('|---|---|---|');
for (const { name, open } of opens) {
  const m = await open();
  try {
    console.log(`| ${name} | ${score(await m.embed(files), m.dim)} | ${score(await m.embed(degraded), m.dim)} |`);
  } finally {
    m.close();
  }
}
