/**
 * A judge's crop of an ArcFace-aligned 112×112 face: a similarity that sends the point
 * `center` (crop pixels) to the middle of a `size`×`size` input and scales by `scale` (input
 * pixels per crop pixel), resampled like cv2.warpAffine (bilinear, black outside).
 *
 * For dlib's face-recognition ResNet (150×150 chips of `get_face_chip_details(shape, 150,
 * 0.25)`), fitting dlib's mean face shape onto the ArcFace template gives scale ≈ 1.45 and
 * centre ≈ (56.0, 71.8); the chosen default (docs/LEAKAGE.md) was picked on LFW around it.
 */
import { ArcinvertError } from '../errors.js';
import { ARCFACE_CROP_SIZE, type Affine } from '../align/geometry.js';
import { resizeRaster } from '../align/raster.js';
import { warpAffine, type RasterImage } from '../align/warp.js';

export interface JudgeCrop {
  /** Side of the judge's input, pixels. */
  size: number;
  /** Input pixels per aligned-crop pixel. */
  scale: number;
  /** Point of the 112×112 crop that goes to the input's centre, [x, y] in crop pixels. */
  center: [number, number];
}

/** Checks a crop definition. */
export function validateJudgeCrop(c: JudgeCrop): JudgeCrop {
  if (!Number.isInteger(c.size) || c.size < 8)
    throw new ArcinvertError(`judge crop size must be an integer ≥ 8, got ${c.size}`);
  if (!(c.scale > 0 && c.scale < 10)) throw new ArcinvertError(`judge crop scale must be in (0, 10), got ${c.scale}`);
  if (!c.center.every((v) => Number.isFinite(v))) throw new ArcinvertError('judge crop centre must be finite');
  return c;
}

/** Crop (112×112) → judge input transform. */
export function judgeCropTransform({ size, scale, center }: JudgeCrop): Affine {
  const mid = (size - 1) / 2;
  return [scale, 0, mid - scale * center[0], 0, scale, mid - scale * center[1]];
}

/** A 112×112 aligned crop (other sizes are resized to it first) as the judge's input. */
export async function cropForJudge(face: RasterImage, crop: JudgeCrop): Promise<RasterImage> {
  const aligned = await resizeRaster(face, ARCFACE_CROP_SIZE, ARCFACE_CROP_SIZE);
  return warpAffine(aligned, judgeCropTransform(crop), crop.size, crop.size);
}
