/**
 * Shared helpers of the engine tests: deterministic inputs, and gradients / forward values
 * computed on two backends (or under two registrations) for comparison with
 *   relErr(a, ref) = max|a − ref| / max(max|ref|, 1e-6)
 * against the bound TOLERANCE.
 */
import * as tf from '@tensorflow/tfjs';

export const TOLERANCE = 1e-4;

/** Plain values of a tensor to build on any backend. */
export interface Named {
  data: Float32Array;
  shape: number[];
}

/** Deterministic uniform(-1, 1) values (mulberry32). */
export function randomValues(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export function random(shape: number[], seed: number): Named {
  return {
    data: randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  };
}

/** `random` mapped through `f` (e.g. positive variances). */
export function randomMapped(shape: number[], seed: number, f: (v: number) => number): Named {
  const r = random(shape, seed);
  return { data: r.data.map(f), shape };
}

export function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(a.length).toBe(ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / Math.max(scale, 1e-6);
}

/** tf.grads of `f` at `inputs` with upstream gradient `dy`, on `backend`; disposes everything. */
export async function gradsOn(
  backend: string,
  f: (...ts: tf.Tensor[]) => tf.Tensor,
  inputs: Named[],
  dy: Named,
): Promise<Float32Array[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  const ts = inputs.map((t) => tf.tensor(t.data, t.shape));
  const dyT = tf.tensor(dy.data, dy.shape);
  const gs = tf.grads(f)(ts, dyT);
  const values = (await Promise.all(gs.map((g) => g.data()))) as Float32Array[];
  tf.dispose([...ts, dyT, ...gs]);
  return values;
}

/** `f(...inputs)` on `backend`, as plain values; disposes everything. */
export async function forwardOn(
  backend: string,
  f: (...ts: tf.Tensor[]) => tf.Tensor,
  inputs: Named[],
): Promise<{ data: ArrayLike<number>; shape: number[]; dtype: string }> {
  expect(await tf.setBackend(backend)).toBe(true);
  const ts = inputs.map((t) => tf.tensor(t.data, t.shape));
  const y = f(...ts);
  const out = { data: await y.data(), shape: y.shape, dtype: y.dtype };
  tf.dispose([...ts, y]);
  return out;
}

/** Max relative error of each wasm gradient against cpu. */
export async function compareGrads(
  f: (...ts: tf.Tensor[]) => tf.Tensor,
  inputs: Named[],
  dy: Named,
): Promise<number[]> {
  const ref = await gradsOn('cpu', f, inputs, dy);
  const got = await gradsOn('wasm', f, inputs, dy);
  return got.map((g, i) => relErr(g, ref[i]!));
}

/** Forward values of `f` on wasm and on cpu: the error, with both results' shape and dtype checked equal. */
export async function compareForward(f: (...ts: tf.Tensor[]) => tf.Tensor, inputs: Named[]): Promise<number> {
  const ref = await forwardOn('cpu', f, inputs);
  const got = await forwardOn('wasm', f, inputs);
  expect(got.shape).toEqual(ref.shape);
  expect(got.dtype).toBe(ref.dtype);
  return relErr(got.data, ref.data);
}
