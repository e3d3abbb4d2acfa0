/**
 * Verification evaluation of a face model on image pairs: LFW View 2 from its `pairs.txt`
 * (Huang et al. 2007) and the same protocol on pairs built from held-out training identities
 * (used to choose the best checkpoint, never LFW).
 *
 * As insightface `eval/verification.py` does, every unique image is embedded once (optionally
 * with the flipped image's embedding added, then L2-normalised), each pair is scored by the
 * cosine of its two embeddings, and accuracy is the k-fold protocol of `tenFoldAccuracy`;
 * TAR at FAR 1e-2 and 1e-3 is computed over all pairs with `tarAtFar`. An image that cannot be
 * read is skipped with its pairs, and counted; the evaluation fails only when no pair is left.
 */
import type { FaceModel } from '../model/types.js';
import { ArcinvertError } from '../errors.js';
import { readImageBatchSkipping } from '../io/image.js';
import type { Dataset } from '../io/imageFolder.js';
import { Mulberry32, mixSeed, shuffleInPlace } from '../util/random.js';
import { embedBatchWith, type Embedder } from '../model/embed.js';
import {
  kFoldAssignment,
  lfwImagePath,
  readPairsFile,
  tarAtFar,
  tenFoldAccuracy,
  type TarAtFarResult,
} from './verification.js';

/** One pair of image files and whether they show the same person. */
export interface PathPair {
  a: string;
  b: string;
  same: boolean;
}

/** How to embed the images of an evaluation. */
export interface PairEvalOptions {
  /** Add the flipped image's embedding (insightface evaluation practice). */
  flip: boolean;
  /** Images per forward pass. */
  batchSize: number;
  /** Called after each batch with the number of images embedded so far. */
  onProgress?: (done: number, total: number) => void;
  /** Another runtime for the forward passes (default: tfjs runs the model). */
  embedder?: Embedder;
}

export const DEFAULT_PAIR_EVAL_OPTIONS: Readonly<PairEvalOptions> = { flip: true, batchSize: 32 };

/** What an evaluation reports. */
export interface VerificationReport {
  /** Mean held-out fold accuracy in [0, 1] and its population std over folds. */
  accuracy: number;
  std: number;
  /** Mean of the per-fold best cosine thresholds (accept when cos > threshold). */
  threshold: number;
  folds: Array<{ accuracy: number; threshold: number }>;
  tarAtFar1e2: TarAtFarResult;
  tarAtFar1e3: TarAtFarResult;
  /** Pairs scored and unique images embedded. */
  pairs: number;
  images: number;
  /** Images that could not be read, and the pairs dropped because of them. */
  skippedImages: string[];
  skippedPairs: number;
}

/**
 * Unit embeddings of `files` (each once), keyed by path; unreadable files go to `bad`.
 * @returns map path → Float32Array [D].
 */
