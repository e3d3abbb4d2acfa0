/**
 * Face detection and 68-point landmarks with face-api's shipped networks (SSD-MobileNet v1
 * detector, Tiny Face Detector for the low-light retry, the 68-point landmark net), then the
 * 5 ArcFace points.
 *
 * The landmark net sees a 112×112 crop. A first pass uses a square on the detector's box;
 * each refinement pass re-crops a square of `cropScale` × the previous landmarks' extent,
 * rotated so the eyes are level (the net is most accurate on upright faces), and averages
 * the crop and its mirror image; the last pass also averages over `ttaScales` × 5 shifts.
 * Crops are made with `warpAffine`, so every landmark maps back to the photo exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import { FACEAPI_TO_DLIB_OFFSETS_112, applyTemplateOffsets } from './calibration.js';
import { resolveAlignConfig, type AlignConfig } from './config.js';
import { faceapi, faceApiModelDir, loadFaceApiNet } from './faceapi.js';
import { applyAffine, fivePointsFrom68, invertAffine, type Affine, type Point } from './geometry.js';
import { equalizeRaster, flipRaster, rastersToTensor } from './raster.js';
import { warpAffine, type RasterImage } from './warp.js';

/** A detector box in photo pixels. */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

/** One face: its box, 68 landmarks and 5 ArcFace points, all in photo pixels (centres at integers). */
export interface DetectedFace {
  box: FaceBox;
  landmarks68: Point[];
  /** Eye centres, nose tip, mouth corners ("left" = image left); calibrated when `config.calibrate`. */
  points5: Point[];
  /** Found only by the low-light retry. */
  lowLight: boolean;
}

/** Side of the landmark net's input. */
const LANDMARK_INPUT = 112;

/** iBUG-68 index of each point's mirror image (jaw, brows, nose, eyes, mouth). */
const MIRROR_68: readonly number[] = [
  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 27, 28, 29, 30, 35,
  34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64,
  63, 62, 61, 60, 67, 66, 65,
];

/** A square crop: centre, side and roll angle (radians) in photo pixels. */
interface Crop {
  cx: number;
  cy: number;
  side: number;
  angle: number;
}

/** Photo → crop transform: the crop centre goes to the crop's central pixel, rotated by −angle. */
function cropTransform({ cx, cy, side, angle }: Crop): Affine {
  const s = LANDMARK_INPUT / side;
  const c = s * Math.cos(angle);
  const n = s * Math.sin(angle);
  const mid = (LANDMARK_INPUT - 1) / 2;
  return [c, n, mid - (c * cx + n * cy), -n, c, mid - (-n * cx + c * cy)];
}

function meanOf(sets: Point[][]): Point[] {
  return sets[0].map((_, i) => [
    sets.reduce((a, s) => a + s[i][0], 0) / sets.length,
    sets.reduce((a, s) => a + s[i][1], 0) / sets.length,
  ]);
}

