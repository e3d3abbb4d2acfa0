/**
 * Photo → ArcFace-aligned 112×112 crop (insightface `norm_crop`): the largest face's 5
 * points are fitted onto the template by a least-squares similarity (Umeyama) and the photo
 * is warped bilinearly (cv2.warpAffine conventions, black outside).
 *
 * `alignImages` is the library entry of `arcinvert align`; `maybeAlign` + `preparedBatch` let
 * `embed` / `invert --image` take unaligned photos (`--align auto|yes|no`).
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError, ConfigError } from '../errors.js';
import { decodeRgb, readImageBatch, type ReadImageOptions } from '../io/image.js';
import type { AlignConfig } from './config.js';
import { ARCFACE_CROP_SIZE, ARCFACE_TEMPLATE_112, similarityFit, type Affine, type Point } from './geometry.js';
import { FaceLandmarker, type FaceBox } from './landmarker.js';
import { imageSize, readPhotoRaster, resizeRaster } from './raster.js';
import { warpAffine, type RasterImage } from './warp.js';

/** One photo, aligned. */
export interface AlignedFace {
  source: string;
  /** The 112×112 RGB crop. */
  image: RasterImage;
  /** Photo → crop similarity. */
  transform: Affine;
  /** The 5 points in photo pixels (crop = transform(points5) ≈ template). */
  points5: Point[];
  box: FaceBox;
  /** Faces the detector found in the photo (the largest was used). */
  faces: number;
  lowLight: boolean;
}

/** A photo that was not aligned, and why. */
export interface AlignSkip {
  source: string;
  reason: string;
}

export interface AlignReport {
  aligned: AlignedFace[];
  skipped: AlignSkip[];
}

/** Options of `alignImages` / `maybeAlign`. */
export interface AlignOptions {
  /** A loaded landmarker to use (kept open); otherwise one is loaded with `config` and disposed. */
  landmarker?: FaceLandmarker;
  config?: Partial<AlignConfig>;
  /** Called after each photo. */
  onProgress?: (done: number, total: number, source: string) => void;
  /** Image sizes [width, height] taken as aligned already by `maybeAlign`'s auto mode (always includes 112×112). */
  alignedSizes?: ReadonlyArray<readonly [number, number]>;
}

/**
 * Warps `photo` so that `points5` land on the ArcFace template.
 * @returns the 112×112 crop and the photo → crop transform.
 */
export function alignToTemplate(
  photo: RasterImage,
  points5: readonly Point[],
): { image: RasterImage; transform: Affine } {
  const transform = similarityFit(points5, ARCFACE_TEMPLATE_112);
  return { image: warpAffine(photo, transform, ARCFACE_CROP_SIZE, ARCFACE_CROP_SIZE), transform };
}

async function withLandmarker<T>(options: AlignOptions, run: (lm: FaceLandmarker) => Promise<T>): Promise<T> {
  const lm = options.landmarker ?? (await FaceLandmarker.load(options.config));
  try {
    return await run(lm);
  } finally {
    if (!options.landmarker) lm.dispose();
  }
}

/**
 * Photos are decoded shrunk to at most this many pixels on their longer side before detection
 * (the detectors themselves look at 512 or 416 pixels), so that memory stays bounded for any
 * photo. Points, boxes and transforms are still reported in the photo's own pixels.
 */
export const MAX_ALIGN_SIDE = 2048;

/** Photos smaller than this on either side are skipped: no usable face fits in them. */
export const MIN_ALIGN_SIDE = 32;

/** One photo's largest face, aligned; a reason when there is none or the photo is unusable. */
async function alignOne(lm: FaceLandmarker, source: string): Promise<AlignedFace | string> {
  const { image: photo, scale } = await readPhotoRaster(source, MAX_ALIGN_SIDE);
  if (photo.width < MIN_ALIGN_SIDE || photo.height < MIN_ALIGN_SIDE)
    return `too small to align (${photo.width}×${photo.height} px; at least ${MIN_ALIGN_SIDE} px a side)`;
  const { face, faces } = await lm.largestFace(photo);
  if (!face) return 'no face found';
  const { image, transform: t } = alignToTemplate(photo, face.points5);
  // Back to the photo's own pixels: raster = scale · photo.
  const s = scale;
  return {
    source,
    image,
    transform: [t[0] * s, t[1] * s, t[2], t[3] * s, t[4] * s, t[5]],
    points5: face.points5.map(([x, y]) => [x / s, y / s] as const),
    box: { ...face.box, x: face.box.x / s, y: face.box.y / s, width: face.box.width / s, height: face.box.height / s },
    faces,
    lowLight: face.lowLight,
  };
}

