/**
 * Affine image resampling as `cv2.warpAffine(src, M, (w, h), flags=INTER_LINEAR,
 * borderMode=BORDER_CONSTANT, borderValue=0)`: each output pixel centre (u, v) is mapped back
 * through M⁻¹ into the source, which is sampled bilinearly with pixel centres at integer
 * coordinates; neighbours that fall outside the source count as black. (cv2 rounds the
 * weights to 1/32; this uses exact weights, so results may differ by one grey level.)
 * Pure: raw interleaved pixels in, raw pixels out.
 */
import { ArcinvertError } from '../errors.js';
import { invertAffine, type Affine } from './geometry.js';

/** Interleaved pixels, row-major: `data[(y·width + x)·channels + k]`. */
export interface RasterImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

function checkRaster(img: RasterImage): void {
  const ok = [img.width, img.height, img.channels].every((v) => Number.isInteger(v) && v > 0);
  if (!ok || img.data.length !== img.width * img.height * img.channels) {
    throw new ArcinvertError(
      `invalid image: ${img.width}×${img.height}×${img.channels} with ${img.data.length} values`,
    );
  }
}

/**
 * Warps `src` by `m` (source → output coordinates) into an image of `width` × `height`.
 *
 * @param src [H, W, C] bytes.
 * @param m 2×3 affine mapping source pixels to output pixels (e.g. `similarityFit(points, template)`).
 * @returns [height, width, C] bytes, black where the source does not reach.
 */
export function warpAffine(src: RasterImage, m: Affine, width: number, height: number): RasterImage {
  checkRaster(src);
  if (![width, height].every((v) => Number.isInteger(v) && v > 0)) {
    throw new ArcinvertError(`invalid warp output size ${width}×${height}`);
  }
  const [a, b, tx, c, d, ty] = invertAffine(m);
  const { width: sw, height: sh, channels: ch, data } = src;
  const out = new Uint8Array(width * height * ch);
  const acc = new Float64Array(ch);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const x = a * u + b * v + tx;
      const y = c * u + d * v + ty;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      if (x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh) continue; // all four neighbours outside
      const fx = x - x0;
      const fy = y - y0;
      acc.fill(0);
      for (let j = 0; j < 2; j++) {
        const yy = y0 + j;
        if (yy < 0 || yy >= sh) continue;
        const wy = j === 0 ? 1 - fy : fy;
        for (let i = 0; i < 2; i++) {
          const xx = x0 + i;
          if (xx < 0 || xx >= sw) continue;
          const w = wy * (i === 0 ? 1 - fx : fx);
          const base = (yy * sw + xx) * ch;
          for (let k = 0; k < ch; k++) acc[k] += w * data[base + k];
        }
      }
      const o = (v * width + u) * ch;
      for (let k = 0; k < ch; k++) out[o + k] = Math.min(255, Math.max(0, Math.round(acc[k])));
    }
  }
  return { width, height, channels: ch, data: out };
}