/** The next crop around `pts`: eyes level, centred on the rotated bounding box. */
function cropAround(pts: readonly Point[], scale: number): Crop {
  const five = fivePointsFrom68(pts);
  const angle = Math.atan2(five[1][1] - five[0][1], five[1][0] - five[0][0]);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const xs = pts.map((p) => c * p[0] + s * p[1]);
  const ys = pts.map((p) => -s * p[0] + c * p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const [rx, ry] = [(x0 + x1) / 2, (y0 + y1) / 2];
  return { cx: c * rx - s * ry, cy: s * rx + c * ry, side: Math.max(x1 - x0, y1 - y0) * scale, angle };
}

/** Detector + landmark networks; owns their weights until `dispose()`. */
export class FaceLandmarker {
  private constructor(
    readonly config: AlignConfig,
    private readonly ssd: faceapi.SsdMobilenetv1,
    private readonly tiny: faceapi.TinyFaceDetector | undefined,
    private readonly landmarkNet: faceapi.FaceLandmark68Net,
  ) {}

  /** Loads the networks from face-api's package (or `modelDir`). */
  static async load(config: Partial<AlignConfig> = {}, modelDir = faceApiModelDir()): Promise<FaceLandmarker> {
    const c = resolveAlignConfig(config);
    const ssd = await loadFaceApiNet('ssd_mobilenetv1', modelDir);
    const tiny = c.lowLightRetry ? await loadFaceApiNet('tiny_face_detector', modelDir) : undefined;
    const lm = await loadFaceApiNet('face_landmark_68', modelDir);
    return new FaceLandmarker(c, ssd, tiny, lm);
  }

  dispose(): void {
    this.ssd.dispose();
    this.tiny?.dispose();
    this.landmarkNet.dispose();
  }

  /** Face boxes in `image`, largest first, and the raster they were found on. */
  async detect(image: RasterImage): Promise<{ boxes: FaceBox[]; source: RasterImage; lowLight: boolean }> {
    let boxes = await this.locate(image, false);
    if (boxes.length > 0 || !this.tiny) return { boxes, source: image, lowLight: false };
    const equalized = await equalizeRaster(image);
    boxes = await this.locate(equalized, true);
    return { boxes, source: equalized, lowLight: true };
  }

  private async locate(image: RasterImage, retry: boolean): Promise<FaceBox[]> {
    if (image.channels !== 3)
      throw new ArcinvertError(`face detection needs an RGB image, got ${image.channels} channels`);
    const input = tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32');
    try {
      const found = retry
        ? await this.tiny!.locateFaces(
            input,
            new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: this.config.retryMinConfidence }),
          )
        : await this.ssd.locateFaces(
            input,
            new faceapi.SsdMobilenetv1Options({ minConfidence: this.config.minConfidence, maxResults: 100 }),
          );
      return found
        .map((d) => ({ x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height, score: d.score }))
        .sort((a, b) => b.width * b.height - a.width * a.height);
    } finally {
      input.dispose();
    }
  }

  /**
   * The largest face of `image` with refined landmarks, or undefined when there is none.
   * @returns the face and how many faces the detector found.
   */
  async largestFace(image: RasterImage): Promise<{ face: DetectedFace | undefined; faces: number }> {
    const { boxes, source, lowLight } = await this.detect(image);
    if (boxes.length === 0) return { face: undefined, faces: 0 };
    const box = boxes[0];
    const landmarks68 = await this.landmarks(source, box);
    const five = fivePointsFrom68(landmarks68);
    const points5 = this.config.calibrate ? applyTemplateOffsets(five, FACEAPI_TO_DLIB_OFFSETS_112) : five;
    return { face: { box, landmarks68, points5, lowLight }, faces: boxes.length };
  }

  /** 68 landmarks of the face in `box`, refined as the module comment says. */
  async landmarks(image: RasterImage, box: FaceBox): Promise<Point[]> {
    const c = this.config;
    const side = Math.max(box.width, box.height);
    let pts = await this.pass(
      image,
      [{ cx: box.x + box.width / 2, cy: box.y + box.height / 2, side, angle: 0 }],
      false,
    );
    for (let it = 1; it <= c.refineIterations; it++) {
      const base = cropAround(pts, c.cropScale);
      const crops: Crop[] = [];
      if (it < c.refineIterations) crops.push(base);
      else {
        const shifts: Point[] =
          c.ttaShift > 0
            ? [
                [0, 0],
                [1, 0],
                [-1, 0],
                [0, 1],
                [0, -1],
              ]
            : [[0, 0]];
        for (const m of c.ttaScales) {
          for (const [dx, dy] of shifts) {
            // Shifts are along the crop's own axes.
            const ox = dx * c.ttaShift * base.side;
            const oy = dy * c.ttaShift * base.side;
            const [co, si] = [Math.cos(base.angle), Math.sin(base.angle)];
            crops.push({
              ...base,
              cx: base.cx + co * ox - si * oy,
              cy: base.cy + si * ox + co * oy,
              side: base.side * m,
            });
          }
        }
      }
      pts = await this.pass(image, crops, c.flip);
    }
    return pts;
  }

  /** Runs the landmark net on `crops` (and their mirrors) in one batch; the mean in photo pixels. */
  private async pass(image: RasterImage, crops: Crop[], flip: boolean): Promise<Point[]> {
    const transforms = crops.map(cropTransform);
    const rasters = transforms.map((m) => warpAffine(image, m, LANDMARK_INPUT, LANDMARK_INPUT));
    if (flip) rasters.push(...rasters.map(flipRaster));
    const batch = rastersToTensor(rasters);
    const slices = tf.unstack(batch) as tf.Tensor3D[];
    let rel: Float32Array;
    try {
      const input = await faceapi.toNetInput(slices);
      const out = this.landmarkNet.forwardInput(input) as unknown as tf.Tensor2D;
      rel = (await out.data()) as Float32Array;
      out.dispose();
    } finally {
      tf.dispose([batch, ...slices]);
    }
    const sets: Point[][] = [];
    const last = LANDMARK_INPUT - 1;
    rasters.forEach((_, r) => {
      const k = r % crops.length;
      const mirrored = r >= crops.length;
      const back = invertAffine(transforms[k]);
      const pts: Point[] = [];
      for (let i = 0; i < 68; i++) {
        const j = mirrored ? MIRROR_68[i] : i;
        const x = rel[r * 136 + 2 * j] * LANDMARK_INPUT;
        const y = rel[r * 136 + 2 * j + 1] * LANDMARK_INPUT;
        pts.push(applyAffine(back, [mirrored ? last - x : x, y]));
      }
      sets.push(pts);
    });
    return meanOf(sets);
  }
}
