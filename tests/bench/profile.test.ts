/** The profile table of `npm run bench -- --profile` (formatting only; timings are never tested). */
import { formatProfile } from '../../benchmarks/profile.js';

test('lists the most expensive kernels with times and call counts under the step, its kernels and the rest', () => {
  const text = formatProfile(
    'inversion step, batch 8',
    {
      kernels: [
        { name: 'Conv2D', ms: 101.46, calls: 33 },
        { name: 'Mean', ms: 56.7, calls: 109 },
        { name: 'Identity', ms: 0.01, calls: 1744 },
      ],
      wallMs: 180.2,
    },
    2,
  );
  const lines = text.split('\n');
  expect(lines[0]).toBe('inversion step, batch 8: 180 ms a step: 158 ms in 1886 kernel calls, 22 ms outside them');
  expect(lines).toHaveLength(3);
  expect(lines[1]).toMatch(/^ {2}Conv2D +101\.5 ms +33 calls$/);
  expect(lines[2]).toMatch(/^ {2}Mean +56\.7 ms +109 calls$/);
});

test('without a wall time (the inversion profile), only the kernel total', () => {
  const text = formatProfile('inversion step', { kernels: [{ name: 'Conv2D', ms: 10.04, calls: 3 }] });
  expect(text.split('\n')[0]).toBe('inversion step: 10 ms in 3 kernel calls');
});
