/**
 * The aligner's typed configuration: face detection (face-api SSD-MobileNet v1, with a
 * Tiny-Face-Detector retry on a contrast-equalised copy), landmark refinement (face-api's
 * 68-point net on rotation-normalised crops, with test-time augmentation) and the
 * calibration to the dlib landmark convention of arcinvert's data. Defaults, then
 * `resolveAlignConfig` rejects unknown keys and bad values with one line.
 * docs/LEAKAGE.md gives the measurements behind the defaults.
 */
import { ArcinvertError } from '../errors.js';

export interface AlignConfig {
  /** SSD-MobileNet v1 score threshold for a face. */
  minConfidence: number;
  /**
   * When SSD finds no face, retry with the Tiny Face Detector on a CLAHE-equalised copy
   * (dark or low-contrast photos); landmarks are then found on that copy too.
   */
  lowLightRetry: boolean;
  /** Score threshold of the Tiny Face Detector retry. */
  retryMinConfidence: number;
  /**
   * Landmark passes after the first one (on the detector's box): each re-crops a square
   * around the previous landmarks, rotated so that the eyes are level.
   */
  refineIterations: number;
  /** Side of a refinement crop / side of the landmarks' bounding box. */
  cropScale: number;
  /** Multipliers of `cropScale` averaged in the last pass (test-time augmentation). */
  ttaScales: number[];
  /** Crop shift in the last pass, as a fraction of the box side: ±shift in x and y plus the centre (0 = centre only). */
  ttaShift: number;
  /** Also run every refinement crop mirrored and average (landmark indices swapped). */
  flip: boolean;
  /** Move the 5 points from face-api's landmark convention to dlib's (see calibration.ts). */
  calibrate: boolean;
}

export const DEFAULT_ALIGN_CONFIG: Readonly<AlignConfig> = {
  minConfidence: 0.5,
  lowLightRetry: true,
  retryMinConfidence: 0.5,
  refineIterations: 2,
  cropScale: 1.2,
  ttaScales: [0.96, 1.04],
  ttaShift: 0.03,
  flip: true,
  calibrate: true,
};

function check(ok: boolean, key: string, what: string, value: unknown): void {
  if (!ok) throw new ArcinvertError(`align config: ${key} must be ${what}, got ${JSON.stringify(value)}`);
}

const inRange = (v: unknown, lo: number, hi: number): boolean =>
  typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;

/** Copies `partial` over the defaults, rejecting unknown keys and invalid values. */
export function resolveAlignConfig(partial: Partial<AlignConfig> = {}): AlignConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_ALIGN_CONFIG)) throw new ArcinvertError(`align config: unknown key '${key}'`);
  }
  const c: AlignConfig = {
    ...DEFAULT_ALIGN_CONFIG,
    ...partial,
    ttaScales: [...(partial.ttaScales ?? DEFAULT_ALIGN_CONFIG.ttaScales)],
  };
  check(inRange(c.minConfidence, 0, 1), 'minConfidence', 'in [0, 1]', c.minConfidence);
  check(inRange(c.retryMinConfidence, 0, 1), 'retryMinConfidence', 'in [0, 1]', c.retryMinConfidence);
  check(
    Number.isInteger(c.refineIterations) && c.refineIterations >= 0 && c.refineIterations <= 10,
    'refineIterations',
    'an integer in [0, 10]',
    c.refineIterations,
  );
  check(inRange(c.cropScale, 0.5, 4), 'cropScale', 'in [0.5, 4]', c.cropScale);
  check(
    c.ttaScales.length >= 1 && c.ttaScales.every((s) => inRange(s, 0.5, 2)),
    'ttaScales',
    'a non-empty list of numbers in [0.5, 2]',
    c.ttaScales,
  );
  check(inRange(c.ttaShift, 0, 0.25), 'ttaShift', 'in [0, 0.25]', c.ttaShift);
  for (const k of ['lowLightRetry', 'flip', 'calibrate'] as const)
    check(typeof c[k] === 'boolean', k, 'a boolean', c[k]);
  return c;
}
