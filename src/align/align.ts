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
import { readImageBatch, type ReadImageOptions } from '../io/image.js';
import type { AlignConfig } from './config.js';
import { ARCFACE_CROP_SIZE, ARCFACE_TEMPLATE_112, similarityFit, type Affine, type Point } from './geometry.js';
import { FaceLandmarker, type FaceBox } from './landmarker.js';
import { imageSize, readRaster, resizeRaster } from './raster.js';
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
 * Detects, landmarks and aligns each photo (largest face). A photo without a face, or one
 * that cannot be decoded, is reported in `skipped`, not thrown.
 */
export async function alignImages(files: readonly string[], options: AlignOptions = {}): Promise<AlignReport> {
  return withLandmarker(options, async (lm) => {
    const report: AlignReport = { aligned: [], skipped: [] };
    for (let i = 0; i < files.length; i++) {
      const source = files[i];
      try {
        const photo = await readRaster(source);
        const { face, faces } = await lm.largestFace(photo);
        if (!face) report.skipped.push({ source, reason: 'no face found' });
        else
          report.aligned.push({
            source,
            ...alignToTemplate(photo, face.points5),
            points5: face.points5,
            box: face.box,
            faces,
            lowLight: face.lowLight,
          });
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
 * Aligns the photos that `mode` asks for. Photos without a face are left out and listed in
 * `skipped`; the others keep their order.
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
  for (const f of files) {
    if (mode === 'yes') need.push(f);
    else if (mode === 'auto') {
      const [w, h] = await imageSize(f);
      const sizes = [[ARCFACE_CROP_SIZE, ARCFACE_CROP_SIZE], ...(options.alignedSizes ?? [])];
      if (!sizes.some(([aw, ah]) => aw === w && ah === h)) need.push(f);
    }
  }
  if (need.length === 0) return { images: files.map((source) => ({ source })), skipped: [] };
  const report = await alignImages(need, options);
  const crops = new Map(report.aligned.map((a) => [a.source, a.image]));
  const dropped = new Set(report.skipped.map((s) => s.source));
  const images = files.filter((f) => !dropped.has(f)).map((source) => ({ source, aligned: crops.get(source) }));
  return { images, skipped: report.skipped };
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
