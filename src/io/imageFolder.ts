/**
 * Training-set listings: an ImageFolder tree or a CSV manifest becomes a list of (path, label)
 * with classes sorted by name, as torchvision `ImageFolder` and insightface's image-folder
 * loader do (arcface_torch `dataset.py`). Also the identity-disjoint validation split used for
 * checkpoint selection (held-out identities, as the identities of a verification benchmark
 * such as LFW are disjoint from the training identities).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ArcinvertError } from '../errors.js';
import { readTextChecked } from './atomic.js';
import { Mulberry32, mixSeed, shuffleInPlace } from '../util/random.js';

/** One training image. */
export interface LabeledItem {
  /** Absolute path of the image file. */
  path: string;
  /** Class index into `classNames`. */
  label: number;
}

/** A labelled image list; `classNames[label]` names each item's identity. */
export interface Dataset {
  items: LabeledItem[];
  /** Identity names, sorted by UTF-16 code units (`Array.prototype.sort`), label = index. */
  classNames: string[];
}

/** File extensions sharp can decode that face datasets use. */
const IMAGE_EXT = /\.(jpe?g|png|webp|tiff?|avif|gif)$/i;

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Lists an ImageFolder tree `<dir>/<identity>/<image>`. Identity folders with no image are
 * left out (they would be classes without samples); files in `dir` itself are ignored.
 * @throws ArcinvertError if `dir` is not a folder or holds no image.
 */
export async function loadImageFolder(dir: string): Promise<Dataset> {
  const root = path.resolve(dir);
  if (!(await isDirectory(root))) throw new ArcinvertError(`image folder not found: ${dir}`);
  const entries = await fsp.readdir(root, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory() || e.isSymbolicLink())
    .map((e) => e.name)
    .sort();
  const classNames: string[] = [];
  const items: LabeledItem[] = [];
  for (const name of names) {
    const classDir = path.join(root, name);
    if (!(await isDirectory(classDir))) continue;
    const files = (await fsp.readdir(classDir)).filter((f) => IMAGE_EXT.test(f) && !f.startsWith('.')).sort();
    if (files.length === 0) continue;
    const label = classNames.length;
    classNames.push(name);
    for (const f of files) items.push({ path: path.join(classDir, f), label });
  }
  if (items.length === 0) throw new ArcinvertError(`no images found in ${dir} (expected <dir>/<identity>/<image>)`);
  return { items, classNames };
}

/** Splits one CSV line into fields; supports "quoted, fields" with "" as an escaped quote. */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
    } else field += ch;
  }
  out.push(field);
  return out;
}

/**
 * Reads a CSV manifest with a header naming at least `path` and `identity` (other columns
 * are ignored), paths relative to `rootDir`. Items keep the file's order.
 * @throws ArcinvertError if the file is unreadable, lacks those columns, or has a bad row.
 */
export async function loadCsvManifest(csvPath: string, rootDir: string): Promise<Dataset> {
  const text = await readTextChecked(csvPath, 'manifest', 'listing');
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim());
  const pathCol = header.indexOf('path');
  const idCol = header.indexOf('identity');
  if (pathCol < 0 || idCol < 0)
    throw new ArcinvertError(`manifest ${csvPath} needs a header with "path" and "identity" columns`);
  const rows: { path: string; identity: string }[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const f = splitCsvLine(lines[i]);
    if (f.length !== header.length || f[pathCol] === '' || f[idCol] === '') {
      throw new ArcinvertError(
        `manifest ${csvPath} line ${i + 1}: expected ${header.length} fields with a path and identity`,
      );
    }
    rows.push({ path: path.resolve(rootDir, f[pathCol]), identity: f[idCol] });
  }
  if (rows.length === 0) throw new ArcinvertError(`manifest ${csvPath} lists no images`);
  const classNames = Array.from(new Set(rows.map((r) => r.identity))).sort();
  const index = new Map(classNames.map((n, i) => [n, i]));
  return { items: rows.map((r) => ({ path: r.path, label: index.get(r.identity)! })), classNames };
}

/** Keeps the items of the given classes, renumbering them 0 … in sorted-name order. */
function subsetByClasses(dataset: Dataset, keep: Set<number>): Dataset {
  const kept = Array.from(keep).sort((a, b) => (dataset.classNames[a] < dataset.classNames[b] ? -1 : 1));
  const remap = new Map(kept.map((old, i) => [old, i]));
  return {
    classNames: kept.map((c) => dataset.classNames[c]),
    items: dataset.items
      .filter((it) => remap.has(it.label))
      .map((it) => ({ path: it.path, label: remap.get(it.label)! })),
  };
}

/**
 * Splits by identity: round(valFraction·C) randomly chosen classes (at least one when
 * valFraction > 0) go to `val`, the rest to `train`; no identity is in both. Each side is
 * relabelled 0 … C_side − 1 in sorted-name order, so `train` feeds a classifier directly.
 * @param seed the choice depends only on the seed and the (sorted) class list, not on item order.
 */
export function splitByIdentity(dataset: Dataset, valFraction: number, seed: number): { train: Dataset; val: Dataset } {
  if (!(valFraction >= 0 && valFraction < 1))
    throw new ArcinvertError(`valFraction must be in [0, 1), got ${valFraction}`);
  const c = dataset.classNames.length;
  let nVal = Math.round(valFraction * c);
  if (valFraction > 0 && nVal === 0) nVal = 1;
  if (nVal >= c) throw new ArcinvertError(`valFraction ${valFraction} leaves no training identity out of ${c}`);
  const order = shuffleInPlace(
    Array.from({ length: c }, (_, i) => i),
    new Mulberry32(mixSeed(seed, c)),
  );
  const valSet = new Set(order.slice(0, nVal));
  const trainSet = new Set(order.slice(nVal));
  return { train: subsetByClasses(dataset, trainSet), val: subsetByClasses(dataset, valSet) };
}
