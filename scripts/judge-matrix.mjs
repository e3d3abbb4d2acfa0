#!/usr/bin/env node
// The attacked × judge table of docs/LEAKAGE.md and a sheet of the same targets' reconstructions
// under each attacked model, from `arcinvert leakage` reports that judged the same targets
// (each run with --judge naming the other systems; its own row is the white-box one).
// Usage: npm run build && node scripts/judge-matrix.mjs OUT.jpg|OUT.png NAME=REPORT_DIR… [--fmr 1e-3] [--targets 8]
//   e.g. node scripts/judge-matrix.mjs docs/leakage-matrix.jpg default=OUT/default faceres=OUT/faceres mobileface=OUT/mobileface
//   (the `leakage --out` folders: the sheet reads their reconstructions/)
// Prints the markdown table (type-I SAR at the FMR; "not independent" judges marked †).
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readImageTensor } from '../dist/io/image.js';
import sharp from 'sharp';
import { contactSheetPng } from '../dist/io/grid.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

await tf.setBackend('wasm');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const fmr = Number(opt('--fmr', '1e-3'));
const nSheet = Number(opt('--targets', '8'));
const [out, ...pairs] = args;
if (!/\.(png|jpg)$/.test(out ?? '') || pairs.length === 0)
  throw new Error('usage: judge-matrix.mjs OUT.jpg|OUT.png NAME=REPORT_DIR… [--fmr 1e-3] [--targets 8]');
const runs = [];
for (const p of pairs) {
  const [name, dir] = p.split('=');
  runs.push({ name, dir, report: JSON.parse(await fsp.readFile(path.join(dir, 'leakage.json'), 'utf8')) });
}

/** The judge column of a system row: 'white-box' for the attacked model itself, else the judge's family. */
const column = (s) => (s.role === 'white-box' ? 'white-box' : s.name.replace(/^human-/, '').replace(/-resnet$/, ''));
const judges = [...new Set(runs.flatMap((r) => r.report.systems.map(column)))].filter((c) => c !== 'white-box');
const rate = (s) => {
  const i = s.thresholds.findIndex((t) => Math.abs(t.fmr - fmr) < fmr * 1e-6);
  const a = s.typeI.atFmr[i];
  return `${(a.rate * 100).toFixed(0)} % (${a.accepted}/${s.typeI.comparisons})`;
};
const cell = (run, col) => {
  if (col === run.name) return '(itself: white-box)';
  const s = run.report.systems.find((x) => column(x) === col);
  if (!s) return '—';
  return s.role === 'not independent' ? `${rate(s)} †` : s.role === 'white-box' ? rate(s) : `**${rate(s)}**`;
};
console.log(`| attacked ↓ · judge → | white-box | ${judges.join(' | ')} |`);
console.log(`|---|---|${judges.map(() => '---').join('|')}|`);
for (const r of runs)
  console.log(`| ${r.name} | ${[cell(r, 'white-box'), ...judges.map((c) => cell(r, c))].join(' | ')} |`);
const notes = runs.flatMap((r) =>
  r.report.systems.filter((s) => s.relation).map((s) => `† ${column(s)} judging ${r.name}: ${s.relation}.`),
);
for (const n of [...new Set(notes)]) console.log(`\n${n}`);

// The sheet: target | one reconstruction per attacked model, for the first targets, at 224 px.
const side = 224;
const norm = { mean: 127.5, std: 127.5 };
const byTarget = (report) => new Map(report.perReconstruction.map((p) => [p.target, p.file]));
const maps = runs.map((r) => byTarget(r.report));
const rows = [];
const labels = [];
const first = runs[0].report;
// The photo each target's template came from, as `invert` recorded it beside the reconstructions.
const inverted = JSON.parse(await fsp.readFile(path.join(runs[0].dir, 'reconstructions', 'report.json'), 'utf8'));
for (let t = 0; t < Math.min(nSheet, first.targets); t++) {
  const row = [];
  const lab = [];
  const targetFile = inverted.targets[t]?.source;
  if (targetFile) {
    row.push(await readImageTensor(targetFile, { size: [side, side], normalization: norm }));
    lab.push('target');
  }
  for (let k = 0; k < runs.length; k++) {
    const f = maps[k].get(t);
    const local = f && path.join(runs[k].dir, 'reconstructions', path.basename(f));
    row.push(await readImageTensor(local, { size: [side, side], normalization: norm }));
    const s = runs[k].report.perReconstruction.find((p) => p.target === t).scores;
    const dlib = s['dlib-resnet']?.typeI;
    lab.push(`${runs[k].name}${dlib !== undefined ? ` · dlib ${dlib.toFixed(3)}` : ''}`);
  }
  rows.push(row);
  labels.push(lab);
}
const png = await contactSheetPng(rows, { normalization: norm, cellLabels: labels });
await writeFileAtomic(out, out.endsWith('.jpg') ? await sharp(png).jpeg({ quality: 85 }).toBuffer() : png);
tf.dispose(rows.flat());
console.log(`\nwrote ${out}`);
