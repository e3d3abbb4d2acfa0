/**
 * Seeded randomness for data order, augmentation and inversion noise.
 *
 * `Mulberry32` is Tommy Ettinger's 32-bit generator (public domain): one uint32 of state, so
 * the state can be saved in a checkpoint and restored exactly. Every epoch order and every
 * batch's flips are derived from (seed, epoch[, batch]) by hashing rather than by advancing one
 * shared stream, so a run resumed at any (epoch, batch) sees exactly the same data as an
 * uninterrupted one.
 */
import { ArcinvertError } from '../errors.js';

/** Small fast PRNG with a serialisable uint32 state. */
export class Mulberry32 {
  private s: number;

  /** @param seed any integer; it is taken modulo 2^32. */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new ArcinvertError(`seed must be an integer, got ${seed}`);
    this.s = seed >>> 0;
  }

  /** Restores a generator from `state` (see the `state` getter). */
  static fromState(state: number): Mulberry32 {
    return new Mulberry32(state);
  }

  /** The current state, a uint32; `Mulberry32.fromState(rng.state)` continues the stream. */
  get state(): number {
    return this.s;
  }

  /** Next uint32. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + this.nextInt(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes integers (a seed plus counters such as epoch and batch) into one uint32 seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    if (!Number.isInteger(p)) throw new ArcinvertError(`seed parts must be integers, got ${p}`);
    h = fmix32(Math.imul(h ^ (p >>> 0), 0x01000193) ^ Math.floor(p / 4294967296));
  }
  return h;
}

/** Fisher–Yates shuffle of `values` in place. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(values: T, rng: Mulberry32): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = values[i];
    values[i] = values[j];
    values[j] = tmp;
  }
  return values;
}

/**
 * The visiting order of `n` samples in `epoch`: a permutation of 0 … n−1 that depends only
 * on (seed, epoch), so any epoch can be regenerated on resume.
 */
export function shuffledEpochOrder(n: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0) throw new ArcinvertError(`sample count must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new ArcinvertError(`epoch must be a non-negative integer, got ${epoch}`);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  return shuffleInPlace(order, new Mulberry32(mixSeed(seed, epoch)));
}
