/**
 * LFW-style face verification: the View 2 `pairs.txt` protocol of LFW (Huang et al. 2007:
 * 10 folds of 300 matched + 300 mismatched pairs, "unrestricted" 10-fold evaluation) and the
 * metrics the ArcFace paper reports (Deng et al. 2019, Sec. 3: 10-fold LFW accuracy; TAR at a
 * fixed FAR as in its IJB-B/C tables).
 *
 * `tenFoldAccuracy` reproduces insightface `eval/verification.py` `calculate_roc` on cosine
 * similarities: for each fold the threshold with the best accuracy on the other nine folds is
 * chosen from a fixed grid (first one on a tie, like `np.argmax`) and applied to the held-out
 * fold. insightface thresholds the squared distance 2 − 2·cos with `dist < t`; here the same
 * strict rule is `score > t` on the grid −1, −0.999, …, 0.999 (`np.arange(-1, 1, 0.001)`).
 * Counting is done on sorted scores, so the whole protocol costs O(n log n + folds·grid).
 */
import path from 'node:path';
import { ArcinvertError, ConfigError } from '../errors.js';
import { InputFileError, readTextChecked } from '../io/atomic.js';

/** One image reference of a pair: identity folder name and 1-based image number. */
export interface LfwImageRef {
  name: string;
  index: number;
}

/** One verification pair with its fold (0-based) as given by the file's order. */
export interface LfwPair {
  a: LfwImageRef;
  b: LfwImageRef;
  same: boolean;
  fold: number;
}

/** A parsed pairs file. */
export interface ParsedPairs {
  folds: number;
  /** Matched pairs per fold (= mismatched pairs per fold). */
  pairsPerFold: number;
  pairs: LfwPair[];
}

function parseIndex(field: string, lineNo: number): number {
  if (!/^\d+$/.test(field) || Number(field) < 1) {
    throw new ArcinvertError(`pairs file line ${lineNo}: "${field}" is not an image number`);
  }
  return Number(field);
}

/**
 * A person's name as a pairs file gives it: one folder name under the images root. Anything that
 * could lead elsewhere (`..`, a path separator, an absolute path) is refused: a pairs file may
 * only make arcinvert read images under the folder given for them.
 */
function checkName(name: string, lineNo: number): string {
  if (name === '.' || name === '..' || /[/\\\0]/.test(name) || path.isAbsolute(name))
    throw new ArcinvertError(
      `pairs file line ${lineNo}: "${name}" is not a plain folder name; a pairs file may only name images under the images folder`,
    );
  return name;
}

/**
 * Parses an LFW `pairs.txt`: a header `<folds> <pairsPerFold>`, then per fold `pairsPerFold`
 * matched lines `name n1 n2` followed by `pairsPerFold` mismatched lines `name1 n1 name2 n2`
 * (tab- or space-separated).
 * @throws ArcinvertError on a malformed header or line, or a fold that breaks the structure.
 */
export function parsePairs(text: string): ParsedPairs {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const header = (lines[0] ?? '').split(/\s+/);
  if (header.length !== 2 || !header.every((f) => /^\d+$/.test(f)) || Number(header[0]) < 1 || Number(header[1]) < 1) {
    throw new ArcinvertError(`pairs file header must be "<folds> <pairsPerFold>", got "${lines[0] ?? ''}"`);
  }
  const folds = Number(header[0]);
  const pairsPerFold = Number(header[1]);
  const expected = folds * 2 * pairsPerFold;
  if (lines.length - 1 !== expected) {
    throw new ArcinvertError(
      `pairs file has ${lines.length - 1} pairs, header says ${folds}·2·${pairsPerFold} = ${expected}`,
    );
  }
  const pairs: LfwPair[] = [];
  for (let i = 0; i < expected; i++) {
    const lineNo = i + 2;
    const f = lines[i + 1].split(/\s+/);
    const fold = Math.floor(i / (2 * pairsPerFold));
    const shouldMatch = i % (2 * pairsPerFold) < pairsPerFold;
    if (f.length === 3 && shouldMatch) {
      pairs.push({
        a: { name: checkName(f[0], lineNo), index: parseIndex(f[1], lineNo) },
        b: { name: f[0], index: parseIndex(f[2], lineNo) },
        same: true,
        fold,
      });
    } else if (f.length === 4 && !shouldMatch) {
      pairs.push({
        a: { name: checkName(f[0], lineNo), index: parseIndex(f[1], lineNo) },
        b: { name: checkName(f[2], lineNo), index: parseIndex(f[3], lineNo) },
        same: false,
        fold,
      });
    } else {
      throw new ArcinvertError(
        `pairs file line ${lineNo}: expected a ${shouldMatch ? 'matched (name n1 n2)' : 'mismatched (name1 n1 name2 n2)'} pair`,
      );
    }
  }
  return { folds, pairsPerFold, pairs };
}

