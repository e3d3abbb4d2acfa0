/** cv2.warpAffine-style bilinear resampling and raster helpers, on hand-computed pixels. */
import { flipRaster } from '../../src/align/raster.js';
import { warpAffine, type RasterImage } from '../../src/align/warp.js';

const row = (values: number[]): RasterImage => ({
  width: values.length,
  height: 1,
  channels: 1,
  data: Uint8Array.from(values),
});

describe('warpAffine', () => {
  const img: RasterImage = {
    width: 3,
    height: 2,
    channels: 3,
    data: Uint8Array.from({ length: 18 }, (_, k) => 10 * k),
  };

  it('is the identity for the identity transform', () => {
    expect(Array.from(warpAffine(img, [1, 0, 0, 0, 1, 0], 3, 2).data)).toEqual(Array.from(img.data));
  });

  it('shifts by whole pixels with black where the source ends', () => {
    // out(u) = src(u − 1)
    expect(Array.from(warpAffine(row([10, 20, 30]), [1, 0, 1, 0, 1, 0], 3, 1).data)).toEqual([0, 10, 20]);
  });

  it('interpolates half-pixel shifts bilinearly, mixing black at the border', () => {
    // out(u) = src(u − 0.5): u=0 → ½·black + ½·0, u=1 → (0+100)/2, u=2 → (100+200)/2
    expect(Array.from(warpAffine(row([0, 100, 200]), [1, 0, 0.5, 0, 1, 0], 3, 1).data)).toEqual([0, 50, 150]);
    // out(u) = src(u + 0.5): the last pixel mixes 200 with black → 100
    expect(Array.from(warpAffine(row([0, 100, 200]), [1, 0, -0.5, 0, 1, 0], 3, 1).data)).toEqual([50, 150, 100]);
  });

  it('upsamples ×2 with pixel centres at integers', () => {
    // out(u) = src(u / 2)
    expect(Array.from(warpAffine(row([0, 100]), [2, 0, 0, 0, 2, 0], 4, 1).data)).toEqual([0, 50, 100, 50]);
  });

  it('rotates a synthetic image by 90° about its centre', () => {
    const sq: RasterImage = { width: 2, height: 2, channels: 1, data: Uint8Array.from([1, 2, 3, 4]) };
    // (x, y) → (1 − y, x): a quarter turn clockwise on screen.
    expect(Array.from(warpAffine(sq, [0, -1, 1, 1, 0, 0], 2, 2).data)).toEqual([3, 1, 4, 2]);
  });

  it('rejects inconsistent rasters and sizes', () => {
    expect(() =>
      warpAffine({ width: 2, height: 2, channels: 1, data: new Uint8Array(3) }, [1, 0, 0, 0, 1, 0], 2, 2),
    ).toThrow(/invalid image/);
    expect(() => warpAffine(row([1]), [1, 0, 0, 0, 1, 0], 0, 1)).toThrow(/output size/);
  });
});

describe('flipRaster', () => {
  it('mirrors each row, keeping channels together', () => {
    const img: RasterImage = { width: 2, height: 1, channels: 3, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(flipRaster(img).data)).toEqual([4, 5, 6, 1, 2, 3]);
  });
});
