/**
 * 8-bit RGB rasters for alignment and the judges: decoding a photo (sharp, EXIF orientation
 * honoured, alpha dropped, grey expanded to RGB), mirroring, resizing, contrast equalisation
 * (CLAHE) for the low-light detector retry, and conversion to normalised float tensors.
 */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { ArcinvertError } from '../errors.js';
import { decodeRgb, imageFileSize, type Normalization } from '../io/image.js';
import type { RasterImage } from './warp.js';

/**
 * Decodes an image file into RGB bytes at its own (upright) size.
 * @throws ArcinvertError naming the file when it is missing or not a decodable image.
 */
export async function readRaster(file: string): Promise<RasterImage> {
  const { data, width, height } = await decodeRgb(file);
  return { width, height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * Decodes a photo for face detection, shrunk while decoding so that its longer side is at most
 * `maxSide` (memory stays bounded for any photo: a 12000×12000 PNG is streamed down, never held
 * whole).
 * @returns the raster and `scale` = raster pixels per photo pixel (1 when not shrunk).
 */
export async function readPhotoRaster(file: string, maxSide: number): Promise<{ image: RasterImage; scale: number }> {
  const { data, width, height, scale } = await decodeRgb(file, { maxSide });
  return {
    image: { width, height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
    scale,
  };
}

/** Upright [width, height] of an image file, from its header only (see `imageFileSize`). */
export async function imageSize(file: string): Promise<[number, number]> {
  return imageFileSize(file);
}

/** The image mirrored left-right. */
export function flipRaster(img: RasterImage): RasterImage {
  const { width: w, height: h, channels: c } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + (w - 1 - x)) * c;
      const d = (y * w + x) * c;
      for (let k = 0; k < c; k++) out[d + k] = img.data[s + k];
    }
  }
  return { ...img, data: out };
}

/** Resizes with sharp's cubic kernel, stretching (as `readImageBatch` does); same object when the size already matches. */
export async function resizeRaster(img: RasterImage, width: number, height: number): Promise<RasterImage> {
  if (img.width === width && img.height === height) return img;
  const { data } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width, height, channels: img.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * Contrast-limited adaptive histogram equalisation (sharp `clahe`, 32-px tiles, slope 3; the
 * tiles shrink to the image on one smaller than that, which libvips would refuse).
 */
export async function equalizeRaster(img: RasterImage): Promise<RasterImage> {
  const tile = Math.min(32, img.width, img.height);
  const { data } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 } })
    .clahe({ width: tile, height: tile, maxSlope: 3 })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { ...img, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** PNG bytes of a raster. */
export function rasterToPng(img: RasterImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 } })
    .png()
    .toBuffer();
}

/**
 * Stacks same-sized rasters into a float batch `(byte − mean) / std`.
 * @returns float32 `[N, H, W, C]`; the caller disposes it.
 */
export function rastersToTensor(
  images: readonly RasterImage[],
  normalization: Normalization = { mean: 0, std: 1 },
): tf.Tensor4D {
  if (images.length === 0) throw new ArcinvertError('no images to stack');
  const { width: w, height: h, channels: c } = images[0];
  const per = w * h * c;
  const out = new Float32Array(images.length * per);
  images.forEach((img, i) => {
    if (img.width !== w || img.height !== h || img.channels !== c) {
      throw new ArcinvertError(`cannot stack a ${img.width}×${img.height} image with ${w}×${h} images`);
    }
    for (let k = 0; k < per; k++) out[i * per + k] = (img.data[k] - normalization.mean) / normalization.std;
  });
  return tf.tensor4d(out, [images.length, h, w, c], 'float32');
}