/**
 * Reads and parses an LFW `pairs.txt` (the one place the file is read).
 * @param what how the file is named in the error (e.g. a config key).
 * @throws ArcinvertError when the file cannot be read or is malformed.
 */
export async function readPairsFile(file: string, key?: string): Promise<ParsedPairs> {
  let text: string;
  try {
    text = await readTextChecked(file, 'pairs file', 'listing');
  } catch (err) {
    if (key !== undefined && err instanceof InputFileError)
      throw new ConfigError([key], (k) => `cannot read ${k(key)} ${file}: ${err.reason}`);
    throw err;
  }
  try {
    return parsePairs(text);
  } catch (err) {
    // parsePairs knows the lines, not the file: name it, so a user with several pairs files knows which.
    if (err instanceof ArcinvertError) throw new ArcinvertError(`${file}: ${err.message}`);
    throw err;
  }
}

/** Path of an LFW image: `<lfwDir>/<Name>/<Name>_NNNN.jpg` (number zero-padded to 4). */
export function lfwImagePath(lfwDir: string, ref: LfwImageRef): string {
  return path.join(lfwDir, ref.name, `${ref.name}_${String(ref.index).padStart(4, '0')}.jpg`);
}

/** The cosine threshold grid −1 + i·step for i = 0 … round(2/step) − 1 (np.arange(-1, 1, step)). */
export function cosineThresholds(step = 0.001): Float64Array {
  if (!(step > 0 && step <= 1)) throw new ArcinvertError(`threshold step must be in (0, 1], got ${step}`);
  const n = Math.ceil(2 / step - 1e-9);
  return Float64Array.from({ length: n }, (_, i) => -1 + i * step);
}

/** Fold id per index for sklearn `KFold(k, shuffle=False)`: contiguous, first n % k folds one larger. */
export function kFoldAssignment(n: number, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 1 || k > n) throw new ArcinvertError(`cannot split ${n} pairs into ${k} folds`);
  const out = new Int32Array(n);
  let start = 0;
  for (let f = 0; f < k; f++) {
    const size = Math.floor(n / k) + (f < n % k ? 1 : 0);
    out.fill(f, start, start + size);
    start += size;
  }
  return out;
}

