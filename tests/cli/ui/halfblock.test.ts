import { downscaleRgb, halfBlockSize, renderHalfBlocks } from '../../../src/cli/ui/halfblock.js';
import { makeImage } from './progressFixture.js';

const fg = (r: number, g: number, b: number) => `\x1b[38;2;${r};${g};${b}m`;
const bg = (r: number, g: number, b: number) => `\x1b[48;2;${r};${g};${b}m`;
const RESET = '\x1b[0m';

describe('renderHalfBlocks', () => {
  it('draws a 2×2 image as one line of two cells, upper pixel in front, lower behind', () => {
    const colours: Array<[number, number, number]> = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 255],
    ];
    const img = makeImage(2, 2, (x, y) => colours[y * 2 + x]);
    expect(renderHalfBlocks(img, 10, 10)).toEqual([
      `${fg(255, 0, 0)}${bg(0, 0, 255)}▀${fg(0, 255, 0)}${bg(255, 255, 255)}▀${RESET}`,
    ]);
  });

  it('box-averages a 4×4 image down to 2×2 pixels (one line)', () => {
    const img = makeImage(4, 4, (x, y) => [x * 10 + y * 40, 100, 255 - x * 10 - y * 40]);
    // Block means: r = mean(0,10,40,50)=25, mean(20,30,60,70)=45, mean(80,90,120,130)=105, 125.
    expect(renderHalfBlocks(img, 2, 1)).toEqual([
      `${fg(25, 100, 230)}${bg(105, 100, 150)}▀${fg(45, 100, 210)}${bg(125, 100, 130)}▀${RESET}`,
    ]);
  });

  it('keeps the aspect ratio and leaves the background unset on an odd last row', () => {
    const img = makeImage(4, 2, (x) => [x * 10, 0, 0]);
    // 4×2 into 2 cols × 4 px → scale 1/2 → 2×1 pixels.
    expect(halfBlockSize(img, 2, 2)).toEqual([2, 1]);
    expect(renderHalfBlocks(img, 2, 2)).toEqual([`${fg(5, 0, 0)}▀${fg(25, 0, 0)}▀${RESET}`]);
  });

  it('fits a 112×112 face into 24 columns and 12 lines, never enlarging', () => {
    const img = makeImage(112, 112, () => [1, 2, 3]);
    const lines = renderHalfBlocks(img, 24, 12);
    expect(lines).toHaveLength(12);
    for (const line of lines) expect(line.split('▀')).toHaveLength(25);
    expect(halfBlockSize(img, 200, 200)).toEqual([112, 112]);
    expect(halfBlockSize(img, 100, 10)).toEqual([20, 20]);
  });

  it('returns nothing when nothing fits', () => {
    expect(
      renderHalfBlocks(
        makeImage(2, 2, () => [0, 0, 0]),
        0,
        5,
      ),
    ).toEqual([]);
    expect(
      renderHalfBlocks(
        makeImage(2, 2, () => [0, 0, 0]),
        5,
        0,
      ),
    ).toEqual([]);
  });

  it('rejects short pixel data', () => {
    expect(() => renderHalfBlocks({ width: 2, height: 2, data: new Uint8Array(11) }, 4, 4)).toThrow(RangeError);
  });
});

describe('downscaleRgb', () => {
  it('averages and rounds to the nearest byte', () => {
    const img = makeImage(2, 2, (x, y) => [1 + x + 2 * y, 1 + (x + y > 0 ? 1 : 0), 0]);
    // r: mean(1,2,3,4) = 2.5 → 3; g: mean(1,2,2,2) = 1.75 → 2.
    expect(Array.from(downscaleRgb(img, 1, 1).data)).toEqual([3, 2, 0]);
  });

  it('weights partly covered pixels by their covered area (box filter, not nearest)', () => {
    const img = makeImage(3, 1, (x) => [x * 90, 0, 0]);
    // [0, 1.5): (0 + 0.5·90)/1.5 = 30; [1.5, 3): (0.5·90 + 180)/1.5 = 150.
    expect(Array.from(downscaleRgb(img, 2, 1).data)).toEqual([30, 0, 0, 150, 0, 0]);
  });

  it('copies an image resampled to its own size', () => {
    const img = makeImage(3, 2, (x, y) => [x, y, 7]);
    const out = downscaleRgb(img, 3, 2);
    expect(out.data).toEqual(img.data);
    expect(out.data).not.toBe(img.data);
  });

  it('rejects invalid sizes', () => {
    expect(() =>
      downscaleRgb(
        makeImage(2, 2, () => [0, 0, 0]),
        0,
        1,
      ),
    ).toThrow(RangeError);
    expect(() =>
      downscaleRgb(
        makeImage(2, 2, () => [0, 0, 0]),
        1.5,
        1,
      ),
    ).toThrow(RangeError);
  });
});
