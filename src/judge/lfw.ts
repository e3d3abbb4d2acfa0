/**
 * A judge's own LFW verification accuracy (View 2 `pairs.txt`, 10-fold protocol of
 * `tenFoldAccuracy`, cosine scores) on arcinvert's aligned LFW crops: the check that a
 * judge, with its preprocessing from the 112×112 ArcFace crop, is a competent face matcher
 * before its verdicts on reconstructions are trusted.
 */
import * as path from 'node:path';
import { readRaster } from '../align/raster.js';
import { readTextChecked } from '../io/atomic.js';
import { unitRowCosine } from '../arcface/normalize.js';
import { ArcinvertError } from '../errors.js';
import {
  lfwImagePath,
  parsePairs,
  tarAtFar,
  tenFoldAccuracy,
  type FoldAccuracyResult,
  type TarAtFarResult,
} from '../metrics/verification.js';
import type { Judge } from './types.js';

export interface JudgeLfwOptions {
  /** Pairs file; default `<lfwDir>/pairs.txt`. */
  pairsFile?: string;
  /** Only these folds (0-based), e.g. to choose a preprocessing on some folds; default all. */
  folds?: number[];
  /** Images read and embedded at a time. */
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface JudgeLfwResult {
  judge: string;
  description: string;
  pairs: number;
  images: number;
  accuracy: FoldAccuracyResult;
  /** TAR at FAR 1e-3 over all the evaluated pairs. */
  tarAtFar1e3: TarAtFarResult;
  seconds: number;
}

/** Embeds image files with `judge` in chunks; N×dim. */
export async function embedFilesWithJudge(
  judge: Judge,
  files: readonly string[],
  chunk = 256,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  const out = new Float32Array(files.length * judge.dim);
  for (let start = 0; start < files.length; start += chunk) {
    const rasters = await Promise.all(files.slice(start, start + chunk).map(readRaster));
    out.set(await judge.embed(rasters), start * judge.dim);
    onProgress?.(Math.min(files.length, start + chunk), files.length);
  }
  return out;
}

/** Runs the LFW protocol for `judge` on the crops under `lfwDir`. */
export async function judgeLfwAccuracy(
  judge: Judge,
  lfwDir: string,
  options: JudgeLfwOptions = {},
): Promise<JudgeLfwResult> {
  const started = performance.now();
  const pairsFile = options.pairsFile ?? path.join(lfwDir, 'pairs.txt');
  const text = await readTextChecked(pairsFile, 'pairs file', 'listing');
  const parsed = parsePairs(text);
  const keep = options.folds ? new Set(options.folds) : undefined;
  const pairs = parsed.pairs.filter((p) => !keep || keep.has(p.fold));
  if (pairs.length === 0) throw new ArcinvertError('no pairs left after choosing folds');
  const index = new Map<string, number>();
  const files: string[] = [];
  const idOf = (f: string): number => {
    if (!index.has(f)) {
      index.set(f, files.length);
      files.push(f);
    }
    return index.get(f)!;
  };
  const ab = pairs.map((p) => [idOf(lfwImagePath(lfwDir, p.a)), idOf(lfwImagePath(lfwDir, p.b))]);
  const emb = await embedFilesWithJudge(judge, files, options.chunk, options.onProgress);
  const scores = ab.map(([a, b]) => unitRowCosine(emb, a, emb, b, judge.dim));
  const issame = pairs.map((p) => p.same);
  const foldIds = [...new Set(pairs.map((p) => p.fold))].sort((x, y) => x - y);
  const folds = pairs.map((p) => foldIds.indexOf(p.fold));
  return {
    judge: judge.name,
    description: judge.description,
    pairs: pairs.length,
    images: files.length,
    accuracy: tenFoldAccuracy(scores, issame, foldIds.length === 1 ? 1 : folds),
    tarAtFar1e3: tarAtFar(scores, issame, 1e-3),
    seconds: (performance.now() - started) / 1000,
  };
}
