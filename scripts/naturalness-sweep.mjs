#!/usr/bin/env node
// Reruns the leakage measurement for a grid of inversion settings and writes one table and one
// sheet: per setting, the attacked model's and the judges' type-I SAR, the face detector's
// share and, when the report has it, the distribution distance to real faces (KID).
// Each setting is `arcinvert leakage --invert` on the same LFW targets (the first photo of the
// first --limit identities with ≥ 2 photos; thresholds from pairs.txt's mismatched pairs).
// A setting whose OUT/<name>/leakage.json exists is not rerun: the sweep resumes.
// Usage: npm run build && node scripts/naturalness-sweep.mjs MODEL OUT_DIR SETTINGS.json
//          [--limit 20] [--judge dlib …] [--workers 2] [--sheet-targets 6] [--only a,b] [--cache DIR]
//   --cache: where the photos' embeddings are kept between settings and sweeps (default OUT_DIR/.embeddings).
//   SETTINGS.json: {"name": {invert config keys…}, …}, e.g. {"pixels": {}, "fourier": {"parametrisation": "fourier", "colour": "decorrelated", "lr": 0.05}}
// Writes OUT_DIR/sweep.md (the table) and OUT_DIR/sweep.jpg (target | one reconstruction per setting).
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { readImageTensor } from '../dist/io/image.js';
import { contactSheetPng } from '../dist/io/grid.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

const args = process.argv.slice(2);
/** Removes `name` and its values (up to the next flag) from args; `dflt` when absent. */
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  let j = i + 1;
  while (j < args.length && !args[j].startsWith('--')) j++;
  return args.splice(i, j - i).slice(1);
};
const limit = opt('--limit', ['20'])[0];
const judges = opt('--judge', ['dlib']);
const workers = opt('--workers', ['2'])[0];
const sheetTargets = Number(opt('--sheet-targets', ['6'])[0]);
const only = opt('--only', [''])[0].split(',').filter(Boolean);
const cacheOpt = opt('--cache', [])[0];
const [model, out, settingsFile] = args;
if (!settingsFile) {
  console.error(
    'usage: naturalness-sweep.mjs MODEL OUT_DIR SETTINGS.json [--limit 20] [--judge …] [--workers 2] [--sheet-targets 6] [--only a,b] [--cache DIR]',
  );
  process.exit(2);
}
const cache = cacheOpt ?? path.join(out, '.embeddings');
const lfw = process.env.LFW ?? '../shared/data/lfw';
const settings = JSON.parse(await fsp.readFile(settingsFile, 'utf8'));
await fsp.mkdir(out, { recursive: true });

for (const [name, config] of Object.entries(settings)) {
  const dir = path.join(out, name);
  const cfgFile = path.join(out, `${name}.config.json`);
  // A finished setting is kept only while its config is the one asked for now.
  const sameConfig =
    existsSync(cfgFile) && (await fsp.readFile(cfgFile, 'utf8')) === JSON.stringify(config, null, 2) + '\n';
  if ((existsSync(path.join(dir, 'leakage.json')) && sameConfig) || (only.length > 0 && !only.includes(name))) continue;
  await fsp.writeFile(cfgFile, JSON.stringify(config, null, 2) + '\n');
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      'dist/cli/main.js',
      'leakage',
      '--model',
      model,
      '--invert',
      '--targets',
      lfw,
      '--limit',
      limit,
      '--impostor-pairs',
      path.join(lfw, 'pairs.txt'),
      '--judge',
      ...judges,
      '--invert-config',
      cfgFile,
      '--workers',
      workers,
      '--out',
      dir,
      '--overwrite',
      // The photos' embeddings are the same for every setting: computed by the first, reused after.
      '--cache',
      cache,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`setting ${name}: leakage exited ${r.status}`);
  console.error(`${name}: ${((Date.now() - t0) / 60000).toFixed(1)} min`);
}

