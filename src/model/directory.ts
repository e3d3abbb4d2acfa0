/**
 * The one owner of a model directory's layout. A model directory holds:
 *   model.json + weights-<hash>.bin   the backbone (`store.ts`), with `FaceModelMeta`
 *   head.json + head.bin              the classifier head (`headWeights.ts`), after training
 *   classes.json                      the training identities (class id = index)
 *   calibration.json                  layer statistics of real faces (`arcinvert calibrate`)
 *   import.json                       how an ONNX model was imported (`arcinvert import`)
 * Training checkpoints and `best/` are model directories with more files beside these.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ArcFaceHead } from '../arcface/head.js';
import { ArcinvertError } from '../errors.js';
import { readJsonChecked, writeFileAtomic } from '../io/atomic.js';
import { loadArcFaceHead } from './headWeights.js';
import type { StatCalibration } from './types.js';

/** The tfjs model description. */
export const MODEL_FILE = 'model.json';
/** Base name of the classifier weights (`head.json` + `head.bin`). */
export const HEAD_BASENAME = 'head';
/** The training identities. */
export const CLASSES_FILE = 'classes.json';
/** Calibrated layer statistics. */
export const CALIBRATION_FILE = 'calibration.json';
/** The record of an ONNX import. */
export const IMPORT_FILE = 'import.json';

/** Whether `dir` holds a model (`model.json`). */
export function hasModel(dir: string): boolean {
  return existsSync(path.join(dir, MODEL_FILE));
}

/** Base path of the head's weight files in `dir` (for `saveHeadWeights` / `loadHeadWeights`). */
export function headBasePath(dir: string): string {
  return path.join(dir, HEAD_BASENAME);
}

/** Whether `dir` holds a classifier head. */
export function hasHead(dir: string): boolean {
  return existsSync(`${headBasePath(dir)}.json`);
}

/** The classifier head of `dir`, or undefined when it has none; the caller disposes it. */
export async function loadHeadIfPresent(dir: string): Promise<ArcFaceHead | undefined> {
  const base = headBasePath(dir);
  const exists = await fsp.stat(`${base}.json`).then(
    () => true,
    () => false,
  );
  return exists ? loadArcFaceHead(base) : undefined;
}

/** Whether `dir` holds class names. */
export function hasClassNames(dir: string): boolean {
  return existsSync(path.join(dir, CLASSES_FILE));
}

/** Writes `dir/classes.json` atomically. */
export async function writeClassNames(dir: string, classNames: readonly string[]): Promise<void> {
  await writeFileAtomic(
    path.join(dir, CLASSES_FILE),
    `${JSON.stringify({ format: 'arcinvert-classes', classNames })}\n`,
  );
}

/**
 * The training identities of a saved model (`classes.json`; class id = index).
 * @throws ArcinvertError when the file is missing, corrupt or holds no list of names.
 */
export async function readClassNames(modelDir: string): Promise<string[]> {
  const file = path.join(modelDir, CLASSES_FILE);
  const classes = (await readJsonChecked(file, 'class list', 'listing')) as { classNames?: unknown };
  if (!Array.isArray(classes.classNames) || !classes.classNames.every((c) => typeof c === 'string')) {
    throw new ArcinvertError(`${modelDir}/${CLASSES_FILE} has no class-name list`);
  }
  return classes.classNames;
}

/** Writes `dir/import.json` (the record of an ONNX import) atomically. */
export async function writeImportRecord(dir: string, record: object): Promise<void> {
  await writeFileAtomic(path.join(dir, IMPORT_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** Writes `dir/calibration.json` atomically. */
export async function saveCalibration(dir: string, cal: StatCalibration): Promise<void> {
  const json = {
    ...cal,
    layers: cal.layers.map((l) => ({
      name: l.name,
      channels: l.channels,
      mean: Array.from(l.mean),
      variance: Array.from(l.variance),
    })),
  };
  await writeFileAtomic(path.join(dir, CALIBRATION_FILE), `${JSON.stringify(json)}\n`);
}

/**
 * Reads `dir/calibration.json`; undefined when the model has none.
 * @throws ArcinvertError when the file is corrupt.
 */
export async function loadCalibration(dir: string): Promise<StatCalibration | undefined> {
  const file = path.join(dir, CALIBRATION_FILE);
  if (!existsSync(file)) return undefined;
  const bad = (why: string): never => {
    throw new ArcinvertError(`${file} is corrupt (${why})`);
  };
  const j = (await readJsonChecked(file, 'calibration')) as Record<string, unknown>;
  if (j.format !== 'arcinvert-calibration' || j.version !== 1 || !Array.isArray(j.layers))
    bad('not an arcinvert calibration');
  const layers = (j.layers as Record<string, unknown>[]).map((l, i) => {
    const ok =
      typeof l.name === 'string' &&
      Number.isInteger(l.channels) &&
      Array.isArray(l.mean) &&
      Array.isArray(l.variance) &&
      l.mean.length === l.channels &&
      l.variance.length === l.channels;
    if (!ok) bad(`layer ${i}`);
    const mean = Float32Array.from(l.mean as number[]);
    const variance = Float32Array.from(l.variance as number[]);
    if (!mean.every(Number.isFinite) || !variance.every((v) => Number.isFinite(v) && v >= 0))
      bad(`layer ${String(l.name)} has NaN or negative values`);
    return { name: l.name as string, channels: l.channels as number, mean, variance };
  });
  return {
    format: 'arcinvert-calibration',
    version: 1,
    images: Number(j.images),
    source: typeof j.source === 'string' ? j.source : '',
    layers,
  };
}
