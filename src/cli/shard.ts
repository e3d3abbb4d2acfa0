/**
 * `--shard i/n`: run the i-th (0-based) of n deterministic slices of an inversion's batches
 * (`shardBatches`), for cluster schedulers; `arcinvert merge` puts the shards' outputs back
 * together. `--shard auto/n` takes i from the scheduler's environment: Kubernetes Indexed Jobs'
 * `JOB_COMPLETION_INDEX` (0-based), or a Slurm job array's `SLURM_ARRAY_TASK_ID` counted from
 * `SLURM_ARRAY_TASK_MIN` in steps of `SLURM_ARRAY_TASK_STEP` (arrays may start at 1 or skip),
 * checked against `SLURM_ARRAY_TASK_COUNT` when set.
 */
import { ArcinvertError } from '../errors.js';

export interface ShardSpec {
  index: number;
  count: number;
  /** Where the index came from: 'flag', or the environment variable read. */
  from: string;
}

/** What `--shard` holds before the environment is read. */
export type ShardFlag = { index: number | 'auto'; count: number };

/** Parses `--shard i/n` or `auto/n` (the index is resolved by `resolveShard`). */
export function parseShardFlag(value: string): ShardFlag {
  const m = /^(\d+|auto)\/(\d+)$/.exec(value.trim());
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1) throw new ArcinvertError(`--shard must be i/n or auto/n with n ≥ 1, got '${value}'`);
  if (m[1] === 'auto') return { index: 'auto', count };
  const index = Number(m[1]);
  if (index >= count) throw new ArcinvertError(`--shard ${value}: the index must be in [0, ${count - 1}]`);
  return { index, count };
}

const isIndex = (v: string | undefined): v is string => v !== undefined && /^\d+$/.test(v.trim());

/** The shard, with `auto` resolved from `env`. */
export function resolveShard(flag: ShardFlag, env: NodeJS.ProcessEnv = process.env): ShardSpec {
  if (flag.index !== 'auto') return { index: flag.index, count: flag.count, from: 'flag' };
  let index: number;
  let from: string;
  if (isIndex(env.JOB_COMPLETION_INDEX)) {
    index = Number(env.JOB_COMPLETION_INDEX);
    from = 'JOB_COMPLETION_INDEX';
  } else if (isIndex(env.SLURM_ARRAY_TASK_ID)) {
    const min = isIndex(env.SLURM_ARRAY_TASK_MIN) ? Number(env.SLURM_ARRAY_TASK_MIN) : 0;
    const step = isIndex(env.SLURM_ARRAY_TASK_STEP) ? Math.max(1, Number(env.SLURM_ARRAY_TASK_STEP)) : 1;
    if (isIndex(env.SLURM_ARRAY_TASK_COUNT) && Number(env.SLURM_ARRAY_TASK_COUNT) !== flag.count)
      throw new ArcinvertError(
        `--shard auto/${flag.count}: the Slurm array has ${env.SLURM_ARRAY_TASK_COUNT} tasks (SLURM_ARRAY_TASK_COUNT); give --shard auto/${env.SLURM_ARRAY_TASK_COUNT}`,
      );
    index = (Number(env.SLURM_ARRAY_TASK_ID) - min) / step;
    from =
      step === 1
        ? `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (${env.SLURM_ARRAY_TASK_ID} − ${min})`
        : `(SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP ((${env.SLURM_ARRAY_TASK_ID} − ${min}) / ${step})`;
  } else {
    throw new ArcinvertError(
      `--shard auto/${flag.count}: neither JOB_COMPLETION_INDEX (Kubernetes) nor SLURM_ARRAY_TASK_ID (Slurm) is set; give the index (--shard i/${flag.count})`,
    );
  }
  if (!Number.isInteger(index) || index < 0 || index >= flag.count)
    throw new ArcinvertError(
      `--shard auto/${flag.count}: ${from} gives index ${index}, outside [0, ${flag.count - 1}]`,
    );
  return { index, count: flag.count, from };
}