export async function embedUnique(
  fm: FaceModel,
  files: readonly string[],
  opts: PairEvalOptions,
  bad: string[],
): Promise<Map<string, Float32Array>> {
  const d = fm.meta.embeddingSize;
  const out = new Map<string, Float32Array>();
  for (let start = 0; start < files.length; start += opts.batchSize) {
    const read = await readImageBatchSkipping(files.slice(start, start + opts.batchSize), {
      size: fm.meta.inputSize,
      normalization: fm.meta.normalization,
    });
    bad.push(...read.skipped.map((s) => s.source));
    if (read.images) {
      const values = await embedBatchWith(fm, read.images, opts.flip, opts.embedder);
      read.images.dispose();
      read.ok.forEach((f, i) => out.set(f, values.slice(i * d, (i + 1) * d)));
    }
    opts.onProgress?.(Math.min(files.length, start + opts.batchSize), files.length);
  }
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** What `scorePathPairs` gives: the pairs with two readable images, in order. */
export interface PairScores {
  /** Cosine of each scored pair, its ground truth and its fold id. */
  scores: number[];
  same: boolean[];
  folds: number[];
  /** Unique images embedded. */
  images: number;
  /** Images that could not be read, and the pairs dropped because of them. */
  skippedImages: string[];
  skippedPairs: number;
}

/**
 * Cosine of each pair under `fm` (each image embedded once).
 * @param folds number of contiguous folds, or a fold id per pair (LFW: from the file).
 */
export async function scorePathPairs(
  fm: FaceModel,
  pairs: readonly PathPair[],
  folds: number | readonly number[],
  options: Partial<PairEvalOptions> = {},
): Promise<PairScores> {
  const opts = { ...DEFAULT_PAIR_EVAL_OPTIONS, ...options };
  const files = Array.from(new Set(pairs.flatMap((p) => [p.a, p.b])));
  const bad: string[] = [];
  const emb = await embedUnique(fm, files, opts, bad);
  const out: PairScores = { scores: [], same: [], folds: [], images: emb.size, skippedImages: bad, skippedPairs: 0 };
  const allFolds = typeof folds === 'number' ? Array.from(kFoldAssignment(pairs.length, folds)) : folds;
  pairs.forEach((p, i) => {
    const ea = emb.get(p.a);
    const eb = emb.get(p.b);
    if (ea === undefined || eb === undefined) return;
    out.scores.push(dot(ea, eb));
    out.same.push(p.same);
    out.folds.push(allFolds[i]);
  });
  out.skippedPairs = pairs.length - out.scores.length;
  return out;
}

/**
 * Scores `pairs` with `fm` and runs the verification protocol.
 * @param folds number of contiguous folds, or a fold id per pair (LFW: from the file).
 * @throws ArcinvertError when no pair has two readable images.
 */
export async function evaluatePathPairs(
  fm: FaceModel,
  pairs: readonly PathPair[],
  folds: number | readonly number[],
  options: Partial<PairEvalOptions> = {},
): Promise<VerificationReport> {
  const { scores, same, folds: foldIds, ...counts } = await scorePathPairs(fm, pairs, folds, options);
  if (scores.length === 0) {
    const bad = counts.skippedImages;
    throw new ArcinvertError(`no pair could be evaluated (${bad.length} unreadable images, e.g. ${bad[0] ?? 'none'})`);
  }
  const res = tenFoldAccuracy(scores, same, foldIds);
  return {
    accuracy: res.accuracy,
    std: res.std,
    threshold: res.bestThresholds.reduce((a, t) => a + t, 0) / res.bestThresholds.length,
    folds: res.foldAccuracies.map((accuracy, f) => ({ accuracy, threshold: res.bestThresholds[f] })),
    tarAtFar1e2: tarAtFar(scores, same, 1e-2),
    tarAtFar1e3: tarAtFar(scores, same, 1e-3),
    pairs: scores.length,
    ...counts,
  };
}

/** The pairs of an LFW-format `pairs.txt` as image paths under `imagesDir` (`<Name>/<Name>_NNNN.jpg`), and the file's fold of each. */
export async function lfwPathPairs(
  pairsFile: string,
  imagesDir: string,
): Promise<{ pairs: PathPair[]; folds: number[] }> {
  const parsed = await readPairsFile(pairsFile);
  return {
    pairs: parsed.pairs.map((p) => ({
      a: lfwImagePath(imagesDir, p.a),
      b: lfwImagePath(imagesDir, p.b),
      same: p.same,
    })),
    folds: parsed.pairs.map((p) => p.fold),
  };
}

/**
 * LFW-protocol evaluation from a `pairs.txt` and its image folder (`<Name>/<Name>_NNNN.jpg`),
 * with the file's official folds.
 */
export async function evaluatePairs(
  fm: FaceModel,
  pairsFile: string,
  imagesDir: string,
  options: Partial<PairEvalOptions> = {},
): Promise<VerificationReport> {
  const { pairs, folds } = await lfwPathPairs(pairsFile, imagesDir);
  return evaluatePathPairs(fm, pairs, folds, options);
}

/**
 * Verification pairs from an identity-labelled set (the held-out validation identities):
 * up to ⌊maxPairs/2⌋ matched pairs, drawn round-robin over identities with ≥ 2 images, and as
 * many mismatched pairs of random images of two different identities; matched and mismatched
 * alternate so contiguous folds stay balanced. Deterministic in `seed`.
 */
export function sampleVerificationPairs(dataset: Dataset, maxPairs: number, seed: number): PathPair[] {
  const rng = new Mulberry32(mixSeed(seed, 0x7a1));
  const byClass: string[][] = dataset.classNames.map(() => []);
  for (const it of dataset.items) byClass[it.label].push(it.path);
  const perClass = byClass.map((files) => {
    const all: Array<[string, string]> = [];
    for (let i = 0; i < files.length; i++) for (let j = i + 1; j < files.length; j++) all.push([files[i], files[j]]);
    return shuffleInPlace(all, rng);
  });
  const matched: Array<[string, string]> = [];
  const half = Math.floor(maxPairs / 2);
  for (let round = 0; matched.length < half && perClass.some((l) => l.length > round); round++) {
    for (const list of perClass) if (round < list.length && matched.length < half) matched.push(list[round]);
  }
  const nonEmpty = byClass.map((f, c) => c).filter((c) => byClass[c].length > 0);
  if (matched.length === 0 || nonEmpty.length < 2) {
    throw new ArcinvertError('validation needs an identity with two images and at least two identities');
  }
  const out: PathPair[] = [];
  for (const [a, b] of matched) {
    out.push({ a, b, same: true });
    const ci = nonEmpty[rng.nextInt(nonEmpty.length)];
    let cj = nonEmpty[rng.nextInt(nonEmpty.length - 1)];
    if (cj === ci) cj = nonEmpty[nonEmpty.length - 1];
    const pick = (c: number): string => byClass[c][rng.nextInt(byClass[c].length)];
    out.push({ a: pick(ci), b: pick(cj), same: false });
  }
  return out;
}

/** Folds for `n` sampled pairs: up to 10, each with at least one pair of each kind. */
export function foldCount(n: number): number {
  return Math.max(1, Math.min(10, Math.floor(n / 2)));
}
