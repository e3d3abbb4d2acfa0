/**
 * What `arcinvert invert` leaves on disk, written all-or-nothing: everything goes into a
 * staging directory beside `--out`, which is renamed into place at the end (an existing
 * output is only replaced with `--overwrite`, and only once the new one is complete; see
 * io/staging.ts).
 *
 *   t{target}_s{seed}.png   the best image of each target × seed
 *   sheet.png               one row per target: its photo (when known), then its seeds
 *   report.json             per image: target, seed, best/final cosine, loss terms, steps,
 *                           time; plus the targets (and their fingerprint), the resolved
 *                           config, model and backend, and, for one shard of a run, which
 *   snapshots/              optional `b{batch}_step{step}_t{target}_s{seed}.png`
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { Normalization } from '../backbone/types.js';
import { ensureDir, writeFileAtomic } from '../io/atomic.js';
import { writeContactSheet } from '../io/grid.js';
import { readImageTensor } from '../io/image.js';
import type { InvertConfig } from './config.js';
import type { TargetSet } from './targets.js';
import type { InvertResult, InvertSnapshot, RgbImage } from './types.js';

/** File name of one reconstruction. */
export function imageFileName(target: number, seed: number): string {
  return `t${String(target).padStart(3, '0')}_s${seed}.png`;
}

/** PNG bytes of an 8-bit RGB image. */
export function rgbToPng(img: RgbImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png()
    .toBuffer();
}

function rgbToTensor(img: RgbImage, n: Normalization): tf.Tensor3D {
  return tf.tensor3d(
    Float32Array.from(img.data, (v) => (v - n.mean) / n.std),
    [img.height, img.width, 3],
  );
}

/** The staging of `--out` lives in io/staging.ts (shared by every command that writes a directory). */
export { stageOutput, type StagedOutput } from '../io/staging.js';

/** Writes one snapshot's images into `<dir>/snapshots/`. */
export async function writeSnapshot(dir: string, s: InvertSnapshot): Promise<void> {
  const sub = path.join(dir, 'snapshots');
  await ensureDir(sub);
  for (const im of s.images) {
    const name = `b${s.batch}_step${String(s.step).padStart(5, '0')}_${imageFileName(im.target, im.seed)}`;
    await writeFileAtomic(path.join(sub, name), await rgbToPng(im.image));
  }
}

/** Everything the report says besides the images. */
export interface RunInfo {
  model: string;
  /** SHA-256 of the model's weights (`modelFingerprint`): shards of one run share it wherever the model is mounted. */
  modelSha256?: string;
  backbone: string;
  backend: string;
  config: InvertConfig;
  startedAt: string;
  /** Set for one shard of a run (`--shard`): which, and its batches of the plan. */
  shard?: ShardInfo;
  /** Set when each batch ran in this many parts (`InvertResult.batchParts`). */
  batchParts?: number;
}

/** A shard's place in its run (`arcinvert merge` checks these). */
export interface ShardInfo {
  index: number;
  count: number;
  /** Where the index came from (the flag, or a scheduler's environment variable). */
  from: string;
  batches: number[];
  plannedBatches: number;
}

/** SHA-256 of a model's weight values, in the model's weight order. */
export function modelFingerprint(weights: readonly tf.Tensor[]): string {
  const h = createHash('sha256');
  for (const w of weights) {
    const v = w.dataSync();
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest('hex');
}

/** SHA-256 of the targets' embedding bytes: shards of one run share it. */
export function targetsFingerprint(targets: Pick<TargetSet, 'embeddings'>): string {
  const e = targets.embeddings;
  return createHash('sha256')
    .update(new Uint8Array(e.buffer, e.byteOffset, e.byteLength))
    .digest('hex');
}

/** Writes the PNGs, `sheet.png` and `report.json` into `dir`. */
export async function writeInvertOutputs(
  dir: string,
  result: InvertResult,
  targets: TargetSet,
  run: RunInfo,
  normalization: Normalization,
): Promise<void> {
  for (const im of result.images)
    await writeFileAtomic(path.join(dir, imageFileName(im.target, im.seed)), await rgbToPng(im.image));
  await writeSheet(path.join(dir, 'sheet.png'), result, targets, normalization);
  const report = {
    format: 'arcinvert-invert-report/1',
    ...run,
    targetsSha256: targetsFingerprint(targets),
    aborted: result.aborted,
    ...(result.diverged && { diverged: result.diverged }),
    seconds: result.seconds,
    targets: targets.sources.map((source, i) => ({
      index: i,
      kind: targets.kind,
      source: source ?? null,
      class: targets.classes?.[i] ?? null,
    })),
    images: result.images.map((im) => ({
      file: imageFileName(im.target, im.seed),
      target: im.target,
      seed: im.seed,
      bestCosine: im.bestCosine,
      finalCosine: im.finalCosine,
      bestStep: im.bestStep,
      losses: im.finalLosses,
      steps: im.steps,
      seconds: im.seconds,
    })),
    summary: summarise(result),
  };
  await writeFileAtomic(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
}

/** Mean / min / max of the best cosines. */
export function summarise(result: InvertResult): {
  images: number;
  meanBestCosine: number;
  minBestCosine: number;
  maxBestCosine: number;
} {
  const c = result.images.map((im) => im.bestCosine);
  return {
    images: c.length,
    meanBestCosine: c.reduce((a, b) => a + b, 0) / Math.max(1, c.length),
    minBestCosine: Math.min(...c),
    maxBestCosine: Math.max(...c),
  };
}

/** Writes `sheet.png`: one row per target, its photo (when known) then its images with their best cosine. */
export async function writeSheet(
  file: string,
  result: Pick<InvertResult, 'images'>,
  targets: Pick<TargetSet, 'sources' | 'crops'>,
  n: Normalization,
): Promise<void> {
  if (result.images.length === 0) return;
  const { width, height } = result.images[0].image;
  const withPhotos = targets.sources.some((s) => s !== undefined);
  const rows: tf.Tensor3D[][] = [];
  const cellLabels: (string | undefined)[][] = [];
  const byTarget = new Map<number, typeof result.images>();
  for (const im of result.images) byTarget.set(im.target, [...(byTarget.get(im.target) ?? []), im]);
  try {
    for (const [t, ims] of byTarget) {
      const row: tf.Tensor3D[] = [];
      const labels: (string | undefined)[] = [];
      if (withPhotos) {
        // The aligned crop the target was embedded from, else the photo file; a photo that
        // cannot be read any more leaves a blank cell: never lose a finished run.
        const src = targets.sources[t];
        const crop = targets.crops?.[t];
        const photo = crop
          ? tf.tidy(() => tf.image.resizeBilinear(rgbToTensor(crop, n), [height, width], false, true))
          : src
            ? await readImageTensor(src, { size: [height, width], normalization: n }).catch(() => undefined)
            : undefined;
        row.push(photo ?? tf.fill([height, width, 3], 1));
        labels.push(photo ? 'target' : '—');
      }
      for (const im of ims) {
        row.push(rgbToTensor(im.image, n));
        labels.push(`cos ${im.bestCosine.toFixed(2)}`);
      }
      rows.push(row);
      cellLabels.push(labels);
    }
    await writeContactSheet(file, rows, { normalization: n, cellLabels });
  } finally {
    tf.dispose(rows.flat());
  }
}
