/**
 * `--shard i/n`: run the i-th (0-based) of n deterministic slices of an inversion's batches
 * (`shardBatches`), for cluster schedulers; `arcinvert merge` puts the shards' outputs back
 * together. `--shard auto/n` takes i from the scheduler's environment: Kubernetes Indexed Jobs'
 * `JOB_COMPLETION_INDEX` (0-based), or a Slurm job array's `SLURM_ARRAY_TASK_ID` counted from
 * `SLURM_ARRAY_TASK_MIN` (arrays may start at 1).
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
    index = Number(env.SLURM_ARRAY_TASK_ID) - min;
    from = `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (${env.SLURM_ARRAY_TASK_ID} − ${min})`;
  } else {
    throw new ArcinvertError(
      `--shard auto/${flag.count}: neither JOB_COMPLETION_INDEX (Kubernetes) nor SLURM_ARRAY_TASK_ID (Slurm) is set; give the index (--shard i/${flag.count})`,
    );
  }
  if (index < 0 || index >= flag.count)
    throw new ArcinvertError(
      `--shard auto/${flag.count}: ${from} gives index ${index}, outside [0, ${flag.count - 1}]`,
    );
  return { index, count: flag.count, from };
}
