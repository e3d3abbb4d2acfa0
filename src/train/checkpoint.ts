/**
 * Training checkpoints and trained-model directories (arcface_torch `train_v2.py` saves
 * `checkpoint_gpu_<rank>.pt` with the epoch, global step, backbone, partial-FC, optimiser and
 * LR-scheduler state dicts when `save_all_states` is set; this is the same content).
 *
 * Layout of a run directory:
 *   config.json                  resolved TrainConfig
 *   train-log.jsonl, eval-log.jsonl
 *   checkpoint.json              pointer {"path": "checkpoints/step-00000123", "step": 123}
 *   checkpoints/step-NNNNNNNN/   model.json + weights (BN moving statistics included),
 *                                head.{bin,json}, optimizer.{bin,json} (momentum buffers),
 *                                classes.json, state.json (written last)
 *   best/                        model.json + weights, head, classes.json, best.json
 *   train.lock                   while a train process uses the run (lock.ts)
 * A checkpoint is written into a temporary folder, renamed to its final name, and only then
 * does `checkpoint.json` (itself written atomically) point at it; older checkpoints are removed
 * after that. A crash at any moment leaves the previous checkpoint usable. `best/` is swapped in
 * the same way (temporary folder, rename).
 *
 * Every checkpoint and `best/` is itself a model directory: `loadFaceModel` reads it.
 *
 * A damaged run (a pointer to a missing or incomplete folder, a corrupt `state.json`) is
 * refused with one line that names the newest other complete checkpoint, if any, and the
 * `--resume … --out …` that continues from it; resuming never falls back to it silently.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import { ArcinvertError } from '../errors.js';
import { ensureDir, fsError, readFileChecked, writeFileAtomic } from '../io/atomic.js';
import { loadFaceModel, saveFaceModel } from '../model/store.js';
import type { TrainConfig } from './config.js';
import type { ArcFaceHead } from '../arcface/head.js';
import { hasHead, hasModel, headBasePath, readClassNames, writeClassNames } from '../model/directory.js';
import { loadArcFaceHead, saveHeadWeights } from '../model/headWeights.js';
import type { LoaderPosition } from './loader.js';

/** Everything besides tensors that a resumed run needs (`state.json`). */
export interface TrainState {
  format: 'arcinvert-train-state';
  version: 1;
  /** Optimiser steps done. */
  step: number;
  /** The next batch to train on; with `config.seed` this fixes the data order and flips. */
  position: LoaderPosition;
  /** Seconds of training so far, over all sessions. */
  elapsedSeconds: number;
  config: TrainConfig;
  /** Training identities; class id = index (also in classes.json). */
  classNames: string[];
  /** Held-out identities used for checkpoint selection. */
  valClassNames: string[];
  /** Best validation accuracy so far and where it was reached. */
  best: { accuracy: number; step: number; epoch: number } | null;
  /** Where the images came from, so `--resume` can find them again. */
  source: { kind: 'folder' | 'csv'; path: string } | null;
  /**
   * Worker threads the run trains on. The order of the gradient sums depends on it, so `--resume`
   * keeps it to stay bit-identical to an uninterrupted run. Absent in runs written before it was kept.
   */
  workers?: number;
}

/** A checkpoint's tensors and state, loaded. The caller disposes `fm.model`, `head`, `buffers`. */
export interface LoadedCheckpoint {
  dir: string;
  fm: FaceModel;
  head: ArcFaceHead;
  /** Momentum buffers, in `paramNames` order. */
  buffers: tf.Tensor[];
  paramNames: string[];
  state: TrainState;
}

interface OptimizerManifest {
  format: 'arcinvert-sgd';
  params: Array<{ name: string; shape: number[] }>;
}

const POINTER = 'checkpoint.json';

/** Writes a model directory's files (model, head, classes) into `dir`. */
async function writeModelFiles(dir: string, fm: FaceModel, head: ArcFaceHead, classNames: string[]): Promise<void> {
  await saveFaceModel(fm, dir);
  await saveHeadWeights(head, headBasePath(dir));
  await writeClassNames(dir, classNames);
}

