/**
 * Image files ↔ tensors, through sharp (libvips).
 *
 * Images become float32 `[H, W, 3]` RGB tensors in the model's input normalisation
 * `(x − mean) / std` (arcinvert's default mean = std = 127.5 maps bytes to [-1, 1], as
 * ArcFace does). Decoding honours EXIF orientation, drops any alpha channel and expands
 * greyscale to RGB. Images of another size are resized with sharp's 'cubic' kernel
 * (Catmull-Rom) and `fit: 'fill'`, i.e. stretched, never cropped: inputs are expected to be
 * aligned 112x112 crops already, and resizing is only a convenience.
 */

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

import { ArcinvertError } from '../errors.js';
import { checkInputFile, fsError, InputFileError, writeFileAtomic } from './atomic.js';

/** Pixel normalisation: model input = (byte − mean) / std. */
export interface Normalization {
  mean: number;
  std: number;
}

/** arcinvert's default: bytes 0..255 ↦ [-1, 1]. */
export const DEFAULT_NORMALIZATION: Readonly<Normalization> = { mean: 127.5, std: 127.5 };

/** The resampling kernel used when an image is not already the requested size. */
export const RESIZE_KERNEL = 'cubic' as const;

/** File extensions (lower case) that `listImages` picks up: raster formats sharp decodes. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
];

/** Options for `readImageTensor` / `readImageBatch`. */
export interface ReadImageOptions {
  /** Output `[height, width]` in pixels. */
  size: [number, number];
  normalization: Normalization;
}

/** How many images `readImageBatch` decodes concurrently (sharp works on libuv's pool). */
const DECODE_CONCURRENCY = 8;

function checkOptions({ size, normalization }: ReadImageOptions): void {
  if (!size.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ArcinvertError(`invalid image size [${size.join(', ')}]: need two positive integers`);
  }
  if (!(normalization.std > 0) || !Number.isFinite(normalization.mean)) {
    throw new ArcinvertError(
      `invalid normalization mean ${normalization.mean}, std ${normalization.std}: std must be > 0`,
    );
  }
}

/**
 * The most pixels an input image may have (width × height, before any downscaling): sharp's own
 * `limitInputPixels` default, 0x3FFF² = 16383 × 16383. Larger images are refused (skipped)
 * from their header, before decoding.
 */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;

const firstLine = (err: unknown): string => ((err as Error).message ?? String(err)).split('\n')[0].trim();

/**
 * Upright `[width, height]` of an image file from its header only, after checking that it is a
 * regular file within `INPUT_LIMITS.image` bytes and `MAX_INPUT_PIXELS` pixels.
 * @throws ArcinvertError naming the file otherwise, or when the header cannot be decoded.
 */
export async function imageFileSize(file: string): Promise<[number, number]> {
  await checkInputFile(file, 'image', 'image').catch((err: unknown) => {
    // A folder where an image was expected: say what an image must be.
    throw err instanceof InputFileError && err.reason === 'it is a directory'
      ? new InputFileError('image', file, 'not a regular file')
      : err;
  });
  let width: number;
  let height: number;
  try {
    const meta = await sharp(file).metadata();
    ({ width, height } = meta.autoOrient);
  } catch (err) {
    throw new ArcinvertError(`cannot decode image ${file}: ${firstLine(err)}`);
  }
  if (width * height > MAX_INPUT_PIXELS) {
    throw new ArcinvertError(
      `cannot decode image ${file}: ${width}×${height} is over the limit of ${MAX_INPUT_PIXELS} pixels (16383×16383)`,
    );
  }
  return [width, height];
}

/** Options of `decodeRgb`. */
export interface DecodeOptions {
  /** Exact output `[h, w]` (stretched when different). */
  size?: [number, number];
  /**
   * Largest output side: a bigger photo is shrunk while it is decoded (aspect kept; JPEG's
   * shrink-on-load, libvips's streaming), so memory follows the output, not the file.
   */
  maxSide?: number;
}

/**
 * Decodes an image file to upright 8-bit RGB (EXIF orientation honoured, alpha dropped, grey
 * expanded), resized to `size` [h, w] when given and different, or shrunk to `maxSide`.
 * @returns the pixels and `scale` = output width / upright file width (1 when not resized).
 * @throws ArcinvertError naming the file when it is missing, not a regular file, too large
 *   (`INPUT_LIMITS.image` bytes, `MAX_INPUT_PIXELS` pixels) or not a decodable image.
 */
