/**
 * Core errors name config keys (`ConfigError`); the CLI shows the flags that set them.
 */
import { ArcinvertError, ConfigError } from '../../src/errors.js';
import { flagFor, kebabFlag, userMessage } from '../../src/cli/flags.js';
import { workerShare } from '../../src/train/parallel.js';
import { cli } from '../helpers/cli.js';

test('flagFor: the table where a flag differs from its key, kebab case otherwise', () => {
  expect(['batchSize', 'workers', 'microBatch', 'inputSize', 'impostorPairs', 'out', 'init'].map(flagFor)).toEqual([
    '--batch-size',
    '--workers',
    '--micro-batch',
    '--input-size',
    '--impostor-pairs',
    '--out',
    '--init',
  ]);
  expect(['priorStats', 'checkpointEveryMinutes', 'bnFirstLayerWeight', 'tvL1Weight', 'l2Weight'].map(flagFor)).toEqual(
    ['--prior', '--checkpoint-every', '--bn-first-layer', '--tv-l1', '--l2'],
  );
  expect(kebabFlag('evalPairs')).toBe('--eval-pairs');
});

test('a ConfigError names its keys; userMessage rewrites only the keys, other errors pass through', () => {
  const e = new ConfigError(
    ['batchSize', 'workers'],
    (k) => `${k('batchSize')} 10 is not a multiple of ${k('workers')} 4 workers`,
  );
  expect(e).toBeInstanceOf(ArcinvertError);
  expect(e.exitCode).toBe(2);
  expect(e.key).toBe('batchSize');
  expect(e.keys).toEqual(['batchSize', 'workers']);
  expect(e.message).toBe('batchSize 10 is not a multiple of workers 4 workers');
  expect(userMessage(e)).toBe('--batch-size 10 is not a multiple of --workers 4 workers');
  expect(userMessage(new ArcinvertError('batchSize stays as written'))).toBe('batchSize stays as written');
});

test('the core speaks of config keys (workerShare), the CLI of flags (train)', async () => {
  const err = (() => {
    try {
      workerShare({ batchSize: 32, microBatch: 0 }, 3);
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).key).toBe('batchSize');
  expect((err as Error).message).toBe('batchSize 32 is not a multiple of workers 3');
  const r = await cli('train', '--data', 'nowhere', '--out', 'nowhere', '--batch-size', '32', '--workers', '3');
  expect(r.code).toBe(2);
  expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
    'arcinvert: --batch-size 32 is not a multiple of --workers 3',
  ]);
});
