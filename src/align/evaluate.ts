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
  /** Means over detected faces of error / inter-ocular distance. */
  meanRawError: number;
  meanCalibratedError: number;
  meanLeaveOneOutError: number;
  maxCalibratedError: number;
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
  return names.filter((n) => set.has(`${n}.json`)).sort().slice(0, limit).map((n) => path.join(dir, n));
}

async function readReference(photo: string): Promise<Point[]> {
  const side = JSON.parse(await fsp.readFile(`${photo}.json`, 'utf8')) as { landmarks5?: Point[] };
  if (!Array.isArray(side.landmarks5) || side.landmarks5.length !== 5) throw new ArcinvertError(`${photo}.json has no landmarks5`);
  return side.landmarks5;
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

/** Runs `landmarker` (its calibration is what `calibratedError` measures) on `photos`. */
export async function evaluateOnSidecars(landmarker: FaceLandmarker, photos: readonly string[], onProgress?: (done: number, total: number) => void): Promise<SidecarSummary> {
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
  const hits = results.filter((r) => r.detected) as Array<SidecarResult & { found: Point[] }>;
  const offsets = hits.length > 0 ? estimateTemplateOffsets(hits.map((r) => r.found), hits.map((r) => r.reference)) : [];
  const { calibrate } = landmarker.config;
  const loo: number[] = [];
  hits.forEach((r, i) => {
    r.rawError = normalizedLandmarkError(r.found, r.reference);
    r.calibratedError = calibrate ? normalizedLandmarkError(applyTemplateOffsets(r.found, FACEAPI_TO_DLIB_OFFSETS_112), r.reference) : r.rawError;
    if (hits.length > 1) {
      const others = hits.filter((_, j) => j !== i);
      const off = estimateTemplateOffsets(others.map((o) => o.found), others.map((o) => o.reference));
      loo.push(normalizedLandmarkError(applyTemplateOffsets(r.found, off), r.reference));
    }
  });
  return {
    photos: results.length,
    detected: hits.length,
    detectionRate: hits.length / Math.max(1, results.length),
    meanRawError: mean(hits.map((r) => r.rawError!)),
    meanCalibratedError: mean(hits.map((r) => r.calibratedError!)),
    meanLeaveOneOutError: mean(loo),
    maxCalibratedError: Math.max(0, ...hits.map((r) => r.calibratedError!)),
    offsets,
    results,
  };
}
