#!/usr/bin/env node
// Puts the reconstructions of several `arcinvert invert` outputs side by side: one row per
// target (its photo first, from the first run's report), one column per run, each cell
// resized to --size px (default 112); a column is labelled NAME when given as NAME=RUN_DIR.
// Usage: node scripts/compare-sheet.mjs OUT.png [--targets N] [--size PX] [NAME=]RUN_DIR…
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeContactSheet } from '../dist/io/grid.js';
import { readImageTensor } from '../dist/io/image.js';

const args = process.argv.slice(2);
const ti = args.indexOf('--targets');
const maxTargets = ti >= 0 ? Number(args.splice(ti, 2)[1]) : Infinity;
const si = args.indexOf('--size');
const px = si >= 0 ? Number(args.splice(si, 2)[1]) : 112;
const [out, ...specs] = args;
const names = specs.map((s) => (s.includes('=') ? s.split('=')[0] : null));
const runs = specs.map((s) => (s.includes('=') ? s.slice(s.indexOf('=') + 1) : s));
const norm = { mean: 127.5, std: 127.5 };
const size = [px, px];
const reports = await Promise.all(
  runs.map(async (r) => JSON.parse(await fsp.readFile(path.join(r, 'report.json'), 'utf8'))),
);
const rows = [];
const labels = [];
for (const t of reports[0].targets.slice(0, maxTargets)) {
  const row = [t.source ? await readImageTensor(t.source, { size, normalization: norm }) : tf.fill([px, px, 3], 1)];
  const cells = ['target'];
  for (let k = 0; k < runs.length; k++) {
    const im = reports[k].images.find((i) => i.target === t.index && i.seed === 0);
    row.push(await readImageTensor(path.join(runs[k], im.file), { size, normalization: norm }));
    cells.push(`${names[k] ?? path.basename(runs[k])} ${im.bestCosine.toFixed(2)}`);
  }
  rows.push(row);
  labels.push(cells);
}
await writeContactSheet(out, rows, { normalization: norm, cellLabels: labels, labelHeight: 16 });
console.log(`wrote ${out}`);