function checkScores(scores: ArrayLike<number>, issame: ArrayLike<boolean>): void {
  if (scores.length !== issame.length) {
    throw new ArcinvertError(`${scores.length} scores but ${issame.length} labels`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new ArcinvertError(`score ${i} is not finite`);
  }
}

/** For ascending `thresholds`, how many of `sortedAsc` are strictly greater than each. */
function countAbove(sortedAsc: Float64Array, thresholds: ArrayLike<number>): Int32Array {
  const out = new Int32Array(thresholds.length);
  let p = 0;
  for (let t = 0; t < thresholds.length; t++) {
    while (p < sortedAsc.length && sortedAsc[p] <= thresholds[t]) p++;
    out[t] = sortedAsc.length - p;
  }
  return out;
}

function sortedOf(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** Result of `tenFoldAccuracy`. */
export interface FoldAccuracyResult {
  /** Mean held-out accuracy over folds, in [0, 1]. */
  accuracy: number;
  /** Population std (np.std) of the fold accuracies. */
  std: number;
  foldAccuracies: number[];
  /** Threshold chosen on the training folds for each fold (accept when score > threshold). */
  bestThresholds: number[];
  /** The grid, and TPR / FPR on the held-out fold at each grid value, averaged over folds. */
  thresholds: Float64Array;
  tpr: Float64Array;
  fpr: Float64Array;
}

/**
 * k-fold verification accuracy exactly as insightface `calculate_roc`, on cosine scores.
 * @param scores similarity per pair (higher = more alike), length n.
 * @param issame ground truth per pair.
 * @param folds number of contiguous folds (sklearn KFold order; LFW's file order gives the
 *   official folds) or an explicit fold id per pair. One fold trains and tests on everything,
 *   as insightface's `LFold(1)`.
 * @param thresholds ascending grid; default `cosineThresholds(0.001)`.
 */
export function tenFoldAccuracy(
  scores: ArrayLike<number>,
  issame: ArrayLike<boolean>,
  folds: number | ArrayLike<number> = 10,
  thresholds: ArrayLike<number> = cosineThresholds(),
): FoldAccuracyResult {
  checkScores(scores, issame);
  const n = scores.length;
  const foldOf = typeof folds === 'number' ? kFoldAssignment(n, folds) : Int32Array.from(folds);
  if (foldOf.length !== n) throw new ArcinvertError(`${foldOf.length} fold ids for ${n} pairs`);
  const k = foldOf.reduce((m, f) => Math.max(m, f), -1) + 1;
  for (let t = 1; t < thresholds.length; t++) {
    if (!(thresholds[t] > thresholds[t - 1])) throw new ArcinvertError('thresholds must be strictly ascending');
  }
  const T = thresholds.length;
  // Per fold: positives / negatives above each threshold, and the fold's class sizes.
  const pos: number[][] = Array.from({ length: k }, () => []);
  const neg: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(foldOf[i]) || foldOf[i] < 0) throw new ArcinvertError(`pair ${i} has fold id ${foldOf[i]}`);
    (issame[i] ? pos : neg)[foldOf[i]].push(scores[i]);
  }
  const tp = pos.map((s) => countAbove(sortedOf(s), thresholds));
  const fp = neg.map((s) => countAbove(sortedOf(s), thresholds));
  const totTp = new Int32Array(T);
  const totFp = new Int32Array(T);
  for (let f = 0; f < k; f++) {
    for (let t = 0; t < T; t++) {
      totTp[t] += tp[f][t];
      totFp[t] += fp[f][t];
    }
  }
  const nPos = pos.reduce((a, s) => a + s.length, 0);
  const nNeg = n - nPos;
  const res: FoldAccuracyResult = {
    accuracy: 0,
    std: 0,
    foldAccuracies: [],
    bestThresholds: [],
    thresholds: Float64Array.from(thresholds),
    tpr: new Float64Array(T),
    fpr: new Float64Array(T),
  };
  for (let f = 0; f < k; f++) {
    const testPos = pos[f].length;
    const testNeg = neg[f].length;
    if (testPos + testNeg === 0) throw new ArcinvertError(`fold ${f} has no pairs`);
    // Training folds = all minus this fold (or everything when there is a single fold).
    const trNeg = k === 1 ? nNeg : nNeg - testNeg;
    let best = 0;
    let bestCorrect = -1;
    for (let t = 0; t < T; t++) {
      const trTp = k === 1 ? totTp[t] : totTp[t] - tp[f][t];
      const trFp = k === 1 ? totFp[t] : totFp[t] - fp[f][t];
      const correct = trTp + (trNeg - trFp);
      if (correct > bestCorrect) {
        bestCorrect = correct;
        best = t;
      }
      res.tpr[t] += (testPos === 0 ? 0 : tp[f][t] / testPos) / k;
      res.fpr[t] += (testNeg === 0 ? 0 : fp[f][t] / testNeg) / k;
    }
    res.bestThresholds.push(thresholds[best]);
    res.foldAccuracies.push((tp[f][best] + testNeg - fp[f][best]) / (testPos + testNeg));
  }
  res.accuracy = res.foldAccuracies.reduce((a, b) => a + b, 0) / k;
  res.std = Math.sqrt(res.foldAccuracies.reduce((a, b) => a + (b - res.accuracy) ** 2, 0) / k);
  return res;
}

