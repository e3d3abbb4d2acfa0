/**
 * A distribution-level naturalness figure that needs no detector threshold: the kernel
 * inception distance (KID; Bińkowski et al., *Demystifying MMD GANs*, ICLR 2018) between
 * reconstructions and real faces — the unbiased squared MMD with the cubic polynomial kernel
 * k(x, y) = (xᵀy / d + 1)³ — in the feature space of a network that is neither an attacked
 * model nor a judge.
 *
 * The network is face-api's 68-point landmark net (its shipped weights): the 256-d output of
 * its convolutional feature extractor (four dense blocks on the 112×112 input, 7×7 average
 * pool), the features its landmark regressor reads. It was trained to locate eyes, brows,
 * nose, mouth and jaw on real face photos, so real faces cluster in its feature space by
 * facial structure, and an image without a face's parts lands away from them. It is not a
 * face-recognition network (identity does not enter), it is not dlib's ResNet (the judge),
 * and it ships with face-api, so every installation has it. Unlike FID, KID is unbiased for
 * small samples, which matters with 20 reconstructions; reports give the real-vs-real floor
 * (the target photos against the reference faces) and the noise ceiling beside the value.
 */
import * as tf from '@tensorflow/tfjs';
import type { RasterImage } from '../align/warp.js';
import { rastersToTensor, resizeRaster } from '../align/raster.js';
import { faceapi, loadFaceApiNet } from '../align/faceapi.js';
import { ArcinvertError } from '../errors.js';
import { Mulberry32 } from '../util/random.js';

/**
 * Unbiased squared MMD with k(x, y) = (xᵀy / d + 1)³ between row sets `x` [n, d] and `y` [m, d]
 * (n, m ≥ 2): mean k over distinct pairs within x, plus within y, minus twice the mean over
 * pairs across.
 */
export function kernelInceptionDistance(x: Float32Array, n: number, y: Float32Array, m: number, d: number): number {
  if (n < 2 || m < 2) throw new ArcinvertError(`KID needs at least 2 rows on each side, got ${n} and ${m}`);
  const k = (a: Float32Array, i: number, b: Float32Array, j: number): number => {
    let dot = 0;
    for (let t = 0; t < d; t++) dot += a[i * d + t] * b[j * d + t];
    return (dot / d + 1) ** 3;
  };
  let xx = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) xx += 2 * k(x, i, x, j);
  let yy = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) yy += 2 * k(y, i, y, j);
  let xy = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) xy += k(x, i, y, j);
  return xx / (n * (n - 1)) + yy / (m * (m - 1)) - (2 * xy) / (n * m);
}

/** The feature network of the module comment; `dispose()` it. */
export interface FaceFeatures {
  readonly description: string;
  readonly dim: number;
  /** One row of `dim` features per image (any size; resized to 112×112). */
  features(images: readonly RasterImage[]): Promise<Float32Array>;
  dispose(): void;
}

export const KID_NETWORK =
  "face-api's 68-point landmark net, 256-d output of its feature extractor on the 112×112 image, cubic polynomial kernel";

const INPUT = 112;

export async function loadFaceFeatures(): Promise<FaceFeatures> {
  const net = await loadFaceApiNet('face_landmark_68');
  const dim = 256;
  return {
    description: KID_NETWORK,
    dim,
    async features(images) {
      const out = new Float32Array(images.length * dim);
      for (let start = 0; start < images.length; start += 32) {
        const chunk = images.slice(start, start + 32);
        const rasters = await Promise.all(chunk.map((im) => resizeRaster(im, INPUT, INPUT)));
        const batch = rastersToTensor(rasters);
        const slices = tf.unstack(batch) as tf.Tensor3D[];
        try {
          const input = await faceapi.toNetInput(slices);
          const f = net.faceFeatureExtractor.forwardInput(input) as unknown as tf.Tensor;
          out.set((await f.data()) as Float32Array, start * dim);
          f.dispose();
        } finally {
          tf.dispose([batch, ...slices]);
        }
      }
      return out;
    },
    dispose: () => net.dispose(),
  };
}

/** `n` images of uniform RGB noise, `size`×`size`, from `seed`: the ceiling of a KID report. */
export function noiseImages(n: number, size: number, seed: number): RasterImage[] {
  const rng = new Mulberry32(seed);
  return Array.from({ length: n }, () => {
    const data = new Uint8Array(size * size * 3);
    for (let k = 0; k < data.length; k++) data[k] = Math.floor(rng.next() * 256);
    return { width: size, height: size, channels: 3, data };
  });
}

/** A KID figure with what it is compared against. */
export interface KidReport {
  network: string;
  /** Real faces the others are compared with. */
  reference: number;
  reconstructions: number;
  /** KID of the target photos (real vs real: the floor) and of as many images of uniform noise as reconstructions (the ceiling). */
  realFloor: number;
  noiseCeiling: number;
}

/**
 * KID of `reconstructions`, of the real `targets` and of as many noise images, each against
 * `reference` real faces.
 */
export async function kidReport(
  net: FaceFeatures,
  sets: { reconstructions: readonly RasterImage[]; targets: readonly RasterImage[]; reference: readonly RasterImage[] },
): Promise<KidReport> {
  const d = net.dim;
  const ref = await net.features(sets.reference);
  const m = sets.reference.length;
  const of = async (imgs: readonly RasterImage[]): Promise<number> =>
    kernelInceptionDistance(await net.features(imgs), imgs.length, ref, m, d);
  return {
    network: net.description,
    reference: m,
    reconstructions: await of(sets.reconstructions),
    realFloor: await of(sets.targets),
    noiseCeiling: await of(noiseImages(sets.reconstructions.length, INPUT, 0x6b1d)),
  };
}
