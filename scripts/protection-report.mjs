#!/usr/bin/env node
// The protection table of docs/PROTECTION.md from `arcinvert leakage --protect` runs: one row per
// run (scheme, attacker), with the scheme's utility from an `arcinvert protect-eval` JSON (one
// shared key, the realistic verification protocol: a probe is protected with the claimed
// identity's key; and user keys), the recovery, the SAR of the protected system and of the
// judge, and the naturalness of the reconstructions; the unprotected run first. Writes
//   OUT_PREFIX.json      the rows as numbers,
//   OUT_PREFIX-plot.png  judge SAR type-I at FMR 1e-3 against TAR at FMR 1e-3 (shared key),
//   OUT_PREFIX-sheet.jpg the first --targets targets: photo | unprotected | each key-stolen run,
// and prints the markdown table.
// Usage: node scripts/protection-report.mjs OUT_PREFIX --utility UTILITY.json
//          --unprotected LEAKAGE_DIR [--targets 4] [--judge dlib-resnet] LEAKAGE_DIR…
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readImageTensor } from '../dist/io/image.js';
import { contactSheetPng } from '../dist/io/grid.js';
import { writeFileAtomic } from '../dist/io/atomic.js';
import { svgToPng } from '../dist/leakage/plot.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : fallback;
};
const utilityFile = flag('--utility');
const unprotectedDir = flag('--unprotected');
const sheetTargets = Number(flag('--targets', '4'));
const judge = flag('--judge', 'dlib-resnet');
const [outPrefix, ...runDirs] = args;
if (!outPrefix || !utilityFile || !unprotectedDir || runDirs.length === 0) {
  console.error(
    'usage: protection-report.mjs OUT_PREFIX --utility U.json --unprotected DIR [--targets 4] [--judge NAME] DIR…',
  );
  process.exit(2);
}

const readJson = async (f) => JSON.parse(await fsp.readFile(f, 'utf8'));
const utility = await readJson(utilityFile);
const utilityOf = (spec, keys) => utility.rows.find((r) => r.scheme === spec && r.keys === keys)?.utility;

/** SAR of `system` at `fmr`: type-I and type-II rates. */
function sar(report, system, fmr) {
  const s = report.systems.find((x) => x.name === system);
  if (!s) return null;
  const at = (set) => set.atFmr.find((a) => a.fmr === fmr)?.rate ?? null;
  return { typeI: at(s.typeI), typeII: at(s.typeII) };
}

async function row(dir, unprotected) {
  const report = await readJson(path.join(dir, 'leakage.json'));
  const p = report.protection;
  if (!unprotected && !p) throw new Error(`${dir}: not a --protect run`);
  const spec = unprotected ? 'unprotected' : p.spec;
  const protectedName = p ? `protected-${p.scheme}` : 'attacked';
  return {
    dir,
    spec,
    attack: unprotected ? '—' : `${p.keyless ? 'keyless' : p.attack}${p.attackerPrior ? ' + prior' : ''}`,
    scenario: unprotected ? null : p.attack,
    utility: {
      shared: unprotected ? utilityOf('unprotected', null) : utilityOf(spec, 'shared'),
      user: unprotected ? utilityOf('unprotected', null) : utilityOf(spec, 'user'),
    },
    recoveredCosine: p ? p.recoveredCosineToTrue.mean : 1,
    system: { name: protectedName, at1e3: sar(report, protectedName, 1e-3), at1e2: sar(report, protectedName, 1e-2) },
    judge: { at1e3: sar(report, judge, 1e-3), at1e2: sar(report, judge, 1e-2) },
    detected: report.naturalness?.reconstructions.share ?? null,
    kid: report.naturalness?.kid?.reconstructions ?? null,
    perReconstruction: report.perReconstruction.map((r) => ({
      file: path.join(dir, 'reconstructions', path.basename(r.file)),
      target: r.target,
      seed: r.seed,
      judgeTypeI: r.scores[judge]?.typeI ?? null,
    })),
    targets: report.targets,
  };
}

