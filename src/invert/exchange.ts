/**
 * One batch on several worker threads: the parts of a batch exchange, once a step, what couples
 * their images (each part's per-channel BatchNorm statistics and its share of the loss terms),
 * through shared memory and a barrier. The exchange is synchronous, as it must be: it happens
 * inside the step's gradient function, between the forward pass and the loss.
 *
 * Layout of the SharedArrayBuffer: two int32 (how many parts have arrived in this round, the
 * round), then two banks of `parts × length` float32, one per round parity. A part writes its
 * row into this round's bank, arrives, and waits for the round to advance; the bank of round r
 * is only written again in round r + 2, which no part can reach before every part has read
 * round r (it must first pass round r + 1's barrier).
 */
import { ArcinvertError } from '../errors.js';

/** How long a part waits for the others before it gives up (a crashed sibling must not hang it forever). */
const WAIT_MS = 10 * 60 * 1000;

/** Bytes of the exchange of `parts` parts of `length` floats: the two int32, then two banks. */
const bytesFor = (parts: number, length: number): number => 8 + 2 * parts * length * 4;

/** The buffer for `parts` parts exchanging `length` floats each per round. */
export function exchangeBuffer(parts: number, length: number): SharedArrayBuffer {
  return new SharedArrayBuffer(bytesFor(parts, length));
}

/** A part's handle on the exchange of one batch. */
export class PartExchange {
  private readonly ctrl: Int32Array;
  private readonly banks: Float32Array;

  /**
   * @param buffer from `exchangeBuffer(parts, length)`, shared by all parts.
   * @param part this part's index, 0 ≤ part < parts.
   */
  constructor(
    buffer: SharedArrayBuffer,
    readonly part: number,
    readonly parts: number,
    readonly length: number,
    private readonly waitMs = WAIT_MS,
  ) {
    if (buffer.byteLength !== bytesFor(parts, length))
      throw new Error(`exchange buffer of ${buffer.byteLength} bytes does not hold ${parts} × ${length} floats`);
    this.ctrl = new Int32Array(buffer, 0, 2);
    this.banks = new Float32Array(buffer, 8, 2 * parts * length);
  }

  /**
   * Publishes `row` (`length` floats) and returns every part's row, in part order, once all
   * parts have published theirs in this round (a copy: [parts × length]).
   * @throws ArcinvertError when the other parts do not all arrive within the wait limit.
   */
  allGather(row: Float32Array): Float32Array {
    if (row.length !== this.length) throw new Error(`exchange row of ${row.length} floats, expected ${this.length}`);
    const round = Atomics.load(this.ctrl, 1);
    const bank = (round & 1) * this.parts * this.length;
    this.banks.set(row, bank + this.part * this.length);
    if (Atomics.add(this.ctrl, 0, 1) === this.parts - 1) {
      Atomics.store(this.ctrl, 0, 0);
      Atomics.add(this.ctrl, 1, 1);
      Atomics.notify(this.ctrl, 1);
    } else {
      const until = Date.now() + this.waitMs;
      while (Atomics.load(this.ctrl, 1) === round) {
        const left = until - Date.now();
        if (left <= 0 || Atomics.wait(this.ctrl, 1, round, left) === 'timed-out')
          throw new ArcinvertError(
            `part ${this.part + 1} of ${this.parts} of a batch waited ${Math.round(this.waitMs / 1000)} s for the other parts`,
          );
      }
    }
    return this.banks.slice(bank, bank + this.parts * this.length);
  }
}

/**
 * The jobs of a batch of `n` cut into `parts` contiguous parts, as sizes: as equal as they can
 * be, larger parts first (8 in 3: 3, 3, 2).
 */
export function partSizes(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, k) => Math.floor(n / parts) + (k < n % parts ? 1 : 0));
}

/** Part `k` of `items` cut into `parts` contiguous parts (`partSizes`). */
export function partOf<T>(items: readonly T[], parts: number, k: number): T[] {
  const sizes = partSizes(items.length, parts);
  const start = sizes.slice(0, k).reduce((a, b) => a + b, 0);
  return items.slice(start, start + sizes[k]);
}