// The table.
const runs = [];
for (const name of Object.keys(settings)) {
  const file = path.join(out, name, 'leakage.json');
  if (existsSync(file))
    runs.push({ name, dir: path.join(out, name), report: JSON.parse(await fsp.readFile(file, 'utf8')) });
}
if (runs.length === 0) throw new Error('no finished setting');
const at = (s, fmr) => s.typeI.atFmr.find((a) => Math.abs(a.fmr - fmr) < fmr * 1e-6);
const pct = (a) =>
  `${(a.rate * 100).toFixed(0)} % (${a.accepted}/${a.rate > 0 ? Math.round(a.accepted / a.rate) : '–'})`;
const systems = runs[0].report.systems.map((s) => s.name);
const head = ['setting', ...systems.map((s) => `${s} SAR 1e-3 · 1e-2 · mean`), 'faces detected', 'KID ×10³'];
const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
for (const r of runs) {
  const cells = systems.map((name) => {
    const s = r.report.systems.find((x) => x.name === name);
    return s ? `${pct(at(s, 1e-3))} · ${pct(at(s, 1e-2))} · ${s.typeI.meanScore.toFixed(3)}` : '—';
  });
  const nat = r.report.naturalness?.reconstructions;
  const kid = r.report.naturalness?.kid;
  lines.push(
    `| ${r.name} | ${cells.join(' | ')} | ${nat ? `${(nat.share * 100).toFixed(0)} %` : '—'} | ${kid ? (kid.reconstructions * 1e3).toFixed(2) : '—'} |`,
  );
}
const settingLines = runs.map((r) => `- **${r.name}**: \`${JSON.stringify(settings[r.name])}\``);
const kid0 = runs[0].report.naturalness?.kid;
const kidLine = kid0
  ? [
      `KID ×10³ against ${kid0.reference} real faces: real target photos ${(kid0.realFloor * 1e3).toFixed(2)} (the floor), uniform noise ${(kid0.noiseCeiling * 1e3).toFixed(2)} (the ceiling).`,
      '',
    ]
  : [];
const table = [...lines, '', ...kidLine, ...settingLines, ''].join('\n');
await writeFileAtomic(path.join(out, 'sweep.md'), table);
console.log(table);

// The sheet: target | one reconstruction per setting (224 px cells), labelled with the first judge's score.
await tf.setBackend('wasm');
const side = 224;
const norm = { mean: 127.5, std: 127.5 };
const inverted = JSON.parse(await fsp.readFile(path.join(runs[0].dir, 'reconstructions', 'report.json'), 'utf8'));
const judge = systems.find((s) => s !== 'attacked');
const rows = [];
const labels = [];
for (let t = 0; t < Math.min(sheetTargets, runs[0].report.targets); t++) {
  const row = [await readImageTensor(inverted.targets[t].source, { size: [side, side], normalization: norm })];
  const lab = ['target'];
  for (const r of runs) {
    const p = r.report.perReconstruction.find((x) => x.target === t);
    if (!p) throw new Error(`setting ${r.name} has no reconstruction of target ${t}`);
    row.push(
      await readImageTensor(path.join(r.dir, 'reconstructions', path.basename(p.file)), {
        size: [side, side],
        normalization: norm,
      }),
    );
    const score = judge ? p.scores[judge]?.typeI : undefined;
    lab.push(`${r.name}${score !== undefined ? ` · ${judge.replace(/-resnet$/, '')} ${score.toFixed(3)}` : ''}`);
  }
  rows.push(row);
  labels.push(lab);
}
const png = await contactSheetPng(rows, { normalization: norm, cellLabels: labels });
await writeFileAtomic(path.join(out, 'sweep.jpg'), await sharp(png).jpeg({ quality: 85 }).toBuffer());
tf.dispose(rows.flat());
console.log(`wrote ${path.join(out, 'sweep.md')} and ${path.join(out, 'sweep.jpg')}`);
