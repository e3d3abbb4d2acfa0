/**
 * Contact sheets: many image tensors laid out as one PNG grid, e.g. one row per target
 * identity with its inversions across restarts or training checkpoints.
 *
 * Cells are copied byte-exactly onto a background-filled canvas (no resampling), so a pixel of
 * the sheet equals the pixel `tensorToPng` would write for that cell. Optional captions (one
 * per row above it, and/or one per cell below it) are drawn with an SVG overlay composited by
 * sharp; they need a system font (fontconfig) to be visible.
 */

import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { denormalizeToBytes, type Normalization } from './image.js';

/** Options for `contactSheetPng` / `writeContactSheet`. */
export interface ContactSheetOptions {
  /** The normalisation the cell tensors are in. */
  normalization: Normalization;
  /** Gap between cells and around the border, in pixels (default 4). */
  padding?: number;
  /** Canvas colour `[r, g, b]`, bytes (default white). */
  background?: [number, number, number];
  /** One caption per row, drawn in a band above the row. */
  labels?: string[];
  /** Captions per cell (`cellLabels[row][col]`), drawn in a band below each cell. */
  cellLabels?: (string | undefined)[][];
  /** Height of a caption band in pixels (default 16). */
  labelHeight?: number;
}

/** Where everything goes on the sheet; all values in pixels. */
export interface ContactSheetLayout {
  width: number;
  height: number;
  /** `[top, left]` of each cell's image, `cells[row][col]`. */
  cells: [number, number][][];
  /** Top of each row's caption band (present only with `labels`). */
  labelTops: number[];
}

/** Splits a flat list into rows of `columns` items (the last row may be shorter). */
export function gridRows<T>(items: readonly T[], columns: number): T[][] {
  if (!Number.isInteger(columns) || columns < 1) {
    throw new ArcinvertError(`invalid number of grid columns ${columns}: need a positive integer`);
  }
  const rows: T[][] = [];
  for (let k = 0; k < items.length; k += columns) rows.push(items.slice(k, k + columns));
  return rows;
}

/**
 * Computes the sheet geometry for rows of `rowLengths[r]` cells of `cellH x cellW` pixels.
 * Width = pad + cols·(cellW + pad); each row occupies rowBand + cellH + cellBand + pad.
 */
export function contactSheetLayout(
  rowLengths: readonly number[],
  [cellH, cellW]: [number, number],
  opts: Pick<ContactSheetOptions, 'padding' | 'labels' | 'cellLabels' | 'labelHeight'> = {},
): ContactSheetLayout {
  const pad = opts.padding ?? 4;
  const band = opts.labelHeight ?? 16;
  const rowBand = opts.labels ? band : 0;
  const cellBand = opts.cellLabels ? band : 0;
  const cols = Math.max(0, ...rowLengths);
  const block = rowBand + cellH + cellBand + pad;
  const labelTops = rowLengths.map((_, r) => pad + r * block);
  const cells = rowLengths.map((len, r) =>
    Array.from({ length: len }, (_, c): [number, number] => [labelTops[r] + rowBand, pad + c * (cellW + pad)]),
  );
  return {
    width: pad + cols * (cellW + pad),
    height: pad + rowLengths.length * block,
    cells,
    labelTops: opts.labels ? labelTops : [],
  };
}

const escapeXml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[ch] as string,
  );

/** One caption, clipped to its box by a nested <svg> (inner SVG viewports clip by default). */
function caption(text: string, top: number, left: number, width: number, height: number, fill: string): string {
  const size = Math.max(6, Math.round(height * 0.7));
  return (
    `<svg x="${left}" y="${top}" width="${width}" height="${height}">` +
    `<text x="1" y="${Math.round(height * 0.78)}" font-family="sans-serif" font-size="${size}" fill="${fill}">` +
    `${escapeXml(text)}</text></svg>`
  );
}

function validate(rows: readonly (readonly tf.Tensor3D[])[], opts: ContactSheetOptions): [number, number] {
  const all = rows.flat();
  if (all.length === 0) throw new ArcinvertError('cannot make a contact sheet: no images given');
  const [h, w] = all[0].shape;
  for (const t of all) {
    if (t.rank !== 3 || t.shape[2] !== 3 || t.shape[0] !== h || t.shape[1] !== w) {
      throw new ArcinvertError(
        `cannot make a contact sheet: image of shape [${t.shape.join(', ')}] differs from [${h}, ${w}, 3]`,
      );
    }
  }
  if (opts.labels && opts.labels.length !== rows.length) {
    throw new ArcinvertError(`contact sheet has ${rows.length} rows but ${opts.labels.length} row labels`);
  }
  opts.cellLabels?.forEach((row, r) => {
    if (r >= rows.length || row.length > rows[r].length) {
      throw new ArcinvertError(`contact sheet cell labels do not match the grid (row ${r})`);
    }
  });
  const pad = opts.padding ?? 4;
  const band = opts.labelHeight ?? 16;
  if (!Number.isInteger(pad) || pad < 0 || !Number.isInteger(band) || band < 1) {
    throw new ArcinvertError(`invalid contact sheet padding ${pad} or label height ${band}`);
  }
  return [h, w];
}

/**
 * Renders rows of image tensors as one PNG.
 *
 * @param rows `rows[r][c]` is a `[H, W, 3]` tensor in `opts.normalization`; all cells share
 *   one size, rows may have different lengths (use `gridRows` to wrap a flat list).
 * @returns PNG bytes of size `contactSheetLayout(...).width x height`.
 */
export async function contactSheetPng(
  rows: readonly (readonly tf.Tensor3D[])[],
  opts: ContactSheetOptions,
): Promise<Buffer> {
  const [h, w] = validate(rows, opts);
  const layout = contactSheetLayout(
    rows.map((r) => r.length),
    [h, w],
    opts,
  );
  const { width, height } = layout;
  const bg = opts.background ?? [255, 255, 255];
  const canvas = new Uint8Array(width * height * 3);
  for (let k = 0; k < canvas.length; k++) canvas[k] = bg[k % 3];

  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < rows[r].length; c++) {
      const bytes = denormalizeToBytes(await rows[r][c].data(), opts.normalization);
      const [top, left] = layout.cells[r][c];
      for (let y = 0; y < h; y++) {
        canvas.set(bytes.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * width + left) * 3);
      }
    }
  }

  const img = sharp(canvas, { raw: { width, height, channels: 3 } });
  const band = opts.labelHeight ?? 16;
  const ink = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] > 128 ? '#000' : '#fff';
  const parts: string[] = [];
  opts.labels?.forEach((text, r) => parts.push(caption(text, layout.labelTops[r], 0, width, band, ink)));
  opts.cellLabels?.forEach((row, r) =>
    row.forEach((text, c) => {
      const [top, left] = layout.cells[r][c];
      if (text) parts.push(caption(text, top + h, left, w, band, ink));
    }),
  );
  if (parts.length > 0) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
    img.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  }
  // Compositing adds an alpha channel; the sheet is opaque RGB.
  return img.removeAlpha().png().toBuffer();
}

/** Renders a contact sheet (see `contactSheetPng`) and writes it as a PNG file, atomically. */
export async function writeContactSheet(
  file: string,
  rows: readonly (readonly tf.Tensor3D[])[],
  opts: ContactSheetOptions,
): Promise<void> {
  await writeFileAtomic(file, await contactSheetPng(rows, opts));
}
