/**
 * A naturalness proxy for reconstructions: the share in which a face detector that arcinvert
 * neither trains nor inverts (face-api's SSD-MobileNet v1, as used by `align`) finds a face,
 * and its mean confidence. Aligned crops fill the frame, which a detector trained on photos
 * rarely sees, so every image is first centred on a mid-grey canvas `pad` times its side
 * (the same for reconstructions and for the real photos they are compared with).
 *
 * The protocol (`DETECTION_PAD` 4, score ≥ 0.5) was chosen on real faces before any
 * reconstruction was scored with it: it finds a face in 99.3 % of 300 aligned LFW crops and in
 * none of 120 non-faces (uniform noise, 1/f noise, block-shuffled faces); a 2× canvas found
 * 86.5 %, 3× 94 % (`scripts/naturalness-protocol.mjs`, docs/INVERSION.md).
 */
import { resizeRaster } from '../align/raster.js';
import type { RasterImage } from '../align/warp.js';
import type { FaceLandmarker } from '../align/landmarker.js';
import { ARCFACE_CROP_SIZE } from '../align/geometry.js';

export interface NaturalnessResult {
  images: number;
  /** Images with at least one detected face. */
  detected: number;
  share: number;
  /** Mean score of the best face over the images with a face (0 when none). */
  meanConfidence: number;
}

/** Canvas side over crop side for the detector (see the module comment). */
export const DETECTION_PAD = 4;

/** The protocol in one line, for reports. */
export const DETECTION_PROTOCOL = `face-api SSD-MobileNet v1, score ≥ 0.5, on the ${ARCFACE_CROP_SIZE}×${ARCFACE_CROP_SIZE} crop centred on a grey ${ARCFACE_CROP_SIZE * DETECTION_PAD}×${ARCFACE_CROP_SIZE * DETECTION_PAD} canvas`;

/** `img` resized to 112×112 and centred on a grey canvas `pad` × 112 wide. */
export async function padForDetection(img: RasterImage, pad = DETECTION_PAD): Promise<RasterImage> {
  const crop = await resizeRaster(img, ARCFACE_CROP_SIZE, ARCFACE_CROP_SIZE);
  const side = Math.round(ARCFACE_CROP_SIZE * pad);
  const off = Math.floor((side - ARCFACE_CROP_SIZE) / 2);
  const data = new Uint8Array(side * side * 3).fill(128);
  for (let y = 0; y < ARCFACE_CROP_SIZE; y++) {
    const src = y * ARCFACE_CROP_SIZE * 3;
    data.set(crop.data.subarray(src, src + ARCFACE_CROP_SIZE * 3), ((y + off) * side + off) * 3);
  }
  return { width: side, height: side, channels: 3, data };
}

/** Runs the detector on every image (padded as the module comment says). */
export async function detectorNaturalness(
  detector: FaceLandmarker,
  images: readonly RasterImage[],
): Promise<NaturalnessResult> {
  let detected = 0;
  let conf = 0;
  for (const img of images) {
    const { boxes } = await detector.detect(await padForDetection(img));
    if (boxes.length > 0) {
      detected++;
      conf += Math.max(...boxes.map((b) => b.score));
    }
  }
  return {
    images: images.length,
    detected,
    share: images.length ? detected / images.length : 0,
    meanConfidence: detected ? conf / detected : 0,
  };
}
