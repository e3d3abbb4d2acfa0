/**
 * The tables of `npm run bench` (formatting only; timings are never tested): the step table
 * with its baseline, worker and PyTorch columns and ratios, and the single-kernel table.
 */
import { benchTable, kernelTable } from '../../benchmarks/main.js';

test('step table: cells, speed-up over the baseline from the faster arcinvert cell, ratios to PyTorch', () => {
  const text = benchTable(
    [
      {
        step: 'inversion',
        size: 112,
        batch: 8,
        baseline: 187.8,
        one: 29.7,
        many: 20.9,
        torchOne: 50.5,
        torchMany: 12.6,
      },
      { step: 'training', size: 64, batch: 8, baseline: 83.7, one: 26.6, many: 31.4, torchOne: 23.7, torchMany: 6.8 },
      { step: 'training', size: 112, batch: 32, baseline: 'RuntimeError: Aborted()', one: 53.8, many: 33.0 },
    ],
    2,
  );
  const lines = text.split('\n');
  expect(lines[0]).toBe(
    '| step | input | batch | baseline, 1 thread | arcinvert, 1 thread | arcinvert, 2 workers | PyTorch, 1 thread | PyTorch, 2 threads | speed-up over baseline | arcinvert / PyTorch, 1 thread | arcinvert / PyTorch, 2 |',
  );
  expect(lines[2]).toBe('| inversion | 112×112 | 8 | 187.8 | 29.7 | 20.9 | 50.5 | 12.6 | 9.0× | 0.59× | 1.66× |');
  // Two workers are slower here: the speed-up uses the one-thread cell, the N-thread ratio the workers'.
  expect(lines[3]).toBe('| training | 64×64 | 8 | 83.7 | 26.6 | 31.4 | 23.7 | 6.8 | 3.1× | 1.12× | 4.62× |');
  // A failed cell is marked, and no ratio is made from it.
  expect(lines[4]).toBe('| training | 112×112 | 32 | failed¹ | 53.8 | 33.0 | – | – | – | – | – |');
});

test('step table without baseline, workers or PyTorch has only the measured column', () => {
  const text = benchTable([{ step: 'inversion', size: 64, batch: 8, one: 10.25 }], 1);
  expect(text.split('\n')).toEqual([
    '| step | input | batch | arcinvert, 1 thread |',
    '|---|---|---|---|',
    '| inversion | 64×64 | 8 | 10.3 |',
  ]);
});

test('kernel table: one column pair per PyTorch thread count, – where a kernel is missing', () => {
  const text = kernelTable(
    [{ name: 'element-wise multiply', shape: '[8, 56, 56, 64] · same', ms: 0.754, rate: 25.6, unit: 'GB/s' }],
    [
      { threads: 1, rows: [{ name: 'element-wise multiply', ms: 0.31, rate: 62.2 }] },
      { threads: 2, rows: [] },
    ],
  );
  expect(text.split('\n')[2]).toBe(
    '| element-wise multiply | [8, 56, 56, 64] · same | 0.75 | 25.6 GB/s | 0.31 | 62.2 GB/s | – | – |',
  );
});