async function tempDir(parent: string): Promise<string> {
  await ensureDir(parent);
  const dir = path.join(parent, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await ensureDir(dir);
  return dir;
}

/**
 * Saves a checkpoint under `runDir` and points `checkpoint.json` at it.
 * @param params parameter names in optimiser order, with their momentum buffers.
 * @returns the checkpoint directory.
 */
export async function saveCheckpoint(
  runDir: string,
  fm: FaceModel,
  head: ArcFaceHead,
  params: { names: string[]; buffers: tf.Tensor[] },
  state: TrainState,
): Promise<string> {
  const parent = path.join(runDir, 'checkpoints');
  const name = `step-${String(state.step).padStart(8, '0')}`;
  const tmp = await tempDir(parent);
  try {
    await writeModelFiles(tmp, fm, head, state.classNames);
    const values = await Promise.all(params.buffers.map((b) => b.data() as Promise<Float32Array>));
    const bytes = new Uint8Array(values.reduce((n, v) => n + v.byteLength, 0));
    let offset = 0;
    for (const v of values) {
      bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), offset);
      offset += v.byteLength;
    }
    const manifest: OptimizerManifest = {
      format: 'arcinvert-sgd',
      params: params.names.map((n, i) => ({ name: n, shape: params.buffers[i].shape })),
    };
    await writeFileAtomic(path.join(tmp, 'optimizer.bin'), bytes);
    await writeFileAtomic(path.join(tmp, 'optimizer.json'), `${JSON.stringify(manifest)}\n`);
    await writeFileAtomic(path.join(tmp, 'state.json'), `${JSON.stringify(state, null, 1)}\n`);
    const final = path.join(parent, name);
    await fsp.rm(final, { recursive: true, force: true });
    await fsp.rename(tmp, final);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw fsError(err, 'write checkpoint in', runDir);
  }
  await writeFileAtomic(
    path.join(runDir, POINTER),
    `${JSON.stringify({ path: `checkpoints/${name}`, step: state.step })}\n`,
  );
  for (const entry of await fsp.readdir(parent)) {
    if (entry !== name) await fsp.rm(path.join(parent, entry), { recursive: true, force: true });
  }
  return path.join(parent, name);
}

/** Replaces `runDir/best` with the given model, head, classes and metrics. */
export async function saveBest(
  runDir: string,
  fm: FaceModel,
  head: ArcFaceHead,
  classNames: string[],
  metrics: object,
): Promise<string> {
  const tmp = await tempDir(runDir);
  const final = path.join(runDir, 'best');
  const old = `${tmp}-old`;
  try {
    await writeModelFiles(tmp, fm, head, classNames);
    await writeFileAtomic(path.join(tmp, 'best.json'), `${JSON.stringify(metrics, null, 1)}\n`);
    if (existsSync(final)) await fsp.rename(final, old);
    await fsp.rename(tmp, final);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw fsError(err, 'write best model in', runDir);
  }
  await fsp.rm(old, { recursive: true, force: true });
  return final;
}

async function readJson<T>(file: string, what: string): Promise<T> {
  const text = new TextDecoder().decode(await readFileChecked(file, what));
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ArcinvertError(`${file} is corrupt (not valid JSON)`);
  }
}

/** Whether `dir` holds every file of a checkpoint (state.json is written last). */
function isCompleteCheckpoint(dir: string): boolean {
  return ['state.json', 'optimizer.json', 'optimizer.bin', 'model.json', 'classes.json'].every((f) =>
    existsSync(path.join(dir, f)),
  );
}

/**
 * What to tell the user when checkpoint `broken` cannot be used: the newest other complete
 * checkpoint beside it and how to resume from it, or that there is none. arcinvert does not
 * fall back to it by itself: resuming from an older step drops the later log lines.
 */
async function olderCheckpointHint(broken: string, runDir: string): Promise<string> {
  const parent = path.dirname(broken);
  const entries = await fsp.readdir(parent).catch(() => [] as string[]);
  const older = entries
    .filter((e) => /^step-\d{8}$/.test(e) && path.join(parent, e) !== path.normalize(broken))
    .sort()
    .reverse()
    .find((e) => isCompleteCheckpoint(path.join(parent, e)));
  if (older === undefined) return 'no other complete checkpoint is left in the run';
  const dir = path.join(parent, older);
  return `an older complete checkpoint exists: resume from it with --resume ${dir} --out ${runDir}`;
}

/** The checkpoint folder of `dir`: a run directory (via checkpoint.json) or a checkpoint itself. */
export async function findCheckpoint(dir: string): Promise<string> {
  if (existsSync(path.join(dir, 'state.json'))) return dir;
  const pointer = path.join(dir, POINTER);
  if (existsSync(pointer)) {
    const ptr = await readJson<{ path?: unknown }>(pointer, 'checkpoint pointer');
    if (ptr === null || typeof ptr !== 'object' || typeof ptr.path !== 'string')
      throw new ArcinvertError(`${pointer} names no checkpoint`);
    const ckpt = path.join(dir, ptr.path);
    if (!existsSync(path.join(ckpt, 'state.json'))) {
      const what = existsSync(ckpt) ? 'an incomplete checkpoint (no state.json)' : 'a missing folder';
      throw new ArcinvertError(`${pointer} points at ${what} ${ckpt}; ${await olderCheckpointHint(ckpt, dir)}`);
    }
    return ckpt;
  }
  throw new ArcinvertError(`no training checkpoint in ${dir} (expected checkpoint.json or state.json)`);
}

/** The run directory a checkpoint folder belongs to (`run/checkpoints/step-N` → `run`). */
function runDirOf(ckpt: string): string {
  return path.dirname(path.dirname(ckpt));
}