export async function decodeRgb(
  file: string,
  sizeOrOptions?: [number, number] | DecodeOptions,
): Promise<{ data: Buffer; width: number; height: number; scale: number }> {
  const { size, maxSide } = Array.isArray(sizeOrOptions)
    ? { size: sizeOrOptions, maxSide: undefined }
    : (sizeOrOptions ?? {});
  const [fileW, fileH] = await imageFileSize(file);
  try {
    const img = sharp(file, { failOn: 'warning', autoOrient: true, limitInputPixels: MAX_INPUT_PIXELS })
      .removeAlpha()
      .toColourspace('srgb');
    let [outW, outH] = [fileW, fileH];
    if (size) [outW, outH] = [size[1], size[0]];
    else if (maxSide !== undefined && Math.max(fileW, fileH) > maxSide) {
      const s = maxSide / Math.max(fileW, fileH);
      [outW, outH] = [Math.max(1, Math.round(fileW * s)), Math.max(1, Math.round(fileH * s))];
    }
    if (outW !== fileW || outH !== fileH) img.resize(outW, outH, { fit: 'fill', kernel: RESIZE_KERNEL });
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== outW || info.height !== outH) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    return { data, width: info.width, height: info.height, scale: outW / fileW };
  } catch (err) {
    throw new ArcinvertError(`cannot decode image ${file}: ${firstLine(err)}`);
  }
}

/** Decodes one file into `out` at `offset` as normalised RGB floats, `h * w * 3` of them. */
async function decodeInto(file: string, opts: ReadImageOptions, out: Float32Array, offset: number): Promise<void> {
  const { data: pixels } = await decodeRgb(file, { size: opts.size });
  const { mean, std } = opts.normalization;
  for (let k = 0; k < pixels.length; k++) out[offset + k] = (pixels[k] - mean) / std;
}

/**
 * Reads an image file as a normalised RGB tensor.
 *
 * @returns float32 `[h, w, 3]`, values `(byte − mean) / std`; the caller disposes it.
 * @throws ArcinvertError naming the file when it is missing, unreadable or not a decodable image.
 */
export async function readImageTensor(file: string, opts: ReadImageOptions): Promise<tf.Tensor3D> {
  checkOptions(opts);
  const [h, w] = opts.size;
  const data = new Float32Array(h * w * 3);
  await decodeInto(file, opts, data, 0);
  return tf.tensor3d(data, [h, w, 3], 'float32');
}

/**
 * Reads several image files into one batch, in the order given.
 *
 * @returns float32 `[paths.length, h, w, 3]`; the caller disposes it.
 */
export async function readImageBatch(paths: readonly string[], opts: ReadImageOptions): Promise<tf.Tensor4D> {
  checkOptions(opts);
  if (paths.length === 0) throw new ArcinvertError('no images to read: the list of image files is empty');
  const [h, w] = opts.size;
  const per = h * w * 3;
  const data = new Float32Array(paths.length * per);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < paths.length && !failed) {
      const k = next++;
      await decodeInto(paths[k], opts, data, k * per).catch((err: unknown) => {
        failed = true; // stop the other workers early
        throw err;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, paths.length) }, worker));
  return tf.tensor4d(data, [paths.length, h, w, 3], 'float32');
}

/**
 * One policy for every command that reads many images (align, embed, invert --image, train,
 * calibrate, eval, leakage): an image that cannot be used (missing, not a regular file, too
 * large, undecodable, too small, no face) is skipped and listed with the reason; the command
 * fails (exit 2) only when no image is left.
 */
export interface ImageSkip {
  source: string;
  /** One line: why the image was not used. */
  reason: string;
}

/**
 * Applies the many-images policy's last rule: returns `usable` when it is not empty, else throws
 * a one-line `ArcinvertError` saying that none of `total` images was usable and why the first
 * one was skipped.
 */
export function requireUsableImages<T>(usable: T[], skipped: readonly ImageSkip[], total: number): T[] {
  if (usable.length > 0) return usable;
  const first = skipped[0];
  const why = first ? `: ${first.reason}${skipped.length > 1 ? ` (and ${skipped.length - 1} more skipped)` : ''}` : '';
  throw new ArcinvertError(`none of the ${total} image(s) could be used${why}`);
}

