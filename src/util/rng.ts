/**
 * A small seeded PRNG (mulberry32) with a serialisable state, so every random choice in
 * arcinvert (jitter offsets, flips, shuffles, starting noise) is reproducible from a seed
 * and can be resumed exactly from a checkpoint.
 */

/** Deterministic 32-bit PRNG; `state` can be saved and restored. */
export class Rng {
  /** The full internal state: restoring it continues the same sequence. */
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A 32-bit seed for a tfjs random op (tfjs seeds are numbers). */
  seed(): number {
    return Math.floor(this.next() * 2147483647);
  }

  /** Standard normal sample (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
