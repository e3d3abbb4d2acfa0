/**
 * Where a face network comes from, so that a leakage report can tell an independent judge from
 * the attacked network itself or from one it was trained to imitate (`leakage --judge`).
 *
 * - `fingerprints`: what identifies the weights. An imported model carries the SHA-256 of the
 *   file it was imported from (`import.json` / its metadata), a graph model the same hash of its
 *   model.json and shards, an arcinvert model directory the name of its weight shard (which is a
 *   hash of the weights: `saveFaceModel`). Two networks sharing a fingerprint are the same.
 * - `family`: the network's short name: an import's source file name without extension
 *   (`faceres` for `faceres.json`), a graph model's file name, else the directory's name.
 * - `teachers`: the families the network was distilled from: the base names of the `distill`
 *   targets in the training configs kept with the model (`config.json`, `phase1-config.json`, …;
 *   `scripts/teacher-embeddings.mjs` names its output after the teacher, e.g. `faceres.npy`),
 *   and the families a `teachers.json` beside them lists (`{"teachers": ["faceres", …]}`): a
 *   combined target (`scripts/teacher-ensemble.mjs`) is named after none of its teachers.
 * - `ancestors`: the families the network was warm-started from (`train --init`), as its
 *   `teachers.json` lists them (`"ancestors": ["default"]`): the configs' `init` paths name
 *   directories that may since have been renamed, so they are not read.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { readFileChecked } from '../io/atomic.js';
import type { FaceModelMeta, OnnxImportInfo, TfjsImportInfo } from './types.js';

export interface Lineage {
  family: string;
  fingerprints: string[];
  teachers: string[];
  /** Families whose weights this network's training started from (none when absent). */
  ancestors?: string[];
}

/** How two networks are related, from the first's point of view (`a` judges `b`'s reconstructions). */
export type Relation = { kind: 'same'; why: string } | { kind: 'related'; why: string } | { kind: 'independent' };

/** SHA-256 of a graph model's model.json bytes followed by its weight data (as `import --tfjs` records it). */
export async function graphSha256(jsonFile: string, artifacts: tf.io.ModelArtifacts): Promise<string> {
  const hash = createHash('sha256').update(await readFileChecked(jsonFile, 'model file'));
  const data = artifacts.weightData;
  if (data) for (const part of Array.isArray(data) ? data : [data]) hash.update(new Uint8Array(part));
  return hash.digest('hex');
}

/** A file name without its directory and extension. */
function stem(file: string): string {
  return path.basename(file).replace(/\.[^.]*$/, '');
}

/** The string entries of `teachers.json`'s list `key` in `d` (none when absent or unreadable). */
async function listed(d: string, key: 'teachers' | 'ancestors'): Promise<string[]> {
  const list = await fsp
    .readFile(path.join(d, 'teachers.json'), 'utf8')
    .then((t) => (JSON.parse(t) as Record<string, unknown>)[key])
    .catch(() => undefined);
  return Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string') : [];
}

/** Teacher families named by the training configs in `dir` (and in its run folder when `dir` is a run's `best/`). */
async function teachersOf(dir: string): Promise<string[]> {
  const dirs = path.basename(dir) === 'best' ? [dir, path.dirname(dir)] : [dir];
  const out = new Set<string>();
  for (const d of dirs) {
    const names = await fsp.readdir(d).catch(() => [] as string[]);
    for (const f of names.filter((n) => /(^|-)config\.json$/.test(n))) {
      const cfg = await fsp
        .readFile(path.join(d, f), 'utf8')
        .then((t) => JSON.parse(t) as { distill?: { targets?: unknown } | null })
        .catch(() => undefined);
      const targets = cfg?.distill?.targets;
      if (typeof targets === 'string') out.add(stem(targets));
    }
    if (names.includes('teachers.json')) for (const t of await listed(d, 'teachers')) out.add(t);
  }
  return [...out].sort();
}

/** The lineage of the arcinvert model directory `dir` (its metadata `meta`, its shard file names). */
export async function modelDirLineage(dir: string, meta: FaceModelMeta): Promise<Lineage> {
  const fingerprints = (await fsp.readdir(dir).catch(() => [] as string[]))
    .filter((f) => /^weights-[0-9a-f]{12}\.bin$/.test(f))
    .map((f) => `weights:${f}`);
  const abs = path.resolve(dir);
  // A training run's selected model (`RUN/best`) is named after its run.
  let family = path.basename(abs) === 'best' ? path.basename(path.dirname(abs)) : path.basename(abs);
  if (meta.backbone === 'onnx' || meta.backbone === 'tfjs') {
    const info = meta.config as OnnxImportInfo | TfjsImportInfo;
    fingerprints.push(`sha256:${info.sha256}`);
    family = stem(info.source);
  }
  return { family, fingerprints, teachers: await teachersOf(dir), ancestors: (await listed(dir, 'ancestors')).sort() };
}

/** The lineage of a tfjs graph model file (no training record: no teachers). */
export function graphLineage(jsonFile: string, sha256: string): Lineage {
  return { family: stem(jsonFile), fingerprints: [`sha256:${sha256}`], teachers: [] };
}

/** How `judge` relates to `attacked`. */
export function relation(judge: Lineage, attacked: Lineage): Relation {
  const shared = judge.fingerprints.find((f) => attacked.fingerprints.includes(f));
  if (shared) return { kind: 'same', why: `same weights (${shared.slice(0, 19)}…)` };
  if (attacked.teachers.includes(judge.family))
    return { kind: 'related', why: `the attacked model was distilled from ${judge.family}` };
  if (judge.teachers.includes(attacked.family))
    return { kind: 'related', why: `${judge.family} was distilled from the attacked model` };
  if (attacked.ancestors?.includes(judge.family))
    return { kind: 'related', why: `the attacked model was warm-started from ${judge.family}` };
  if (judge.ancestors?.includes(attacked.family))
    return { kind: 'related', why: `${judge.family} was warm-started from the attacked model` };
  return { kind: 'independent' };
}