/** Result of `tarAtFar`. */
export interface TarAtFarResult {
  /** True-accept rate of matched pairs at the threshold. */
  tar: number;
  /** False-accept rate actually reached (≤ the target). */
  far: number;
  /** Accept a pair when score > threshold. */
  threshold: number;
}

/**
 * TAR at a target FAR, without interpolation: with N mismatched pairs at most ⌊far·N⌋ may be
 * accepted, so the threshold is the (⌊far·N⌋ + 1)-th highest mismatched score and a pair is
 * accepted when its score is strictly above it. Ties at the threshold are rejected, so the
 * reached FAR never exceeds the target (conservative; insightface's `calculate_val` instead
 * interpolates a threshold on a grid and may overshoot). With 3,000 LFW impostor pairs,
 * FAR 1e-3 allows 3 false accepts.
 */
export function tarAtFar(scores: ArrayLike<number>, issame: ArrayLike<boolean>, far: number): TarAtFarResult {
  checkScores(scores, issame);
  if (!(far >= 0 && far <= 1)) throw new ArcinvertError(`target FAR must be in [0, 1], got ${far}`);
  const posList: number[] = [];
  const negList: number[] = [];
  for (let i = 0; i < scores.length; i++) (issame[i] ? posList : negList).push(scores[i]);
  if (posList.length === 0 || negList.length === 0)
    throw new ArcinvertError('TAR@FAR needs matched and mismatched pairs');
  const negDesc = sortedOf(negList).reverse();
  const allowed = Math.floor(far * negDesc.length + 1e-9);
  const threshold = allowed >= negDesc.length ? -Infinity : negDesc[allowed];
  const accepted = (list: number[]): number => list.filter((s) => s > threshold).length;
  return { tar: accepted(posList) / posList.length, far: accepted(negList) / negList.length, threshold };
}

/** One ROC operating point: accept when score > threshold. */
export interface RocPoint {
  threshold: number;
  tpr: number;
  fpr: number;
}

/**
 * The exact ROC: one point per distinct score (descending; the first accepts nothing) plus
 * (1, 1) at −Infinity, and the trapezoidal area under it (= P(matched > mismatched) with
 * ties counted one half).
 */
export function rocCurve(scores: ArrayLike<number>, issame: ArrayLike<boolean>): { points: RocPoint[]; auc: number } {
  checkScores(scores, issame);
  const posList: number[] = [];
  const negList: number[] = [];
  for (let i = 0; i < scores.length; i++) (issame[i] ? posList : negList).push(scores[i]);
  if (posList.length === 0 || negList.length === 0)
    throw new ArcinvertError('a ROC curve needs matched and mismatched pairs');
  const distinct = Array.from(new Set(Array.from(scores))).sort((a, b) => a - b);
  const tp = countAbove(sortedOf(posList), distinct);
  const fp = countAbove(sortedOf(negList), distinct);
  const points: RocPoint[] = [];
  for (let t = distinct.length - 1; t >= 0; t--) {
    points.push({ threshold: distinct[t], tpr: tp[t] / posList.length, fpr: fp[t] / negList.length });
  }
  points.push({ threshold: -Infinity, tpr: 1, fpr: 1 });
  let auc = 0;
  for (let i = 1; i < points.length; i++) {
    auc += ((points[i].fpr - points[i - 1].fpr) * (points[i].tpr + points[i - 1].tpr)) / 2;
  }
  return { points, auc };
}
