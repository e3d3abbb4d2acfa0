import * as tf from '@tensorflow/tfjs';
import { augment, drawAugmentation, roll, zoom } from '../../src/invert/augment.js';
import { Mulberry32 } from '../../src/util/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/*
 * A 1×3×4×1 image holding 0…11:
 *     0  1  2  3
 *     4  5  6  7
 *     8  9 10 11
 */
const grid = (): tf.Tensor4D =>
  tf.tensor4d(
    Array.from({ length: 12 }, (_, i) => i),
    [1, 3, 4, 1],
  );
const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

test.each([
  // torch.roll: out[j] = x[(j − shift) mod n]
  [1, 2, [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10]],
  [-1, 2, [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8]],
  [5, 2, [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10]], // 5 ≡ 1 (mod 4)
  [-6, 2, [2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9]], // −6 ≡ 2 (mod 4)
  [4, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
  [1, 1, [8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7]],
  [-1, 1, [4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3]],
  [-4, 1, [4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3]], // −4 ≡ −1 (mod 3)
  [7, 1, [8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7]], // 7 ≡ 1 (mod 3)
  [0, 1, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
] as const)('roll by %i along axis %i equals the hand-rolled array', (shift, axis, expected) => {
  const x = grid();
  const before = tf.memory().numTensors;
  const y = roll(x, shift, axis);
  expect(y.shape).toEqual([1, 3, 4, 1]);
  expect(values(y)).toEqual(expected);
  if (y !== x) y.dispose();
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});

test('roll moves whole pixels: channels and batch items stay together', () => {
  // [2, 1, 3, 2]: image b, column w, channel c holds 100b + 10w + c.
  const data: number[] = [];
  for (let b = 0; b < 2; b++) for (let w = 0; w < 3; w++) for (let c = 0; c < 2; c++) data.push(100 * b + 10 * w + c);
  const x = tf.tensor4d(data, [2, 1, 3, 2]);
  const y = roll(x, 1, 2);
  expect(values(y)).toEqual([20, 21, 0, 1, 10, 11, 120, 121, 100, 101, 110, 111]);
  tf.dispose([x, y]);
});

test('augment rolls rows, then columns, then mirrors, channels kept together', () => {
  // dy = 1:  8 9 10 11 / 0 1 2 3 / 4 5 6 7
  // dx = −1: 9 10 11 8 / 1 2 3 0 / 5 6 7 4
  // flip:    8 11 10 9 / 0 3 2 1 / 4 7 6 5
  const flat = Array.from({ length: 12 }, (_, i) => i);
  const x = tf.tensor4d(
    flat.flatMap((v) => [v, v + 100]),
    [1, 3, 4, 2],
  );
  const before = tf.memory().numTensors;
  const y = augment(x, { dy: 1, dx: -1, flip: true });
  const expected = [8, 11, 10, 9, 0, 3, 2, 1, 4, 7, 6, 5];
  expect(values(y)).toEqual(expected.flatMap((v) => [v, v + 100]));
  y.dispose();
  const z = augment(x, { dy: 1, dx: -1, flip: false });
  expect(values(z).filter((_, k) => k % 2 === 0)).toEqual([9, 10, 11, 8, 1, 2, 3, 0, 5, 6, 7, 4]);
  z.dispose();
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});

test('the identity augmentation returns the same values', () => {
  const x = grid();
  const y = augment(x, { dy: 0, dx: 0, flip: false });
  expect(values(y)).toEqual(values(x));
  if (y !== x) y.dispose();
  x.dispose();
});

test('augment is differentiable: the gradient of Σ w·augment(x) is w moved back', () => {
  // f is linear, so ∇f is a permutation of w and f(x) = ⟨∇f, x⟩ for every x.
  const x = tf.randomNormal([2, 3, 4, 2], 0, 1, 'float32', 5) as tf.Tensor4D;
  const w = tf.tensor4d(
    Array.from({ length: 48 }, (_, i) => i + 1),
    [2, 3, 4, 2],
  );
  const a = { dy: -2, dx: 3, flip: true };
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(augment(v as tf.Tensor4D, a), w)))(x);
  expect(
    values(g)
      .slice()
      .sort((p, q) => p - q),
  ).toEqual(values(w));
  const f = tf.tidy(() => tf.sum(tf.mul(augment(x, a), w)).dataSync()[0]);
  const inner = tf.tidy(() => tf.sum(tf.mul(g, x)).dataSync()[0]);
  expect(inner).toBeCloseTo(f, 3);
  tf.dispose([x, w, g]);
});

