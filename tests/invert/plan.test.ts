import { planBatches, shardBatches, type Job } from '../../src/invert/plan.js';

const real = (target: number, seed: number): Job => ({ target, seed, filler: false });
const filler = (target: number, seed: number): Job => ({ target, seed, filler: true });

test('3 targets × 2 seeds, batch 4, minBatch 4: two batches of 3, each padded with a new seed of its first target', () => {
  expect(planBatches(3, 2, 4, 4)).toEqual([
    [real(0, 0), real(0, 1), real(1, 0), filler(0, 2)],
    [real(1, 1), real(2, 0), real(2, 1), filler(1, 2)],
  ]);
});

test('20 targets at batch 16: two batches of 10 (not 16 and 4), no fillers', () => {
  const batches = planBatches(20, 1, 16, 8);
  expect(batches.map((b) => b.map((j) => j.target))).toEqual([
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
  ]);
  expect(batches.flat().every((j) => !j.filler && j.seed === 0)).toBe(true);
  // 17 at 16: 8 + 9; 33 at 16: 11 + 11 + 11.
  expect(planBatches(17, 1, 16, 8).map((b) => b.length)).toEqual([8, 9]);
  expect(planBatches(33, 1, 16, 8).map((b) => b.length)).toEqual([11, 11, 11]);
});

test('one target with minBatch 8 gets seven fillers with seeds 1…7', () => {
  expect(planBatches(1, 1, 8, 8)).toEqual([[real(0, 0), ...[1, 2, 3, 4, 5, 6, 7].map((s) => filler(0, s))]]);
});

test('fillers cycle over the targets of the short batch, each with its own seed counter', () => {
  // 4 targets × 1 seed, batch 2, minBatch 4: [0, 1] + fillers of 0 then 1, then [2, 3] likewise.
  expect(planBatches(4, 1, 2, 4)).toEqual([
    [real(0, 0), real(1, 0), filler(0, 1), filler(1, 1)],
    [real(2, 0), real(3, 0), filler(2, 1), filler(3, 1)],
  ]);
  // 2 targets × 1 seed in one batch of 8: fillers alternate 0, 1, 0, 1, … with seeds 1, 1, 2, 2, …
  expect(planBatches(2, 1, 8, 8)).toEqual([
    [real(0, 0), real(1, 0), filler(0, 1), filler(1, 1), filler(0, 2), filler(1, 2), filler(0, 3), filler(1, 3)],
  ]);
});

test('no fillers when every batch reaches minBatch; sizes differ by at most one, the larger last', () => {
  expect(planBatches(5, 1, 2, 1)).toEqual([[real(0, 0)], [real(1, 0), real(2, 0)], [real(3, 0), real(4, 0)]]);
  expect(planBatches(2, 3, 4, 2)).toEqual([
    [real(0, 0), real(0, 1), real(0, 2)],
    [real(1, 0), real(1, 1), real(1, 2)],
  ]);
});

test('every target × seed is planned exactly once as a real job, and fillers never repeat a (target, seed) of their batch', () => {
  for (const [n, seeds, batch, min] of [
    [7, 3, 5, 4],
    [1, 5, 4, 4],
    [4, 1, 16, 8],
    [3, 2, 3, 3],
  ]) {
    const batches = planBatches(n, seeds, batch, min);
    const reals = batches
      .flat()
      .filter((j) => !j.filler)
      .map((j) => `${j.target}/${j.seed}`);
    const expected: string[] = [];
    for (let t = 0; t < n; t++) for (let s = 0; s < seeds; s++) expected.push(`${t}/${s}`);
    expect(reals).toEqual(expected);
    for (const b of batches) {
      expect(b.length).toBeGreaterThanOrEqual(min);
      expect(b.length).toBeLessThanOrEqual(Math.max(batch, min));
      expect(batches.length).toBe(Math.ceil((n * seeds) / batch));
      const keys = b.map((j) => `${j.target}/${j.seed}`);
      expect(new Set(keys).size).toBe(keys.length);
      for (const j of b.filter((x) => x.filler)) expect(j.seed).toBeGreaterThanOrEqual(seeds);
    }
  }
});

describe('shardBatches', () => {
  test('5 batches in 3 shards by hand: [0], [1, 2], [3, 4]', () => {
    expect([0, 1, 2].map((i) => shardBatches(5, i, 3))).toEqual([[0], [1, 2], [3, 4]]);
  });

  test.each([
    [1, 1],
    [7, 2],
    [16, 5],
    [3, 8],
  ])('%i batches in %i shards: every batch in exactly one shard, in order, shards contiguous', (batches, count) => {
    const all = Array.from({ length: count }, (_, i) => shardBatches(batches, i, count));
    expect(all.flat()).toEqual(Array.from({ length: batches }, (_, b) => b));
    for (const s of all) s.forEach((b, k) => k > 0 && expect(b).toBe(s[k - 1] + 1));
    // Sizes differ by at most one; with more shards than batches some are empty.
    const sizes = all.map((s) => s.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });
});
