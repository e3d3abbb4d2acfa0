#!/usr/bin/env node
// Students against their teachers on the held-out identities, on the photos as they are and
// degraded (shrunk to SMALL px and back to 112, then saved as JPEG at QUALITY): the same 6,000
// pairs as scripts/heldout-eval.mjs (the 10 % of identities `arcinvert train` keeps with seed 0,
// pairs drawn with seed 1), 10 folds, no flip, raw embeddings (the teachers uncentred). A
// student distilled on the training photos inherits the teachers' behaviour there; this shows
// whether it matches them on unseen people and how much each loses to low-quality photos.
// The degraded copies go to TMP (default: the system's temporary folder), never next to the data.
// Usage: npm run build && node scripts/degraded-heldout.mjs MODEL_DIR… [--teachers faceres,mobileface]
//          [--human-models DIR (or ARCINVERT_HUMAN_MODELS)] [--small 56] [--quality 50] [--tmp DIR]
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { loadImageFolder, splitByIdentity } from '../dist/io/imageFolder.js';
import { GRAPH_TEACHERS, loadGraphJudge } from '../dist/judge/graphModel.js';
import { embedFilesWithJudge } from '../dist/judge/lfw.js';
import { sampleVerificationPairs } from '../dist/metrics/pairEval.js';
import { kFoldAssignment, tarAtFar, tenFoldAccuracy } from '../dist/metrics/verification.js';
import { embedFiles } from '../dist/model/embed.js';
import { loadFaceModel } from '../dist/model/store.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args.splice(i, 2)[1];
};
const teachers = opt('--teachers', 'faceres,mobileface').split(',').filter(Boolean);
const humanModels = opt('--human-models', process.env.ARCINVERT_HUMAN_MODELS);
const small = Number(opt('--small', '56'));
const quality = Number(opt('--quality', '50'));
const tmp = opt('--tmp', os.tmpdir());
const unknown = teachers.find((t) => !(t in GRAPH_TEACHERS));
if (
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
await tf.setBackend('wasm');
const data = path.resolve(process.env.DATA ?? '../shared/data', 'train');
const { val } = splitByIdentity(await loadImageFolder(data), 0.1, 0);
const pairs = sampleVerificationPairs(val, 6000, 1);
const files = Array.from(new Set(pairs.flatMap((p) => [p.a, p.b])));
const row = new Map(files.map((f, i) => [f, i]));
const degradedDir = path.join(tmp, `arcinvert-degraded-${small}px-q${quality}`);
const degraded = files.map((f) => path.join(degradedDir, path.relative(data, f)).replace(/\.\w+$/, '.jpg'));
for (const [i, f] of files.entries()) {
  if (existsSync(degraded[i])) continue;
  await fsp.mkdir(path.dirname(degraded[i]), { recursive: true });
  const shrunk = await sharp(f).resize(small, small).toBuffer();
  await sharp(shrunk).resize(112, 112).jpeg({ quality }).toFile(`${degraded[i]}.part`);
  await fsp.rename(`${degraded[i]}.part`, degraded[i]);
}

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
  return `${pct(acc.accuracy)} · ${pct(tarAtFar(s, same, 1e-2).tar)} · ${pct(tarAtFar(s, same, 1e-3).tar)}`;
};
const embedders = [
  ...args.map((dir) => ({
    name: dir,
    async embed(list) {
      const fm = await loadFaceModel(dir);
      try {
        return { e: await embedFiles(fm, list), dim: fm.meta.embeddingSize };
      } finally {
        fm.model.dispose();
      }
    },
  })),
  ...teachers.map((t) => ({
    name: `${t} (human-models)`,
    async embed(list) {
      const judge = await loadGraphJudge({ ...GRAPH_TEACHERS[t], model: path.join(humanModels, `${t}.json`) });
      try {
        return { e: await embedFilesWithJudge(judge, list, 256), dim: judge.dim };
      } finally {
        judge.dispose();
      }
    },
  })),
];
console.log(
  `${val.classNames.length} held-out identities; ${pairs.length} pairs, 10 folds, no flip; accuracy · TAR @ FAR 1e-2 · TAR @ FAR 1e-3`,
);
console.log(`| model | as they are | degraded (${small} px and back, JPEG q${quality}) |`);
console.log('|---|---|---|');
for (const m of embedders) {
  const clean = await m.embed(files);
  const low = await m.embed(degraded);
  console.log(`| ${m.name} | ${score(clean.e, clean.dim)} | ${score(low.e, low.dim)} |`);
}
