/**
 * Face models on disk: a standard tfjs LayersModel directory (`model.json` + one weight
 * shard, BatchNorm moving statistics included) with arcinvert's `FaceModelMeta` stored in the
 * model's `userDefinedMetadata.arcinvert`, so `tf.loadLayersModel` in any tfjs runtime can
 * read it too.
 *
 * Saving is crash-safe: the shard is named after a hash of its bytes and written first, then
 * `model.json` is renamed into place, then stale shards are removed. A reader therefore
 * always sees a `model.json` whose shard is complete.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BACKBONE_NAMES } from '../backbone/registry.js';
import { ArcinvertError } from '../errors.js';
import { ensureDir, readFileChecked, writeFileAtomic } from '../io/atomic.js';
import { checkProbe, checkTopology } from './check.js';
import { loadCalibration, MODEL_FILE } from './directory.js';
import type { FaceModel, FaceModelMeta } from './types.js';

/** The metadata key under `userDefinedMetadata`. */
const META_KEY = 'arcinvert';

function joinWeights(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

/**
 * Saves `fm` to `dir` (created if missing). Existing files of an earlier model in `dir` are
 * replaced; other files are left alone.
 */
export async function saveFaceModel(fm: FaceModel, dir: string): Promise<void> {
  await ensureDir(dir);
  fm.model.setUserDefinedMetadata({ [META_KEY]: fm.meta });
  await fm.model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = joinWeights(artifacts.weightData);
      const shard = `weights-${createHash('sha256').update(weights).digest('hex').slice(0, 12)}.bin`;
      await writeFileAtomic(path.join(dir, shard), weights);
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [shard], weights: artifacts.weightSpecs ?? [] }];
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: manifest,
        userDefinedMetadata: artifacts.userDefinedMetadata,
      };
      await writeFileAtomic(path.join(dir, MODEL_FILE), JSON.stringify(json));
      for (const f of await fsp.readdir(dir)) {
        if (/^weights-[0-9a-f]{12}\.bin$/.test(f) && f !== shard) await fsp.rm(path.join(dir, f), { force: true });
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

function parseMeta(raw: unknown, dir: string): FaceModelMeta {
  const meta = (raw as Record<string, unknown> | undefined)?.[META_KEY] as FaceModelMeta | undefined;
  if (meta === undefined || typeof meta !== 'object') {
    throw new ArcinvertError(`${dir} is a tfjs model but not an arcinvert face model (no arcinvert metadata)`);
  }
  if (meta.format !== 1) throw new ArcinvertError(`${dir}: unsupported arcinvert model format ${String(meta.format)}`);
  if (meta.backbone !== 'onnx' && meta.backbone !== 'tfjs' && !BACKBONE_NAMES.includes(meta.backbone)) {
    throw new ArcinvertError(`${dir}: unknown backbone '${String(meta.backbone)}' in model metadata`);
  }
  const norm = meta.normalization as Partial<FaceModelMeta['normalization']> | undefined;
  if (!Number.isFinite(norm?.mean) || !(Number(norm?.std) > 0) || !Number.isFinite(norm?.std)) {
    throw new ArcinvertError(`${dir}: bad normalization ${JSON.stringify(norm)} in model metadata`);
  }
  return meta;
}

/** Bytes of one weight as stored (quantised weights take 1 or 2 bytes). */
function storedBytes(spec: tf.io.WeightsManifestEntry): number {
  const q = spec.quantization?.dtype;
  const per = q === 'uint8' ? 1 : q === 'uint16' || q === 'float16' ? 2 : spec.dtype === 'bool' ? 1 : 4;
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

/**
 * Reads `dir/model.json` and its shards into tfjs model artifacts (a layers model, or a graph
 * model with `kind: 'graph'`), with one-line errors.
 */
export async function readArtifacts(
  dir: string,
  kind: 'layers' | 'graph' = 'layers',
  jsonName = MODEL_FILE,
): Promise<tf.io.ModelArtifacts> {
  const jsonPath = path.join(dir, jsonName);
  const stat = await fsp.stat(dir).catch(() => undefined);
  if (stat === undefined) throw new ArcinvertError(`model directory ${dir} does not exist`);
  if (!stat.isDirectory()) throw new ArcinvertError(`${dir} is not a model directory`);
  const text = new TextDecoder().decode(await readFileChecked(jsonPath, 'model file'));
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch {
    throw new ArcinvertError(`${jsonPath} is corrupt (not valid JSON)`);
  }
  if (json.modelTopology === undefined || !Array.isArray(json.weightsManifest)) {
    throw new ArcinvertError(`${jsonPath} is not a tfjs ${kind} model (no topology or weights manifest)`);
  }
  return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const specs = manifest.flatMap((group) => group.weights);
    const parts: Uint8Array[] = [];
    for (const group of manifest) {
      for (const p of group.paths) parts.push(await readFileChecked(path.join(dir, p), 'weight shard'));
    }
    const data = Buffer.concat(parts);
    const expected = specs.reduce((n, s) => n + storedBytes(s), 0);
    if (data.byteLength !== expected) {
      throw new ArcinvertError(
        `${dir}: weight data is ${data.byteLength} bytes, the manifest needs ${expected} (truncated or corrupt)`,
      );
    }
    return [specs, data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)];
  });
}

/**
 * Loads a face model saved by `saveFaceModel` (or imported into the same format). The metadata
 * is checked against the topology, and the model must embed a probe image to finite numbers
 * (one forward pass of one image at the model's input size; see `check.ts`).
 * @throws ArcinvertError (one line naming `dir`) for any unusable model directory.
 */
export async function loadFaceModel(dir: string): Promise<FaceModel> {
  const artifacts = await readArtifacts(dir);
  const meta = parseMeta(artifacts.userDefinedMetadata, dir);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new ArcinvertError(`${dir}: cannot build the model (${(err as Error).message.split('\n')[0]})`);
  }
  try {
    checkTopology(model, meta, dir);
    checkProbe(model, meta, dir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  const calibration = await loadCalibration(dir).catch((err: unknown) => {
    model.dispose();
    throw err;
  });
  return calibration ? { model, meta, calibration } : { model, meta };
}