test('drawAugmentation: shifts cover [−jitter, jitter], flips about half the time', () => {
  const rng = new Mulberry32(123);
  const shifts: number[] = [];
  let flips = 0;
  for (let i = 0; i < 2000; i++) {
    const a = drawAugmentation(rng, 3, true);
    shifts.push(a.dx, a.dy);
    if (a.flip) flips++;
  }
  expect(shifts.every(Number.isInteger)).toBe(true);
  const seen = new Set(shifts);
  expect([...seen].sort((p, q) => p - q)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
  expect(flips).toBeGreaterThan(900);
  expect(flips).toBeLessThan(1100);
});

test('drawAugmentation: no jitter and no flip when disabled', () => {
  const rng = new Mulberry32(7);
  for (let i = 0; i < 200; i++) expect(drawAugmentation(rng, 0, false)).toEqual({ dy: 0, dx: 0, flip: false });
});

test('drawAugmentation is reproducible from the seed and differs between seeds', () => {
  const draw = (seed: number) => {
    const rng = new Mulberry32(seed);
    return Array.from({ length: 50 }, () => drawAugmentation(rng, 4, true));
  };
  expect(draw(42)).toEqual(draw(42));
  expect(draw(42)).not.toEqual(draw(43));
  // The generator state after a draw resumes the same stream.
  const rng = new Mulberry32(9);
  drawAugmentation(rng, 4, true);
  const resumed = Mulberry32.fromState(rng.state);
  expect(drawAugmentation(resumed, 4, true)).toEqual(drawAugmentation(rng, 4, true));
});

// A 1×4×4×1 ramp: every row is 0 1 2 3.
const ramp = (): tf.Tensor4D => tf.tensor4d([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], [1, 4, 4, 1]);

test('zoom ×2: the centre of the bilinear (half-pixel) enlargement', () => {
  // Output column j of the 8-wide resize samples source x = (j + 0.5) / 2 − 0.5; columns 2…5 are kept.
  const y = zoom(ramp(), 2);
  expect(y.shape).toEqual([1, 4, 4, 1]);
  expect(values(y)).toEqual(Array(4).fill([0.75, 1.25, 1.75, 2.25]).flat());
});

test('zoom ×0.5: the reduction (samples at x = 0.5 and 2.5) on a grey (0) border', () => {
  const y = zoom(ramp(), 0.5);
  expect(values(y)).toEqual([0, 0, 0, 0, 0, 0.5, 2.5, 0, 0, 0.5, 2.5, 0, 0, 0, 0, 0]);
});

test('zoom by 1 (or to the same rounded size) returns the input', () => {
  const x = ramp();
  expect(zoom(x, 1)).toBe(x);
  expect(zoom(x, 1.1)).toBe(x); // round(4.4) = 4
});

test('augment with a zoom is linear and its gradient is the adjoint: <A x, w> = <x, Aᵀ w>', () => {
  const x = tf.tensor4d(
    Array.from({ length: 2 * 8 * 8 * 3 }, (_, k) => Math.sin(k)),
    [2, 8, 8, 3],
  );
  const w = tf.tensor4d(
    Array.from({ length: 2 * 8 * 8 * 3 }, (_, k) => Math.cos(k * 0.3)),
    [2, 8, 8, 3],
  );
  for (const a of [
    { dy: 1, dx: -2, flip: true, scale: 1.25 },
    { dy: 0, dx: 1, flip: false, scale: 0.75 },
  ]) {
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(augment(v as tf.Tensor4D, a), w)))(x);
    const lhs = tf.tidy(() => tf.sum(tf.mul(augment(x, a), w)).dataSync()[0]);
    const rhs = tf.tidy(() => tf.sum(tf.mul(x, g)).dataSync()[0]);
    expect(rhs).toBeCloseTo(lhs, 3);
    expect(Math.abs(lhs)).toBeGreaterThan(0.1);
    g.dispose();
  }
  tf.dispose([x, w]);
});

