/**
 * The naturalness proxy's canvas (`padForDetection`): the crop resized to 112×112 and centred on
 * a mid-grey canvas 4× its side (the protocol chosen on real LFW faces, docs/INVERSION.md).
 */
import { DETECTION_PAD, padForDetection } from '../../src/leakage/naturalness.js';

test('the crop lands in the middle of a grey 448×448 canvas, at 112×112', async () => {
  expect(DETECTION_PAD).toBe(4);
  // A 56×56 image of one colour: resized to 112×112 it stays that colour.
  const img = { width: 56, height: 56, channels: 3 as const, data: new Uint8Array(56 * 56 * 3).fill(200) };
  const c = await padForDetection(img);
  expect([c.width, c.height, c.channels]).toEqual([448, 448, 3]);
  const at = (x: number, y: number) => Array.from(c.data.subarray((y * 448 + x) * 3, (y * 448 + x) * 3 + 3));
  expect(at(0, 0)).toEqual([128, 128, 128]);
  expect(at(167, 168)).toEqual([128, 128, 128]);
  expect(at(168, 168)).toEqual([200, 200, 200]);
  expect(at(279, 279)).toEqual([200, 200, 200]);
  expect(at(280, 279)).toEqual([128, 128, 128]);
  const inside = c.data.reduce((n, v, i) => n + (v === 200 && i % 3 === 0 ? 1 : 0), 0);
  expect(inside).toBe(112 * 112);
});