/**
 * `readImageBatch` under the many-images policy: an image that cannot be read is left out and
 * listed in `skipped` instead of failing the batch. One decode per image in the common case
 * (the batch is re-read file by file only when it fails).
 * @returns the batch of the readable images (undefined when none is) and their paths, in order.
 */
export async function readImageBatchSkipping(
  paths: readonly string[],
  opts: ReadImageOptions,
): Promise<{ images: tf.Tensor4D | undefined; ok: string[]; skipped: ImageSkip[] }> {
  try {
    return { images: await readImageBatch(paths, opts), ok: [...paths], skipped: [] };
  } catch (err) {
    if (!(err instanceof ArcinvertError) || paths.length === 0) throw err;
  }
  const ok: string[] = [];
  const skipped: ImageSkip[] = [];
  for (const source of paths) {
    try {
      await decodeRgb(source, { size: opts.size });
      ok.push(source);
    } catch (err) {
      if (!(err instanceof ArcinvertError)) throw err;
      skipped.push({ source, reason: err.message });
    }
  }
  return { images: ok.length > 0 ? await readImageBatch(ok, opts) : undefined, ok, skipped };
}

/**
 * Converts normalised float values back to bytes: `x * std + mean`, rounded, clipped to
 * [0, 255] (NaN becomes 0).
 */
export function denormalizeToBytes(values: ArrayLike<number>, normalization: Normalization): Uint8Array {
  const { mean, std } = normalization;
  const out = new Uint8Array(values.length);
  for (let k = 0; k < values.length; k++) {
    const v = Math.round(values[k] * std + mean);
    out[k] = v >= 255 ? 255 : v > 0 ? v : 0;
  }
  return out;
}

/**
 * Encodes a normalised image tensor as PNG bytes.
 *
 * @param image `[H, W, 3]` (or `[H, W, 1]` for greyscale) in the given normalisation.
 */
export async function tensorToPng(image: tf.Tensor3D, normalization: Normalization): Promise<Buffer> {
  const [height, width, channels] = image.shape;
  if (image.rank !== 3 || (channels !== 3 && channels !== 1)) {
    throw new ArcinvertError(`cannot encode an image tensor of shape [${image.shape.join(', ')}]: expected [H, W, 3]`);
  }
  const bytes = denormalizeToBytes(await image.data(), normalization);
  return sharp(bytes, { raw: { width, height, channels } }).png().toBuffer();
}

/** Writes a normalised `[H, W, 3]` image tensor as a PNG file, atomically. */
export async function writePng(file: string, image: tf.Tensor3D, normalization: Normalization): Promise<void> {
  await writeFileAtomic(file, await tensorToPng(image, normalization));
}

/** Code-point order, independent of the user's locale. */
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Image files under `dir`, recursively, sorted; hidden entries (".name") are skipped. */
async function walk(dir: string, seen: Set<string>): Promise<string[]> {
  const real = await fsp.realpath(dir);
  if (seen.has(real)) return []; // a symlink loop
  seen.add(real);
  const found: string[] = [];
  const names = (await fsp.readdir(dir)).filter((n) => !n.startsWith('.')).sort(byCodePoint);
  for (const name of names) {
    const full = path.join(dir, name);
    const stat = await fsp.stat(full).catch(() => undefined); // dangling links are ignored
    if (stat?.isDirectory()) found.push(...(await walk(full, seen)));
    else if (stat?.isFile() && IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase())) found.push(full);
  }
  return found;
}

/**
 * Expands a list of files and directories into image files. Files named explicitly are kept
 * as given (in argument order); each directory is searched recursively for files with an
 * `IMAGE_EXTENSIONS` extension, which are added in sorted (code-point) order. Duplicates are
 * dropped.
 *
 * @throws ArcinvertError when an argument does not exist or nothing is found.
 */
export async function listImages(dirOrFiles: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const arg of dirOrFiles) {
    let stat;
    try {
      stat = await fsp.stat(arg);
    } catch (err) {
      throw fsError(err, 'find images in', arg);
    }
    const files = stat.isDirectory() ? await walk(arg, new Set()) : [arg];
    for (const f of files) {
      if (!seen.has(f)) out.push(f);
      seen.add(f);
    }
  }
  if (out.length === 0) {
    throw new ArcinvertError(
      `no image files (${IMAGE_EXTENSIONS.join(' ')}) found in ${dirOrFiles.join(', ') || '(no paths given)'}`,
    );
  }
  return out;
}
