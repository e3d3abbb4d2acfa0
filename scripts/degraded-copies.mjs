#!/usr/bin/env node
// A training set with degraded copies of the training photos, for `arcinvert train --csv`: each
// photo of the identities `arcinvert train` trains on (seed 0, 10 % held out: those keep their
// photos alone, so the held-out pairs stay the same) gets COPIES copies, each shrunk to a random
// size in [SMALL_MIN, SMALL_MAX] px and back to 112 (bilinear), then saved as JPEG at a random
// quality in [Q_MIN, Q_MAX] (drawn per copy from a seed and the photo's path, so a re-run makes
// the same files). A copy's distillation target is its original's row of TARGETS: the student
// learns to put a low-quality photo where the teachers put the clean one, which the teachers
// themselves do not (scripts/degraded-heldout.mjs: on 56-px JPEG q50 copies the default model
// loses 2.4 points of held-out accuracy, faceres 1.7).
// Writes OUT/images/… (the copies, staged and renamed), OUT/train.csv (absolute paths: the
// originals in ImageFolder order, then the copies; identity = folder name) and OUT/targets.npy
// with OUT/targets.txt (float16, one row per line of train.csv). Nothing is written next to the data.
// Usage: npm run build && node scripts/degraded-copies.mjs TARGETS.npy OUT [--copies 1]
//          [--small 40,96] [--quality 30,90] [--seed 0]
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { writeDegraded } from './degrade.mjs';
import { takeFlag } from './flag.mjs';
import { loadCsvManifest, loadImageFolder, splitByIdentity } from '../dist/io/imageFolder.js';
import { readNpy, writeNpy } from '../dist/io/npy.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => takeFlag(args, name, dflt);
const range = (s) => (s === null ? [NaN, NaN] : s.split(',').map(Number));
const copies = Number(opt('--copies', '1'));
const [smallMin, smallMax] = range(opt('--small', '40,96'));
const [qMin, qMax] = range(opt('--quality', '30,90'));
const seed = Number(opt('--seed', '0'));
const [targetsFile, out] = args;
const ok = (lo, hi, min, max) => Number.isInteger(lo) && Number.isInteger(hi) && min <= lo && lo <= hi && hi <= max;
if (
  args.length !== 2 ||
  !targetsFile.endsWith('.npy') ||
  !(Number.isInteger(copies) && copies >= 1) ||
  !ok(smallMin, smallMax, 8, 112) ||
  !ok(qMin, qMax, 1, 100) ||
  !Number.isInteger(seed)
) {
  console.error('usage: degraded-copies.mjs TARGETS.npy OUT [--copies 1] [--small 40,96] [--quality 30,90] [--seed 0]');
  process.exit(2);
}
if (!existsSync(targetsFile)) {
  console.error(`no such target file: ${targetsFile}`);
  process.exit(2);
}
const data = path.resolve(process.env.DATA ?? '../shared/data', 'train');
const folder = await loadImageFolder(data);
const { val } = splitByIdentity(folder, 0.1, 0);
const heldOut = new Set(val.classNames);
const targets = await readNpy(targetsFile);
const dim = targets.shape[1];
const listing = (await fsp.readFile(targetsFile.replace(/\.npy$/, '.txt'), 'utf8')).split('\n').filter(Boolean);
const rowOf = new Map(listing.map((l, i) => [path.resolve(data, l), i]));

const missing = folder.items.find((it) => !rowOf.has(it.path));
if (missing !== undefined) {
  console.error(`${targetsFile} has no target for ${missing.path}`);
  process.exit(2);
}

/** A uniform integer in [lo, hi] from the hash of `key`. */
const draw = (key, lo, hi) => lo + (createHash('sha256').update(key).digest().readUInt32LE(0) % (hi - lo + 1));
const rows = folder.items.map((it) => ({ path: it.path, identity: folder.classNames[it.label], source: it.path }));
const t0 = Date.now();
for (const it of folder.items) {
  const identity = folder.classNames[it.label];
  if (heldOut.has(identity)) continue;
  const rel = path.relative(data, it.path);
  for (let c = 0; c < copies; c++) {
    const small = draw(`${seed}/${c}/small/${rel}`, smallMin, smallMax);
    const quality = draw(`${seed}/${c}/quality/${rel}`, qMin, qMax);
    const file = path.resolve(out, 'images', rel.replace(/\.\w+$/, `.c${c}-${small}px-q${quality}.jpg`));
    await writeDegraded(it.path, file, small, quality);
    rows.push({ path: file, identity, source: it.path });
  }
  if (rows.length % 1000 === 0)
    process.stderr.write(`\r${rows.length - folder.items.length} copies, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
process.stderr.write('\n');

const quote = (s) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
const csv = path.resolve(out, 'train.csv');
await writeFileAtomic(csv, `path,identity\n${rows.map((r) => `${quote(r.path)},${quote(r.identity)}`).join('\n')}\n`);
const t = new Float32Array(rows.length * dim);
rows.forEach((r, i) =>
  t.set(targets.data.subarray(rowOf.get(r.source) * dim, (rowOf.get(r.source) + 1) * dim), i * dim),
);
await writeNpy(path.resolve(out, 'targets.npy'), t, [rows.length, dim], 'float16');
await writeFileAtomic(path.resolve(out, 'targets.txt'), `${rows.map((r) => r.path).join('\n')}\n`);

// The manifest must keep `arcinvert train`'s held-out identities and pairs: same classes, same photos.
const split = splitByIdentity(await loadCsvManifest(csv, out), 0.1, 0);
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
if (
  !same(split.val.classNames, val.classNames) ||
  !same(
    split.val.items.map((i) => i.path),
    val.items.map((i) => i.path),
  )
)
  throw new Error(`${csv}: its held-out split differs from the image folder's`);
console.log(
  `${csv}: ${folder.items.length} photos + ${rows.length - folder.items.length} copies of the ${folder.classNames.length - heldOut.size} training identities' photos (${val.classNames.length} held-out identities without copies); targets ${rows.length} × ${dim}`,
);
