/** Tests for src/io/grid.ts: sheet geometry, exact cell pixels, captions, errors, leaks. */

import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

import { ArcinvertError } from '../../src/errors.js';
import { contactSheetLayout, contactSheetPng, gridRows, writeContactSheet } from '../../src/io/grid.js';
import { DEFAULT_NORMALIZATION } from '../../src/io/image.js';

const NORM = DEFAULT_NORMALIZATION;
const H = 5;
const W = 4;

/** A flat-colour [H, W, 3] tensor in [-1, 1] normalisation for byte colour `rgb`. */
const flat = (rgb: [number, number, number]): tf.Tensor3D =>
  tf.tidy(
    () =>
      tf
        .tensor1d(rgb.map((b) => (b - 127.5) / 127.5))
        .reshape([1, 1, 3])
        .tile([H, W, 1]) as tf.Tensor3D,
  );

const COLOURS: [number, number, number][][] = [
  [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ],
  [
    [128, 64, 32],
    [0, 0, 0],
  ],
];

async function pixels(png: Buffer): Promise<{ px: (y: number, x: number) => number[]; w: number; h: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  const px = (y: number, x: number) =>
    Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3));
  return { px, w: info.width, h: info.height };
}

let cells: tf.Tensor3D[][];
let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  cells = COLOURS.map((row) => row.map(flat));
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-grid-'));
});
afterAll(async () => {
  tf.dispose(cells.flat());
  await fsp.rm(tmp, { recursive: true, force: true });
});

test('gridRows wraps a flat list', () => {
  expect(gridRows([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  expect(() => gridRows([1], 0)).toThrow(ArcinvertError);
});

test('layout geometry', () => {
  const l = contactSheetLayout([3, 2], [H, W], { padding: 2 });
  expect([l.width, l.height]).toEqual([2 + 3 * (W + 2), 2 + 2 * (H + 2)]);
  expect(l.cells).toEqual([
    [
      [2, 2],
      [2, 8],
      [2, 14],
    ],
    [
      [9, 2],
      [9, 8],
    ],
  ]);
  const labelled = contactSheetLayout([3, 2], [H, W], { padding: 2, labels: ['a', 'b'], labelHeight: 10 });
  expect(labelled.height).toBe(2 + 2 * (10 + H + 2));
  expect(labelled.labelTops).toEqual([2, 19]);
  expect(labelled.cells[1][0]).toEqual([29, 2]);
});

test('every cell is copied exactly; padding and empty slots show the background', async () => {
  const before = tf.memory().numTensors;
  const png = await contactSheetPng(cells, { normalization: NORM, padding: 2, background: [10, 20, 30] });
  expect(tf.memory().numTensors).toBe(before);
  const { px, w, h } = await pixels(png);
  expect([w, h]).toEqual([20, 16]);
  const layout = contactSheetLayout([3, 2], [H, W], { padding: 2 });
  COLOURS.forEach((row, r) =>
    row.forEach((rgb, c) => {
      const [top, left] = layout.cells[r][c];
      expect(px(top, left)).toEqual(rgb);
      expect(px(top + H - 1, left + W - 1)).toEqual(rgb);
    }),
  );
  expect(px(0, 0)).toEqual([10, 20, 30]);
  expect(px(2, 6)).toEqual([10, 20, 30]); // gap between columns 0 and 1
  expect(px(10, 15)).toEqual([10, 20, 30]); // the empty third slot of row 1
});

test('captions add bands without touching the cells', async () => {
  const opts = {
    normalization: NORM,
    padding: 2,
    labels: ['target <A> & "B"', 'second'],
    cellLabels: [['s1', 's2', 's3'], ['x']],
    labelHeight: 12,
  };
  const png = await contactSheetPng(cells, opts);
  const { px, w, h } = await pixels(png);
  const layout = contactSheetLayout([3, 2], [H, W], opts);
  expect([w, h]).toEqual([layout.width, layout.height]);
  expect(h).toBe(2 + 2 * (12 + H + 12 + 2));
  COLOURS.forEach((row, r) => row.forEach((rgb, c) => expect(px(...layout.cells[r][c])).toEqual(rgb)));
});

test('writeContactSheet writes one PNG atomically', async () => {
  const file = path.join(tmp, 'sheet.png');
  await writeContactSheet(file, gridRows(cells.flat(), 2), { normalization: NORM });
  const meta = await sharp(file).metadata();
  expect([meta.format, meta.width, meta.height]).toEqual(['png', 4 + 2 * (W + 4), 4 + 3 * (H + 4)]);
  expect(await fsp.readdir(tmp)).toEqual(['sheet.png']);
});

test('mismatched inputs are one-line errors', async () => {
  const odd = tf.zeros([H + 1, W, 3]) as tf.Tensor3D;
  const bad = [
    contactSheetPng([], { normalization: NORM }),
    contactSheetPng([[cells[0][0], odd]], { normalization: NORM }),
    contactSheetPng(cells, { normalization: NORM, labels: ['only one'] }),
    contactSheetPng(cells, { normalization: NORM, cellLabels: [['a'], ['b', 'c', 'd']] }),
    contactSheetPng(cells, { normalization: NORM, padding: -1 }),
  ];
  const messages = await Promise.all(
    bad.map((p) =>
      p.then(
        () => '',
        (e: Error) => (e instanceof ArcinvertError ? e.message : 'other'),
      ),
    ),
  );
  expect(messages).toEqual([
    'cannot make a contact sheet: no images given',
    'cannot make a contact sheet: image of shape [6, 4, 3] differs from [5, 4, 3]',
    'contact sheet has 2 rows but 1 row labels',
    'contact sheet cell labels do not match the grid (row 1)',
    'invalid contact sheet padding -1 or label height 16',
  ]);
  odd.dispose();
});