const rows = [await row(unprotectedDir, true), ...(await Promise.all(runDirs.map((d) => row(d, false))))];

const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 1000) / 10} %`);
const lines = [
  '| scheme | attacker | TAR @1e-3 shared key · user keys | recovered cos | system SAR I · II @1e-3 | dlib SAR I @1e-3 · 1e-2 | dlib SAR II @1e-3 | faces detected | KID ×10³ |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows
    .map((r) =>
      [
        r.spec,
        r.attack,
        r.spec === 'unprotected'
          ? pct(r.utility.shared?.tarAtFar1e3.tar)
          : `${pct(r.utility.shared?.tarAtFar1e3.tar)} · ${pct(r.utility.user?.tarAtFar1e3.tar)}`,
        r.recoveredCosine.toFixed(3),
        `${pct(r.system.at1e3?.typeI)} · ${pct(r.system.at1e3?.typeII)}`,
        `${pct(r.judge.at1e3?.typeI)} · ${pct(r.judge.at1e2?.typeI)}`,
        pct(r.judge.at1e3?.typeII),
        pct(r.detected),
        r.kid === null ? '—' : (r.kid * 1e3).toFixed(2),
      ].join(' | '),
    )
    .map((l) => `| ${l} |`),
];
console.log(lines.join('\n'));

// The plot: judge SAR type-I at FMR 1e-3 against TAR at FMR 1e-3 (shared key).
const W = 720;
const H = 480;
const m = { l: 70, r: 20, t: 40, b: 60 };
const x = (v) => m.l + v * (W - m.l - m.r);
const y = (v) => H - m.b - v * (H - m.t - m.b);
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
];
svg.push(`<rect width="${W}" height="${H}" fill="white"/>`);
svg.push(
  `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Leakage against utility: ${judge} SAR (type-I, FMR 1e-3) vs TAR @ FMR 1e-3</text>`,
);
for (let k = 0; k <= 10; k++) {
  const v = k / 10;
  svg.push(`<line x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(1)}" stroke="#eee"/>`);
  svg.push(`<line x1="${x(0)}" y1="${y(v)}" x2="${x(1)}" y2="${y(v)}" stroke="#eee"/>`);
  svg.push(`<text x="${x(v)}" y="${y(0) + 16}" text-anchor="middle">${v.toFixed(1)}</text>`);
  svg.push(`<text x="${x(0) - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
}
svg.push(`<rect x="${x(0)}" y="${y(1)}" width="${x(1) - x(0)}" height="${y(0) - y(1)}" fill="none" stroke="#333"/>`);
svg.push(
  `<text x="${(x(0) + x(1)) / 2}" y="${H - 18}" text-anchor="middle">utility: TAR @ FMR 1e-3 on LFW (one shared key)</text>`,
);
svg.push(
  `<text transform="translate(18 ${(y(0) + y(1)) / 2}) rotate(-90)" text-anchor="middle">leakage: ${judge} SAR type-I @ FMR 1e-3</text>`,
);
const colour = {
  '—': '#000',
  keyless: '#1f77b4',
  'keyless + prior': '#17becf',
  'key-stolen': '#d62728',
  'key-stolen + prior': '#9467bd',
  'key-unknown': '#2ca02c',
};
const placed = [];
for (const r of rows) {
  const u = r.utility.shared?.tarAtFar1e3.tar;
  const s = r.judge.at1e3?.typeI;
  if (u === undefined || s === null || s === undefined) continue;
  const c = colour[r.attack];
  const shape =
    r.spec === 'unprotected'
      ? `<rect x="${x(u) - 6}" y="${y(s) - 6}" width="12" height="12" fill="${c}"/>`
      : `<circle cx="${x(u)}" cy="${y(s)}" r="5" fill="${r.attack === 'key-unknown' ? 'white' : c}" stroke="${c}" stroke-width="2"/>`;
  svg.push(shape);
  // The first of four places around the point whose box overlaps no label placed before.
  const w = 6.6 * r.spec.length;
  const places = [
    [x(u) + 8, y(s) - 6],
    [x(u) + 8, y(s) + 16],
    [x(u) - 8 - w, y(s) - 6],
    [x(u) - 8 - w, y(s) + 16],
  ];
  const free = ([lx, ly]) => placed.every(([px, py, pw]) => lx + w < px || px + pw < lx || Math.abs(ly - py) >= 14);
  const [lx, ly] = places.find(free) ?? places[0];
  placed.push([lx, ly, w]);
  svg.push(`<text x="${lx}" y="${ly}" fill="${c}">${r.spec}</text>`);
}
const legend = [
  ['unprotected', '#000'],
  ['keyless scheme', colour.keyless],
  ['key stolen', colour['key-stolen']],
  ['key stolen + prior of face embeddings', colour['key-stolen + prior']],
  ['key unknown (hollow)', colour['key-unknown']],
];
const shown = new Set(rows.map((r) => r.attack));
const wanted = {
  unprotected: '—',
  'keyless scheme': 'keyless',
  'key stolen': 'key-stolen',
  'key stolen + prior of face embeddings': 'key-stolen + prior',
  'key unknown (hollow)': 'key-unknown',
};
legend
  .filter(([name]) => shown.has(wanted[name]))
  .forEach(([name, c], i) => svg.push(`<text x="${x(0) + 10}" y="${y(1) + 18 + 16 * i}" fill="${c}">■ ${name}</text>`));
svg.push('</svg>');
await writeFileAtomic(`${outPrefix}-plot.png`, await svgToPng(svg.join('\n')));

// The sheet: photo | unprotected | each run that is not key-unknown, for the first targets.
await tf.setBackend('wasm');
const norm = { mean: 127.5, std: 127.5 };
const size = [112, 112];
// One column per scheme: the key-stolen runs (a keyless scheme's key-unknown run is the same attack).
const sheetRows = rows.filter((r) => r.scenario !== 'key-unknown');
const unprotectedTargets = (await readJson(path.join(unprotectedDir, 'reconstructions', 'report.json'))).targets;
const grid = [];
const labels = [];
for (let t = 0; t < Math.min(sheetTargets, rows[0].targets); t++) {
  const cells = [];
  const names = [];
  const photoFile = unprotectedTargets[t].source;
  cells.push(await readImageTensor(photoFile, { size, normalization: norm }));
  names.push(`target ${path.basename(path.dirname(photoFile))}`.slice(0, 22));
  for (const r of sheetRows) {
    const rec = r.perReconstruction.find((p) => p.target === t && p.seed === 0);
    if (!rec) throw new Error(`${r.dir}: no reconstruction of target ${t}, seed 0`);
    cells.push(await readImageTensor(rec.file, { size, normalization: norm }));
    const name = `${r.spec.split(':')[0]}${r.attack.endsWith('+ prior') ? '+prior' : ''}`;
    names.push(`${name} ${rec.judgeTypeI === null ? '' : rec.judgeTypeI.toFixed(2)}`);
  }
  grid.push(cells);
  labels.push(names);
}
const png = await contactSheetPng(grid, { normalization: norm, cellLabels: labels, labelHeight: 16 });
tf.dispose(grid.flat());
const { default: sharp } = await import('sharp');
await writeFileAtomic(`${outPrefix}-sheet.jpg`, await sharp(png).jpeg({ quality: 90 }).toBuffer());
await writeFileAtomic(
  `${outPrefix}.json`,
  `${JSON.stringify(
    rows.map(({ perReconstruction: _per, ...r }) => r),
    null,
    2,
  )}\n`,
);
console.error(`wrote ${outPrefix}.json, ${outPrefix}-plot.png, ${outPrefix}-sheet.jpg`);