test('drawAugmentation with a zoom: the same shifts and flips as without, scales in [1 − s, 1 + s]', () => {
  const plain = new Mulberry32(5);
  const zoomed = new Mulberry32(5);
  const scales: number[] = [];
  for (let i = 0; i < 500; i++) {
    const a = drawAugmentation(plain, 3, true);
    const b = drawAugmentation(zoomed, 3, true, 0.2);
    expect([b.dy, b.dx, b.flip]).toEqual([a.dy, a.dx, a.flip]);
    scales.push(b.scale!);
    plain.next(); // the zoom's draw
  }
  expect(Math.min(...scales)).toBeGreaterThanOrEqual(0.8);
  expect(Math.max(...scales)).toBeLessThanOrEqual(1.2);
  expect(Math.min(...scales)).toBeLessThan(0.82);
  expect(Math.max(...scales)).toBeGreaterThan(1.18);
  expect(drawAugmentation(new Mulberry32(1), 2, true)).not.toHaveProperty('scale');
});

test('augment with a colour shift: x·gain[c] + offset[c] after the mirror, by hand', () => {
  // One row 0 1 2 in channel 0, 10 11 12 in channel 1, 20 21 22 in channel 2; mirrored: 2 1 0 …
  const x = tf.tensor4d([0, 10, 20, 1, 11, 21, 2, 12, 22], [1, 1, 3, 3]);
  const before = tf.memory().numTensors;
  const y = augment(x, { dy: 0, dx: 0, flip: true, gain: [2, 0.5, 1], offset: [0.25, -1, 0] });
  expect(values(y)).toEqual([4.25, 5, 22, 2.25, 4.5, 21, 0.25, 4, 20]);
  y.dispose();
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});

test('the colour shift is differentiable: the gradient of Σ w·augment(x) is gain[c]·w moved back', () => {
  const x = tf.randomNormal([2, 3, 4, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
  const w = tf.randomNormal([2, 3, 4, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  const a = {
    dy: 1,
    dx: -1,
    flip: true,
    gain: [1.5, 0.8, 1.1] as [number, number, number],
    offset: [0.1, -0.2, 0.3] as [number, number, number],
  };
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(augment(v as tf.Tensor4D, a), w)))(x);
  // The same gradient by hand: w scaled per channel, then the roll and mirror undone.
  const plain = { dy: 1, dx: -1, flip: true };
  const expected = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(augment(v as tf.Tensor4D, plain), tf.mul(w, a.gain))))(x);
  const gv = values(g);
  values(expected).forEach((e, k) => expect(gv[k]).toBeCloseTo(e, 5));
  tf.dispose([x, w, g, expected]);
});

test('drawAugmentation with a colour shift: the same shifts, flips and zooms as without; gains e^[−s, s], offsets in [−s, s]', () => {
  const plain = new Mulberry32(11);
  const shifted = new Mulberry32(11);
  const logGains: number[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < 500; i++) {
    const a = drawAugmentation(plain, 3, true, 0.1);
    const b = drawAugmentation(shifted, 3, true, 0.1, 0.2);
    expect([b.dy, b.dx, b.flip, b.scale]).toEqual([a.dy, a.dx, a.flip, a.scale]);
    logGains.push(...b.gain!.map(Math.log));
    offsets.push(...b.offset!);
    for (let k = 0; k < 6; k++) plain.next(); // the colour shift's draws
  }
  for (const v of [logGains, offsets]) {
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-0.2 - 1e-12);
    expect(Math.max(...v)).toBeLessThanOrEqual(0.2 + 1e-12);
    expect(Math.min(...v)).toBeLessThan(-0.19);
    expect(Math.max(...v)).toBeGreaterThan(0.19);
  }
  expect(drawAugmentation(new Mulberry32(1), 2, true, 0.1)).not.toHaveProperty('gain');
});
