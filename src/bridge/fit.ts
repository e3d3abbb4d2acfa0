/**
 * A linear bridge between two face models' embedding spaces: given the embeddings a (model A,
 * d_A) and b (model B, d_B) of the same faces, the affine map ŷ = [a, 1]·W minimising
 * Σ‖ŷ − b‖² + λ‖W_{1..d_A}‖² (ridge least squares; the bias row is not penalised), applied to
 * unit-length rows and renormalised. It lets a template leaked from A give a target to B — an
 * inversion through B (or an ensemble with B) of A's templates (issue #14; the known baseline of
 * template-to-template mapping).
 *
 * The normal equations (AᵀA + λI) W = AᵀB are solved in float64 by Cholesky: d_A + 1 unknowns
 * per output, d_B right-hand sides.
 */
import { ArcinvertError } from '../errors.js';
import { choleskyInPlace, choleskySolveInPlace } from '../util/cholesky.js';

/** Row-major matrices as flat arrays, with their shape. */
export interface Rows {
  data: Float32Array;
  n: number;
  dim: number;
}

/** The fitted map: W [(d_A + 1) × d_B] row-major, its last row the bias. */
export interface LinearBridge {
  from: number;
  to: number;
  weights: Float32Array;
  /** The ridge penalty λ the map was fitted with. */
  ridge: number;
}

/** Cosines between predicted and true rows of held-out faces. */
export interface BridgeAgreement {
  pairs: number;
  mean: number;
  median: number;
  /** 5th percentile: the worst faces. */
  p05: number;
}

function unitRow(src: Float32Array, i: number, dim: number, out: Float64Array): void {
  let s = 0;
  for (let k = 0; k < dim; k++) s += src[i * dim + k] ** 2;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let k = 0; k < dim; k++) out[k] = src[i * dim + k] * inv;
}

/**
 * Fits the bridge from `a` to `b` (the same faces, row for row; rows are normalised first).
 * @param ridge λ relative to the number of faces: the penalty is ridge · n / d_A per weight.
 */
export function fitLinearBridge(a: Rows, b: Rows, ridge: number): LinearBridge {
  if (a.n !== b.n) throw new ArcinvertError(`bridge fit: ${a.n} rows from one model, ${b.n} from the other`);
  if (!(ridge >= 0)) throw new ArcinvertError(`bridge ridge must be ≥ 0, got ${ridge}`);
  const m = a.dim + 1;
  const [gram, rhs] = [new Float64Array(m * m), new Float64Array(m * b.dim)];
  const [x, y] = [new Float64Array(m), new Float64Array(b.dim)];
  for (let i = 0; i < a.n; i++) {
    unitRow(a.data, i, a.dim, x);
    x[a.dim] = 1;
    unitRow(b.data, i, b.dim, y);
    for (let p = 0; p < m; p++) {
      const xp = x[p];
      for (let q = 0; q <= p; q++) gram[p * m + q] += xp * x[q];
      for (let c = 0; c < b.dim; c++) rhs[p * b.dim + c] += xp * y[c];
    }
  }
  const lambda = (ridge * a.n) / a.dim;
  for (let p = 0; p < m; p++) {
    if (p < a.dim) gram[p * m + p] += lambda;
    for (let q = p + 1; q < m; q++) gram[p * m + q] = gram[q * m + p];
  }
  if (!choleskyInPlace(gram, m))
    throw new ArcinvertError('the bridge fit is singular: too few faces for the dimension, or a ridge of 0');
  choleskySolveInPlace(gram, m, rhs, b.dim);
  return { from: a.dim, to: b.dim, weights: Float32Array.from(rhs), ridge };
}

/** Maps rows of A's space through `bridge`: unit-length rows of B's space. */
export function applyBridge(bridge: LinearBridge, a: Rows): Rows {
  if (a.dim !== bridge.from)
    throw new ArcinvertError(`the bridge maps ${bridge.from}-d embeddings, these are ${a.dim}-d`);
  const out = new Float32Array(a.n * bridge.to);
  const x = new Float64Array(bridge.from);
  const w = bridge.weights;
  for (let i = 0; i < a.n; i++) {
    unitRow(a.data, i, a.dim, x);
    const row = new Float64Array(bridge.to);
    for (let c = 0; c < bridge.to; c++) row[c] = w[bridge.from * bridge.to + c];
    for (let p = 0; p < bridge.from; p++) {
      const xp = x[p];
      if (xp === 0) continue;
      for (let c = 0; c < bridge.to; c++) row[c] += xp * w[p * bridge.to + c];
    }
    let s = 0;
    for (let c = 0; c < bridge.to; c++) s += row[c] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let c = 0; c < bridge.to; c++) out[i * bridge.to + c] = row[c] * inv;
  }
  return { data: out, n: a.n, dim: bridge.to };
}

/** Cosines between `predicted` (unit rows) and the rows of `truth`. */
export function bridgeAgreement(predicted: Rows, truth: Rows): BridgeAgreement {
  const cos: number[] = [];
  const y = new Float64Array(truth.dim);
  for (let i = 0; i < truth.n; i++) {
    unitRow(truth.data, i, truth.dim, y);
    let s = 0;
    for (let c = 0; c < truth.dim; c++) s += predicted.data[i * truth.dim + c] * y[c];
    cos.push(s);
  }
  const sorted = [...cos].sort((p, q) => p - q);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    pairs: cos.length,
    mean: cos.reduce((p, q) => p + q, 0) / Math.max(1, cos.length),
    median: at(0.5),
    p05: at(0.05),
  };
}

/** The rows of `r` at `indices`. */
export function pickRows(r: Rows, indices: readonly number[]): Rows {
  const data = new Float32Array(indices.length * r.dim);
  indices.forEach((i, k) => data.set(r.data.subarray(i * r.dim, (i + 1) * r.dim), k * r.dim));
  return { data, n: indices.length, dim: r.dim };
}

/**
 * Chooses the ridge on held-out faces: fits on `train` rows for each candidate, keeps the one
 * whose predictions of the `val` rows agree best, then refits on all rows with it.
 */
export function fitWithHeldOut(
  a: Rows,
  b: Rows,
  train: readonly number[],
  val: readonly number[],
  ridges: readonly number[] = [1e-3, 1e-2, 1e-1, 1],
): { bridge: LinearBridge; heldOut: BridgeAgreement; tried: Array<{ ridge: number; heldOut: BridgeAgreement }> } {
  if (val.length === 0 || train.length === 0)
    throw new ArcinvertError('the bridge fit needs training and held-out faces');
  const tried = ridges.map((ridge) => {
    const fit = fitLinearBridge(pickRows(a, train), pickRows(b, train), ridge);
    return { ridge, heldOut: bridgeAgreement(applyBridge(fit, pickRows(a, val)), pickRows(b, val)) };
  });
  const best = tried.reduce((p, q) => (q.heldOut.mean > p.heldOut.mean ? q : p));
  return { bridge: fitLinearBridge(a, b, best.ridge), heldOut: best.heldOut, tried };
}
