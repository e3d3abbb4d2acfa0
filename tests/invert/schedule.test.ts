import { resolveInvertConfig } from '../../src/invert/config.js';
import { lowResolutionSteps, scheduleAt, startResolution } from '../../src/invert/schedule.js';

const FULL: [number, number] = [32, 32];
// 10 steps, warmup 2 to lr 0.2, cosine decay over the remaining 8, half resolution for the first half.
const c = resolveInvertConfig({
  steps: 10,
  lr: 0.2,
  warmupSteps: 2,
  lrSchedule: 'cosine',
  multiResolution: true,
  parametrisation: 'pixel',
  colour: 'rgb',
  multiResolutionFraction: 0.5,
});

test('multi-resolution: half size for the first round(steps × fraction) steps, one upsample after', () => {
  expect(lowResolutionSteps(c)).toBe(5);
  expect(lowResolutionSteps({ ...c, multiResolutionFraction: 0.25 })).toBe(3); // round(2.5)
  expect(lowResolutionSteps({ ...c, multiResolution: false })).toBe(0);
  expect(startResolution(c, FULL)).toEqual([16, 16]);
  expect(startResolution({ ...c, multiResolution: false }, FULL)).toEqual([32, 32]);
  const plan = Array.from({ length: 10 }, (_, s) => scheduleAt(c, s, FULL));
  expect(plan.map((p) => p.resolution[0])).toEqual([16, 16, 16, 16, 16, 32, 32, 32, 32, 32]);
  expect(plan.map((p) => p.upsample)).toEqual([false, false, false, false, false, true, false, false, false, false]);
  const flat = Array.from({ length: 10 }, (_, s) => scheduleAt({ ...c, multiResolution: false }, s, FULL));
  expect(flat.every((p) => !p.upsample && p.resolution[0] === 32)).toBe(true);
});

test('learning rate: linear warmup, then cosine to 0 (values by hand)', () => {
  const lr = (s: number) => scheduleAt(c, s, FULL).lr;
  expect(lr(0)).toBeCloseTo(0.1, 12); // 0.2 · 1/2
  expect(lr(1)).toBeCloseTo(0.2, 12); // 0.2 · 2/2
  expect(lr(2)).toBeCloseTo(0.2, 12); // t = 0
  expect(lr(5)).toBeCloseTo(0.1 * (1 + Math.cos(Math.PI * 0.375)), 12); // t = 3/8: 0.1382683
  expect(lr(5)).toBeCloseTo(0.1382683, 6);
  expect(lr(6)).toBeCloseTo(0.1, 12); // t = 1/2
  expect(lr(9)).toBeCloseTo(0.007612, 6); // t = 7/8: 0.1 · (1 − 0.9238795)
  expect(scheduleAt({ ...c, lrSchedule: 'constant' }, 9, FULL).lr).toBe(0.2);
});

test.each([
  ['fourier', 'rgb'],
  ['fourier', 'decorrelated'],
  ['pixel', 'decorrelated'],
] as const)('%s + %s has no low-resolution start, whatever multiResolution says', (parametrisation, colour) => {
  const f = { ...c, parametrisation, colour };
  expect(lowResolutionSteps(f)).toBe(0);
  expect(startResolution(f, FULL)).toEqual([32, 32]);
  expect([0, 5, 9].map((k) => scheduleAt(f, k, FULL).upsample)).toEqual([false, false, false]);
});
