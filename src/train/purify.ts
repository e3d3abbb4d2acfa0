/**
 * Data purification with a Sub-center ArcFace model (Deng et al., "Sub-center ArcFace",
 * ECCV 2020, Sec. 3.2 "Dropping non-dominant sub-centers and high-confident noises"): after
 * training with K > 1 sub-centres, each class's dominant sub-centre is the one most of its
 * samples are closest to; a sample whose angle to its class's dominant sub-centre exceeds a
 * threshold (the paper uses 75°) is treated as label noise and dropped.
 *
 * `purifyByAngle` is the pure decision on host arrays; `purifyDataset` embeds a dataset with
 * a trained model and applies it. Identities are matched to the head's classes by name.
 */
import type { FaceModel } from '../model/types.js';
import { ArcinvertError } from '../errors.js';
import { embedUnique } from '../metrics/pairEval.js';
import type { Dataset } from '../io/imageFolder.js';
import type { ArcFaceHead } from '../arcface/head.js';
import { dominantSubcenters } from '../arcface/subcenter.js';

/** Options of `purifyDataset`. */
export interface PurifyOptions {
  /** Largest angle, in degrees, between a kept sample and its class's dominant sub-centre. */
  angleDeg: number;
  /** Images per forward pass. */
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_PURIFY_OPTIONS: Readonly<PurifyOptions> = { angleDeg: 75, batchSize: 32 };

/** Per-class outcome. */
export interface PurifyClassSummary {
  identity: string;
  /** Dominant sub-centre index in [0, K), −1 if the class had no readable sample. */
  dominant: number;
  kept: number;
  dropped: number;
}

/** One listed image with its identity; `angleDeg` to its class's dominant sub-centre. */
export interface PurifiedItem {
  path: string;
  identity: string;
  angleDeg: number;
}

export interface PurifyResult {
  kept: PurifiedItem[];
  dropped: PurifiedItem[];
  classes: PurifyClassSummary[];
  /** Identities of the data that the model has no class for (left out entirely). */
  unknownIdentities: string[];
  /** Images that could not be read (left out). */
  unreadable: string[];
}

/**
 * The purification decision on precomputed cosines.
 * @param ownCos [N·K] row-major: cosine of sample i to sub-centre j of its own class.
 * @param labels [N] class ids in [0, C).
 * @returns dominant sub-centre per class [C], angle (degrees) of each sample to its class's
 *   dominant sub-centre [N], and whether each sample is kept (angle ≤ maxAngleDeg).
 */
export function purifyByAngle(
  ownCos: Float32Array,
  labels: Int32Array,
  numClasses: number,
  k: number,
  maxAngleDeg: number,
): { dominant: Int32Array; angles: Float64Array; keep: boolean[] } {
  const n = labels.length;
  if (ownCos.length !== n * k)
    throw new ArcinvertError(`purify: ${ownCos.length} cosines for ${n} samples × ${k} sub-centres`);
  const assign = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (ownCos[i * k + j] > ownCos[i * k + best]) best = j;
    assign[i] = best;
  }
  const dominant = dominantSubcenters(assign, labels, numClasses, k);
  const angles = Float64Array.from(
    labels,
    (c, i) => (Math.acos(Math.min(1, Math.max(-1, ownCos[i * k + dominant[c]]))) * 180) / Math.PI,
  );
  return { dominant, angles, keep: Array.from(angles, (a) => a <= maxAngleDeg) };
}

/**
 * Embeds every image of `data` (no flip, as during training) and drops the samples farther
 * than `angleDeg` from their class's dominant sub-centre.
 * @throws ArcinvertError if the model and data share no identity or disagree in size.
 */
export async function purifyDataset(
  model: { fm: FaceModel; head: ArcFaceHead; classNames: string[] },
  data: Dataset,
  options: Partial<PurifyOptions> = {},
): Promise<PurifyResult> {
  const opts = { ...DEFAULT_PURIFY_OPTIONS, ...options };
  if (!(opts.angleDeg > 0 && opts.angleDeg <= 180))
    throw new ArcinvertError(`angle must be in (0, 180] degrees, got ${opts.angleDeg}`);
  const { fm, head, classNames } = model;
  const { numClasses: c, k, embeddingDim: d } = head.config;
  if (d !== fm.meta.embeddingSize || classNames.length !== c)
    throw new ArcinvertError('model, head and class list do not match');
  const classOf = new Map(classNames.map((name, i) => [name, i]));
  const unknownIdentities = data.classNames.filter((name) => !classOf.has(name));
  const items = data.items.filter((it) => classOf.has(data.classNames[it.label]));
  if (items.length === 0)
    throw new ArcinvertError(
      `none of the data's ${data.classNames.length} identities is a class of the model (e.g. '${data.classNames[0]}')`,
    );

  const unreadable: string[] = [];
  const emb = await embedUnique(
    fm,
    items.map((it) => it.path),
    { flip: false, batchSize: opts.batchSize, onProgress: opts.onProgress },
    unreadable,
  );
  const readable = items.filter((it) => emb.has(it.path));
  // Unit columns of the head, [D, C·K] row-major.
  const w = Float32Array.from((await head.weight.data()) as Float32Array);
  const cols = c * k;
  for (let col = 0; col < cols; col++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += w[i * cols + col] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-6);
    for (let i = 0; i < d; i++) w[i * cols + col] *= inv;
  }
  const labels = Int32Array.from(readable, (it) => classOf.get(data.classNames[it.label])!);
  const ownCos = new Float32Array(readable.length * k);
  readable.forEach((it, n) => {
    const e = emb.get(it.path)!;
    for (let j = 0; j < k; j++) {
      const col = labels[n] * k + j;
      let s = 0;
      for (let i = 0; i < d; i++) s += e[i] * w[i * cols + col];
      ownCos[n * k + j] = s;
    }
  });
  const { dominant, angles, keep } = purifyByAngle(ownCos, labels, c, k, opts.angleDeg);
  const kept: PurifiedItem[] = [];
  const dropped: PurifiedItem[] = [];
  const counts = classNames.map(() => ({ kept: 0, dropped: 0 }));
  readable.forEach((it, n) => {
    const item = { path: it.path, identity: classNames[labels[n]], angleDeg: angles[n] };
    (keep[n] ? kept : dropped).push(item);
    counts[labels[n]][keep[n] ? 'kept' : 'dropped']++;
  });
  const present = new Set(labels);
  const classes = classNames.flatMap((identity, i) =>
    present.has(i) ? [{ identity, dominant: dominant[i], ...counts[i] }] : [],
  );
  return { kept, dropped, classes, unknownIdentities, unreadable };
}