/** Checks the parts of `state.json` that a resume reads before anything else. */
function checkState(state: unknown, file: string): TrainState {
  const s = state as Partial<TrainState> | null;
  if (s === null || typeof s !== 'object' || s.format !== 'arcinvert-train-state' || s.version !== 1)
    throw new ArcinvertError(`${file} is not an arcinvert training state`);
  const bad =
    !Number.isInteger(s.step) || (s.step as number) < 0
      ? 'step'
      : typeof s.config !== 'object' || s.config === null
        ? 'config'
        : typeof s.position !== 'object' || s.position === null
          ? 'position'
          : !Array.isArray(s.classNames)
            ? 'classNames'
            : undefined;
  if (bad !== undefined) throw new ArcinvertError(`${file} is corrupt (bad or missing '${bad}')`);
  return s as TrainState;
}

/**
 * The training state (`state.json`) of checkpoint folder `ckpt`, checked.
 * @throws ArcinvertError naming the file, and any older complete checkpoint to resume from.
 */
export async function readTrainState(ckpt: string): Promise<TrainState> {
  const file = path.join(ckpt, 'state.json');
  try {
    return checkState(await readJson<unknown>(file, 'checkpoint state'), file);
  } catch (err) {
    if (!(err instanceof ArcinvertError)) throw err;
    throw new ArcinvertError(`${err.message}; ${await olderCheckpointHint(ckpt, runDirOf(ckpt))}`);
  }
}

/** Loads the checkpoint of a run directory or checkpoint folder. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const ckpt = await findCheckpoint(dir);
  const state = await readTrainState(ckpt);
  const manifest = await readJson<OptimizerManifest>(path.join(ckpt, 'optimizer.json'), 'optimizer state');
  if (manifest === null || typeof manifest !== 'object' || !Array.isArray(manifest.params))
    throw new ArcinvertError(`${ckpt}/optimizer.json is not an arcinvert optimizer state`);
  const bytes = await readFileChecked(path.join(ckpt, 'optimizer.bin'), 'optimizer state');
  const sizes = manifest.params.map((p) => p.shape.reduce((a, b) => a * b, 1));
  if (bytes.byteLength !== sizes.reduce((a, b) => a + b, 0) * 4)
    throw new ArcinvertError(`${ckpt}/optimizer.bin is truncated or corrupt`);
  const all = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(all.buffer).set(bytes);
  const fm = await loadFaceModel(ckpt);
  const head = await loadArcFaceHead(headBasePath(ckpt)).catch((err: unknown) => {
    fm.model.dispose();
    throw err;
  });
  let offset = 0;
  const buffers = manifest.params.map((p, i) => {
    const t = tf.tensor(all.subarray(offset, offset + sizes[i]), p.shape, 'float32');
    offset += sizes[i];
    return t;
  });
  return { dir: ckpt, fm, head, buffers, paramNames: manifest.params.map((p) => p.name), state };
}

/**
 * The model directory meant by `dir`: itself if it holds model.json, else its `best/`, else
 * its latest checkpoint.
 */
export async function resolveModelDir(dir: string): Promise<string> {
  if (hasModel(dir)) return dir;
  if (hasModel(path.join(dir, 'best'))) return path.join(dir, 'best');
  if (existsSync(path.join(dir, POINTER))) return findCheckpoint(dir);
  if (!existsSync(dir)) throw new ArcinvertError(`model directory ${dir} does not exist`);
  throw new ArcinvertError(`no model in ${dir} (expected model.json, best/ or checkpoint.json)`);
}

/** A trained model with its classifier head and class names; the caller disposes model and head. */
export interface TrainedModel {
  dir: string;
  fm: FaceModel;
  head: ArcFaceHead;
  classNames: string[];
}

/** Loads a model directory written by training (model, head, classes). */
export async function loadTrainedModel(dir: string): Promise<TrainedModel> {
  const modelDir = await resolveModelDir(dir);
  if (!hasHead(modelDir))
    throw new ArcinvertError(`${modelDir} has no classifier head (head.json); it was not written by arcinvert train`);
  const classNames = await readClassNames(modelDir);
  const fm = await loadFaceModel(modelDir);
  const head = await loadArcFaceHead(headBasePath(modelDir)).catch((err: unknown) => {
    fm.model.dispose();
    throw err;
  });
  const { numClasses, embeddingDim } = head.config;
  if (numClasses !== classNames.length || embeddingDim !== fm.meta.embeddingSize) {
    fm.model.dispose();
    head.dispose();
    throw new ArcinvertError(
      `${modelDir}: head (${numClasses} classes, ${embeddingDim}-d) does not match the model (${fm.meta.embeddingSize}-d) or the ${classNames.length} class names`,
    );
  }
  return { dir: modelDir, fm, head, classNames };
}
