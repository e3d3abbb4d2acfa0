/**
 * Where inversion targets come from. Every source yields unit-norm embeddings (N×D) plus
 * what is known about each target: the photo it came from (shown beside its
 * reconstructions), its class, and a label.
 *   - a `.npy` file (1-D or N×D), with the photos listed in `<file>.jsonl` (or `.txt`) when
 *     `arcinvert embed` wrote it;
 *   - aligned face photos, embedded with the attacked model (no flip: the target is the
 *     embedding a system would store for that photo);
 *   - classes of the model's classifier (closed set): the class centre;
 *   - random unit vectors: identities that exist nowhere.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import { ArcinvertError } from '../errors.js';
import type { PreparedImage } from '../align/align.js';
import { embedPrepared } from '../model/embed.js';
import { readEmbeddings } from '../io/npy.js';
import { readListingFor, resolveListing } from '../io/listing.js';
import type { ArcFaceHead } from '../arcface/head.js';
import { l2Normalize } from '../arcface/normalize.js';
import { mixSeed } from '../util/random.js';
import type { RgbImage } from './types.js';

/** Targets with their provenance. */
export interface TargetSet {
  /** N×D row-major, unit rows. */
  embeddings: Float32Array;
  n: number;
  dim: number;
  /** Photo each target came from, when known. */
  sources: (string | undefined)[];
  /** The aligned crop a target photo was embedded from, when it was aligned here (`--align`). */
  crops?: (RgbImage | undefined)[];
  /** Class of each target (closed-set targets). */
  classes?: Int32Array;
  /** How the targets were given, for the report. */
  kind: 'embedding' | 'image' | 'class' | 'random';
  /** One line per listed photo that is not used, and why (shown on stderr). */
  notes?: string[];
}

/**
 * Reads `.npy` targets; photo paths come from the listing beside it (`<name>.jsonl`, or the older
 * `<name>.txt`, see src/io/listing.ts), which must have one entry per row. Listed photos are
 * read only from under `listingRoot` (default: the listing's folder); each one not used
 * (missing, or outside) is named in `notes`, never fatal.
 */
export async function targetsFromNpy(
  file: string,
  dim: number,
  opts: { listingRoot?: string } = {},
): Promise<TargetSet> {
  const e = await readEmbeddings(file, { dim });
  let sources: (string | undefined)[] = Array.from({ length: e.n }, () => undefined);
  const notes: string[] = [];
  const listing = await readListingFor(file, e.n);
  if (listing) {
    const resolved = await resolveListing(listing, opts.listingRoot);
    sources = resolved.paths;
    for (const s of resolved.skipped)
      notes.push(`${listing.file} row ${s.row} (0-based): photo ${JSON.stringify(s.entry)} ${s.reason}`);
  }
  return { embeddings: e.data, n: e.n, dim: e.dim, sources, kind: 'embedding', notes };
}

/** Embeds face photos (files as they are, or aligned crops from `maybeAlign`) with the attacked model. */
export async function targetsFromImages(
  fm: FaceModel,
  photos: readonly (string | PreparedImage)[],
): Promise<TargetSet> {
  const prepared = photos.map((p) => (typeof p === 'string' ? { source: p } : p));
  const data = await embedPrepared(fm, prepared, { flip: false });
  const crops = prepared.map((p) =>
    p.aligned ? { width: p.aligned.width, height: p.aligned.height, data: p.aligned.data } : undefined,
  );
  return {
    embeddings: data,
    n: prepared.length,
    dim: fm.meta.embeddingSize,
    sources: prepared.map((p) => p.source),
    crops: crops.some((c) => c !== undefined) ? crops : undefined,
    kind: 'image',
  };
}

/**
 * Class centres of the classifier: the normalised mean of a class's K sub-centres
 * (the centre itself when K = 1).
 */
export function targetsFromClasses(head: ArcFaceHead, classes: number[]): TargetSet {
  const { numClasses, k, embeddingDim: d } = head.config;
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new ArcinvertError(`class ${c} is out of range: the model has classes 0..${numClasses - 1}`);
    }
  }
  const data = tf.tidy(() => {
    const w = l2Normalize(head.weight, 0); // [D, C·K]
    const sub = tf.reshape(tf.transpose(w), [numClasses, k, d]);
    const centres = l2Normalize(tf.mean(sub, 1), 1); // [C, D]
    return tf.gather(centres, tf.tensor1d(classes, 'int32')).dataSync() as Float32Array;
  });
  return {
    embeddings: Float32Array.from(data),
    n: classes.length,
    dim: d,
    sources: classes.map(() => undefined),
    classes: Int32Array.from(classes),
    kind: 'class',
  };
}

/** `n` random unit vectors (isotropic Gaussian, normalised), reproducible from `seed`. */
export function randomTargets(n: number, dim: number, seed: number): TargetSet {
  const data = tf.tidy(() =>
    l2Normalize(tf.randomNormal([n, dim], 0, 1, 'float32', mixSeed(seed, 0x7a49)), 1).dataSync(),
  );
  return {
    embeddings: Float32Array.from(data),
    n,
    dim,
    sources: Array.from({ length: n }, () => undefined),
    kind: 'random',
  };
}
