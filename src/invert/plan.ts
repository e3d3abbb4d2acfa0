/**
 * Which images are optimised together. Every target gets `seeds` starting noises (jobs);
 * jobs are cut into the fewest batches of at most `batchSize`, as equal in size as possible
 * (20 jobs at batch 16: two of 10, not 16 and 4 — two workers finish together, and no small
 * last batch needs padding). The BN prior matches *batch* statistics, which
 * are meaningless for one image (its variance is that of one face, not of faces), so a
 * batch with fewer than `minBatch` jobs — a single target, or the last batch — is padded
 * with filler jobs: extra seeds of the same targets. Fillers are optimised like the others
 * and then discarded; they cost compute, not correctness.
 */

/** One image to optimise: which target, which seed; fillers are not returned. */
export interface Job {
  target: number;
  seed: number;
  filler: boolean;
}

/**
 * The batches of shard `index` of `count` (0-based): a contiguous block of the plan's
 * `batches`, [⌊index·batches/count⌋, ⌊(index+1)·batches/count⌋). Every batch is in exactly one
 * shard, and a shard's images are the ones a single run gives those batches (the BN prior couples
 * the images of a batch, so a shard never splits one). A shard may be empty when count > batches.
 */
export function shardBatches(batches: number, index: number, count: number): number[] {
  const start = Math.floor((index * batches) / count);
  const end = Math.floor(((index + 1) * batches) / count);
  return Array.from({ length: end - start }, (_, k) => start + k);
}

/** Splits targets × seeds into equal batches of at most `batchSize`, padding small batches with fillers. */
export function planBatches(nTargets: number, seeds: number, batchSize: number, minBatch: number): Job[][] {
  const jobs: Job[] = [];
  for (let t = 0; t < nTargets; t++) for (let s = 0; s < seeds; s++) jobs.push({ target: t, seed: s, filler: false });
  const count = Math.ceil(jobs.length / batchSize);
  const batches: Job[][] = [];
  for (let b = 0; b < count; b++) {
    // Batch b holds jobs [⌊b·n/count⌋, ⌊(b+1)·n/count⌋): sizes differ by at most one.
    const batch = jobs.slice(Math.floor((b * jobs.length) / count), Math.floor(((b + 1) * jobs.length) / count));
    const real = batch.length;
    const extra = new Map<number, number>();
    for (let k = 0; batch.length < minBatch; k++) {
      const target = batch[k % real].target;
      const n = extra.get(target) ?? 0;
      extra.set(target, n + 1);
      batch.push({ target, seed: seeds + n, filler: true });
    }
    batches.push(batch);
  }
  return batches;
}
