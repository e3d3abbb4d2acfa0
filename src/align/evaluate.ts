/**
 * Aligner accuracy against reference landmarks: photos with `<photo>.json` sidecars holding
 * dlib's 5 points (`landmarks5`, photo pixels), as in /work/shared/data/raw-samples. Reports
 * the detection rate and the mean landmark error as a fraction of the reference
 * inter-ocular distance, before and after the landmark-convention calibration; the
 * calibrated error is also given leave-one-out (each face corrected with the offsets
 * measured on the other faces), which is the honest estimate for new photos.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ArcinvertError } from '../errors.js';
import { FACEAPI_TO_DLIB_OFFSETS_112, applyTemplateOffsets, estimateTemplateOffsets } from './calibration.js';
import { fivePointsFrom68, normalizedLandmarkError, type Point } from './geometry.js';
import type { FaceLandmarker } from './landmarker.js';
import { readRaster } from './raster.js';

/** One photo's outcome. */
export interface SidecarResult {
  file: string;
  detected: boolean;
  /** Uncalibrated face-api 5 points and dlib's reference, photo pixels (when detected). */
  found?: Point[];
  reference: Point[];
  /** Error / inter-ocular distance, uncalibrated and with the landmarker's calibration. */
  rawError?: number;
  calibratedError?: number;
}

/** Summary over the photos. */
export interface SidecarSummary {
  photos: number;
  detected: number;
  detectionRate: number;
  /** Detected faces left out of the means and the fit (`KNOWN_BAD_REFERENCES`). */
  excluded: string[];
  /** Means over detected faces (but the excluded) of error / inter-ocular distance. */
  meanRawError: number;
  meanCalibratedError: number;
  meanLeaveOneOutError: number;
  maxCalibratedError: number;
  /** The means over every detected face, the excluded included. */
  all: { meanRawError: number; meanCalibratedError: number };
  /** Offsets measured on all detected faces (what calibration.ts should hold). */
  offsets: Point[];
  results: SidecarResult[];
}

/** Photos in `dir` that have a `<photo>.json` sidecar with `landmarks5`, sorted; at most `limit`. */
export async function listSidecarPhotos(dir: string, limit = Infinity): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => {
    throw new ArcinvertError(`cannot read ${dir}`);
  });
  const set = new Set(names);
  return names
    .filter((n) => set.has(`${n}.json`))
    .sort()
    .slice(0, limit)
    .map((n) => path.join(dir, n));
}

async function readReference(photo: string): Promise<Point[]> {
  const side = JSON.parse(await fsp.readFile(`${photo}.json`, 'utf8')) as { landmarks5?: Point[] };
  if (!Array.isArray(side.landmarks5) || side.landmarks5.length !== 5)
    throw new ArcinvertError(`${photo}.json has no landmarks5`);
  return side.landmarks5;
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

/**
 * Sidecar references known to be wrong, by file name, with the reason. The fit of the
 * calibration table and the summary's error means leave them out (`SidecarSummary.all` keeps
 * the means over every detected face); `scripts/align-compare.mjs` draws them.
 */
export const KNOWN_BAD_REFERENCES: Readonly<Record<string, string>> = {
  // A dark photo of a wide smile: dlib puts both mouth corners on the chin, ~15 px (a third of
  // the eye distance) below the mouth (docs/align-worst.png).
  'cacd_32_Sara_Rue_0010.jpg': "dlib's mouth corners lie on the chin, below the mouth",
};

/** Runs `landmarker` (its calibration is what `calibratedError` measures) on `photos`. */
export async function evaluateOnSidecars(
  landmarker: FaceLandmarker,
  photos: readonly string[],
  onProgress?: (done: number, total: number) => void,
  exclude: Readonly<Record<string, string>> = KNOWN_BAD_REFERENCES,
): Promise<SidecarSummary> {
  const results: SidecarResult[] = [];
  for (const file of photos) {
    const reference = await readReference(file);
    const { boxes, source } = await landmarker.detect(await readRaster(file));
    if (boxes.length === 0) results.push({ file, detected: false, reference });
    else {
      const found = fivePointsFrom68(await landmarker.landmarks(source, boxes[0]));
      results.push({ file, detected: true, found, reference });
    }
    onProgress?.(results.length, photos.length);
  }
  return summarizeSidecars(results, landmarker.config.calibrate, exclude);
}

/**
 * Error means, the calibration table and leave-one-out errors of measured `results`, over the
 * detected faces whose reference is not in `exclude`; `all` has the means over every detected face.
 */
export function summarizeSidecars(
  results: SidecarResult[],
  calibrate: boolean,
  exclude: Readonly<Record<string, string>> = {},
): SidecarSummary {
  const detected = results.filter((r) => r.detected) as Array<SidecarResult & { found: Point[] }>;
  const hits = detected.filter((r) => !(path.basename(r.file) in exclude));
  const offsets =
    hits.length > 0
      ? estimateTemplateOffsets(
          hits.map((r) => r.found),
          hits.map((r) => r.reference),
        )
      : [];
  for (const r of detected) {
    r.rawError = normalizedLandmarkError(r.found, r.reference);
    r.calibratedError = calibrate
      ? normalizedLandmarkError(applyTemplateOffsets(r.found, FACEAPI_TO_DLIB_OFFSETS_112), r.reference)
      : r.rawError;
  }
  const loo: number[] = [];
  hits.forEach((r, i) => {
    if (hits.length > 1) {
      const others = hits.filter((_, j) => j !== i);
      const off = estimateTemplateOffsets(
        others.map((o) => o.found),
        others.map((o) => o.reference),
      );
      loo.push(normalizedLandmarkError(applyTemplateOffsets(r.found, off), r.reference));
    }
  });
  return {
    photos: results.length,
    detected: detected.length,
    detectionRate: detected.length / Math.max(1, results.length),
    excluded: detected.filter((r) => path.basename(r.file) in exclude).map((r) => path.basename(r.file)),
    meanRawError: mean(hits.map((r) => r.rawError!)),
    meanCalibratedError: mean(hits.map((r) => r.calibratedError!)),
    meanLeaveOneOutError: mean(loo),
    maxCalibratedError: Math.max(0, ...hits.map((r) => r.calibratedError!)),
    all: {
      meanRawError: mean(detected.map((r) => r.rawError!)),
      meanCalibratedError: mean(detected.map((r) => r.calibratedError!)),
    },
    offsets,
    results,
  };
}