/**
 * Detects, landmarks and aligns each photo (largest face). A photo without a face, too small,
 * or one that cannot be read or decoded, is reported in `skipped` with the reason, not thrown
 * (the many-images policy, `ImageSkip` in src/io/image.ts).
 */
export async function alignImages(files: readonly string[], options: AlignOptions = {}): Promise<AlignReport> {
  return withLandmarker(options, async (lm) => {
    const report: AlignReport = { aligned: [], skipped: [] };
    for (let i = 0; i < files.length; i++) {
      const source = files[i];
      try {
        const result = await alignOne(lm, source);
        if (typeof result === 'string') report.skipped.push({ source, reason: result });
        else report.aligned.push(result);
      } catch (err) {
        if (!(err instanceof ArcinvertError)) throw err;
        report.skipped.push({ source, reason: err.message });
      }
      options.onProgress?.(i + 1, files.length, source);
    }
    return report;
  });
}

/** `--align`: `yes` aligns every photo, `no` none, `auto` those not already 112×112. */
export type AlignMode = 'auto' | 'yes' | 'no';
export const ALIGN_MODES: readonly AlignMode[] = ['auto', 'yes', 'no'];

/** A photo ready to embed: its aligned crop, or none when the file is used as it is. */
export interface PreparedImage {
  source: string;
  aligned?: RasterImage;
}

/**
 * Aligns the photos that `mode` asks for, under the many-images policy: photos that cannot be
 * read or decoded, and photos without a face, are left out and listed in `skipped` (in file
 * order); the others keep their order. Photos used as they are get decoded once here, so that a
 * corrupt one is skipped now rather than failing the batch that reads it later.
 */
export async function maybeAlign(
  files: readonly string[],
  mode: AlignMode,
  options: AlignOptions = {},
): Promise<{ images: PreparedImage[]; skipped: AlignSkip[] }> {
  if (!ALIGN_MODES.includes(mode))
    throw new ConfigError(
      ['align'],
      (k) => `${k('align')} must be one of ${ALIGN_MODES.join(', ')}, got '${String(mode)}'`,
    );
  const need: string[] = [];
  const reasons = new Map<string, string>();
  const sizes = [[ARCFACE_CROP_SIZE, ARCFACE_CROP_SIZE], ...(options.alignedSizes ?? [])];
  const isUnaligned = ([w, h]: [number, number]): boolean => !sizes.some(([aw, ah]) => aw === w && ah === h);
  for (const f of files) {
    try {
      if (mode === 'yes') need.push(f);
      else if (mode === 'auto' && isUnaligned(await imageSize(f))) need.push(f);
      else await decodeRgb(f, { maxSide: MAX_ALIGN_SIDE });
    } catch (err) {
      if (!(err instanceof ArcinvertError)) throw err;
      reasons.set(f, err.message);
    }
  }
  const report = need.length > 0 ? await alignImages(need, options) : { aligned: [], skipped: [] };
  for (const s of report.skipped) reasons.set(s.source, s.reason);
  const crops = new Map(report.aligned.map((a) => [a.source, a.image]));
  const images = files.filter((f) => !reasons.has(f)).map((source) => ({ source, aligned: crops.get(source) }));
  const skipped = files.filter((f) => reasons.has(f)).map((source) => ({ source, reason: reasons.get(source)! }));
  return { images, skipped };
}

/**
 * Reads prepared photos into one batch in a model's input format: aligned crops from memory
 * (resized with the cubic kernel when the model's input is not 112×112, as `readImageBatch`),
 * the others from their files.
 * @returns float32 `[N, H, W, 3]`, `(byte − mean) / std`; the caller disposes it.
 */
export async function preparedBatch(images: readonly PreparedImage[], opts: ReadImageOptions): Promise<tf.Tensor4D> {
  if (images.length === 0) throw new ArcinvertError('no images to read: every photo was skipped');
  const [h, w] = opts.size;
  const { mean, std } = opts.normalization;
  const per = h * w * 3;
  const data = new Float32Array(images.length * per);
  const fromFiles = images.filter((im) => !im.aligned);
  if (fromFiles.length > 0) {
    const batch = await readImageBatch(
      fromFiles.map((im) => im.source),
      opts,
    );
    const values = await batch.data();
    batch.dispose();
    let next = 0;
    images.forEach((im, i) => {
      if (im.aligned) return;
      data.set(values.subarray(next * per, (next + 1) * per), i * per);
      next++;
    });
  }
  for (let i = 0; i < images.length; i++) {
    const crop = images[i].aligned;
    if (!crop) continue;
    const sized = await resizeRaster(crop, w, h);
    for (let k = 0; k < per; k++) data[i * per + k] = (sized.data[k] - mean) / std;
  }
  return tf.tensor4d(data, [images.length, h, w, 3], 'float32');
}
