/**
 * Draws an RGB image in a terminal with the upper-half-block character '▀' (U+2580): each
 * character cell shows two vertical pixels, the upper one as the 24-bit foreground colour and
 * the lower one as the background. Pure: returns strings, writes nothing.
 */
import type { RgbImage } from '../../invert/types.js';

const UPPER_HALF = '\u2580';
const RESET = '\x1b[0m';

function fg(data: Uint8Array, i: number): string {
  return `\x1b[38;2;${data[i]};${data[i + 1]};${data[i + 2]}m`;
}

function bg(data: Uint8Array, i: number): string {
  return `\x1b[48;2;${data[i]};${data[i + 1]};${data[i + 2]}m`;
}

function checkImage(img: RgbImage): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 0 || img.height < 0) {
    throw new RangeError(`image size must be non-negative integers, got ${img.width}×${img.height}`);
  }
  if (img.data.length < img.width * img.height * 3) {
    throw new RangeError(
      `image data has ${img.data.length} bytes, ${img.width}×${img.height} RGB needs ${img.width * img.height * 3}`,
    );
  }
}

/** Source indices and weights covered by each of `dst` output cells spanning `src` inputs. */
function boxWeights(src: number, dst: number): Array<Array<[number, number]>> {
  const scale = src / dst;
  const out: Array<Array<[number, number]>> = [];
  for (let d = 0; d < dst; d++) {
    const start = d * scale;
    const end = (d + 1) * scale;
    const cells: Array<[number, number]> = [];
    for (let s = Math.floor(start); s < Math.min(src, Math.ceil(end)); s++) {
      const w = Math.min(end, s + 1) - Math.max(start, s);
      if (w > 1e-12) cells.push([s, w]);
    }
    out.push(cells);
  }
  return out;
}

/**
 * Resamples `img` to `width`×`height` with a box filter: each output pixel is the
 * area-weighted mean of the source pixels it covers (fractional edges included), rounded to
 * the nearest byte. Meant for shrinking; enlarging repeats pixels.
 */
export function downscaleRgb(img: RgbImage, width: number, height: number): RgbImage {
  checkImage(img);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`target size must be positive integers, got ${width}×${height}`);
  }
  if (img.width === 0 || img.height === 0) throw new RangeError('cannot resample an empty image');
  if (width === img.width && height === img.height) {
    return { width, height, data: img.data.slice(0, width * height * 3) };
  }
  const xs = boxWeights(img.width, width);
  const ys = boxWeights(img.height, height);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let area = 0;
      for (const [sy, wy] of ys[y]) {
        for (const [sx, wx] of xs[x]) {
          const w = wy * wx;
          const i = (sy * img.width + sx) * 3;
          r += img.data[i] * w;
          g += img.data[i + 1] * w;
          b += img.data[i + 2] * w;
          area += w;
        }
      }
      const o = (y * width + x) * 3;
      data[o] = Math.round(r / area);
      data[o + 1] = Math.round(g / area);
      data[o + 2] = Math.round(b / area);
    }
  }
  return { width, height, data };
}

/**
 * The pixel size `img` is drawn at to fit `maxCols` × `2·maxRows` pixels with its aspect
 * ratio kept; never larger than the image itself. `[0, 0]` when nothing fits.
 */
export function halfBlockSize(
  img: { width: number; height: number },
  maxCols: number,
  maxRows: number,
): [number, number] {
  const maxW = Math.floor(maxCols);
  const maxH = 2 * Math.floor(maxRows);
  if (img.width < 1 || img.height < 1 || maxW < 1 || maxH < 1) return [0, 0];
  const s = Math.min(1, maxW / img.width, maxH / img.height);
  const w = Math.min(maxW, Math.max(1, Math.round(img.width * s)));
  const h = Math.min(maxH, Math.max(1, Math.round(img.height * s)));
  return [w, h];
}

/**
 * The image as terminal lines of '▀' cells in 24-bit colour, at most `maxCols` cells wide and
 * `maxRows` lines high (box-filtered down, aspect kept, never enlarged). Each cell is
 * `ESC[38;2;r;g;bm ESC[48;2;r;g;bm ▀` for its upper and lower pixel; each line ends with
 * `ESC[0m`. With an odd pixel height the last line has no background (the terminal's own).
 */
export function renderHalfBlocks(img: RgbImage, maxCols: number, maxRows: number): string[] {
  checkImage(img);
  const [w, h] = halfBlockSize(img, maxCols, maxRows);
  if (w === 0) return [];
  const small = downscaleRgb(img, w, h);
  const lines: string[] = [];
  for (let y = 0; y < h; y += 2) {
    let line = '';
    for (let x = 0; x < w; x++) {
      const upper = (y * w + x) * 3;
      line += fg(small.data, upper);
      if (y + 1 < h) line += bg(small.data, upper + w * 3);
      line += UPPER_HALF;
    }
    lines.push(line + RESET);
  }
  return lines;
}
