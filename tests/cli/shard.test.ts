import { ArcinvertError } from '../../src/errors.js';
import { parseShardFlag, resolveShard } from '../../src/cli/shard.js';

test('parseShardFlag: i/n and auto/n', () => {
  expect(parseShardFlag('0/4')).toEqual({ index: 0, count: 4 });
  expect(parseShardFlag(' 3/4 ')).toEqual({ index: 3, count: 4 });
  expect(parseShardFlag('auto/16')).toEqual({ index: 'auto', count: 16 });
});

test.each([
  ['4/4', '--shard 4/4: the index must be in [0, 3]'],
  ['1/0', '--shard must be i/n or auto/n with n ≥ 1'],
  ['-1/4', '--shard must be i/n'],
  ['1', '--shard must be i/n'],
  ['a/4', '--shard must be i/n'],
  ['1.5/4', '--shard must be i/n'],
])('parseShardFlag(%j) is refused: %s', (value, message) => {
  expect(() => parseShardFlag(value)).toThrow(ArcinvertError);
  expect(() => parseShardFlag(value)).toThrow(message);
});

test('resolveShard: a given index as is; auto from Kubernetes, then Slurm (counted from the array minimum)', () => {
  expect(resolveShard({ index: 2, count: 4 }, {})).toEqual({ index: 2, count: 4, from: 'flag' });
  expect(resolveShard({ index: 'auto', count: 4 }, { JOB_COMPLETION_INDEX: '3' })).toEqual({
    index: 3,
    count: 4,
    from: 'JOB_COMPLETION_INDEX',
  });
  const slurm = resolveShard({ index: 'auto', count: 4 }, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1' });
  expect([slurm.index, slurm.from]).toEqual([3, 'SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (4 − 1)']);
  expect(resolveShard({ index: 'auto', count: 4 }, { SLURM_ARRAY_TASK_ID: '2' }).index).toBe(2);
  // --array=0-30:10 → task ids 0, 10, 20, 30.
  const stepped = {
    SLURM_ARRAY_TASK_ID: '20',
    SLURM_ARRAY_TASK_MIN: '0',
    SLURM_ARRAY_TASK_STEP: '10',
    SLURM_ARRAY_TASK_COUNT: '4',
  };
  expect(resolveShard({ index: 'auto', count: 4 }, stepped).index).toBe(2);
  expect(() => resolveShard({ index: 'auto', count: 8 }, stepped)).toThrow(
    'the Slurm array has 4 tasks (SLURM_ARRAY_TASK_COUNT); give --shard auto/4',
  );
  // Kubernetes wins when both are set.
  expect(resolveShard({ index: 'auto', count: 4 }, { JOB_COMPLETION_INDEX: '0', SLURM_ARRAY_TASK_ID: '2' }).index).toBe(
    0,
  );
});

test('resolveShard auto: no scheduler variable, or an index outside [0, n), is one line naming it', () => {
  expect(() => resolveShard({ index: 'auto', count: 4 }, {})).toThrow(
    '--shard auto/4: neither JOB_COMPLETION_INDEX (Kubernetes) nor SLURM_ARRAY_TASK_ID (Slurm) is set',
  );
  expect(() => resolveShard({ index: 'auto', count: 4 }, { JOB_COMPLETION_INDEX: '4' })).toThrow(
    'JOB_COMPLETION_INDEX gives index 4, outside [0, 3]',
  );
  expect(() =>
    resolveShard({ index: 'auto', count: 2 }, { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_MIN: '1' }),
  ).toThrow('gives index -1, outside [0, 1]');
});
