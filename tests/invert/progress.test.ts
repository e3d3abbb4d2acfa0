import { cosineSummary, lossTerms, throughput } from '../../src/invert/progress.js';

test('loss terms by name, in the order invertStep stacks them', () => {
  expect(lossTerms([6, 1, 2, 3, 4, 5])).toEqual({ total: 6, identity: 1, bn: 2, tvL1: 3, tvL2: 4, l2: 5 });
});

test('cosine summary over the real jobs only; a row not evaluated yet counts 0 in the best mean', () => {
  const jobs = [
    { target: 0, seed: 0, filler: false },
    { target: 1, seed: 0, filler: false },
    { target: 0, seed: 1, filler: true },
  ];
  const last = Float32Array.from([0.5, 0.25, 0.99]);
  const best = Float32Array.from([0.75, -Infinity, 0.99]);
  expect(cosineSummary(jobs, last, best)).toEqual({ mean: 0.375, min: 0.25, max: 0.5, bestMean: 0.375 });
});

test('throughput and time left from the run clock', () => {
  // 30 of 120 steps in 6 s: 5 step/s, 90 steps left = 18 s.
  expect(throughput({ globalStep: 30, totalSteps: 120, started: 1000 }, 7000)).toEqual({
    stepsPerSecond: 5,
    etaSeconds: 18,
  });
});
