#!/usr/bin/env node
// Measures the aligner on photos with dlib landmark sidecars (default ../shared/data/raw-samples):
// detection rate and mean 5-point error / inter-ocular distance, raw, calibrated and
// leave-one-out calibrated, over the faces whose reference is right (KNOWN_BAD_REFERENCES in
// src/align/evaluate.ts) and over all; prints the offsets table for src/align/calibration.ts.
// Usage: npm run build && node scripts/align-eval.mjs [dir] [--json out.json]
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { FaceLandmarker, evaluateOnSidecars, listSidecarPhotos } from '../dist/align/index.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : undefined;
const dir = args[0] ?? new URL('../../shared/data/raw-samples', import.meta.url).pathname;
await tf.setBackend('wasm');
const lm = await FaceLandmarker.load();
const started = performance.now();
const s = await evaluateOnSidecars(lm, await listSidecarPhotos(dir), (d, n) => process.stderr.write(`\r${d}/${n}`));
const seconds = (performance.now() - started) / 1000;
lm.dispose();
process.stderr.write('\n');
for (const r of s.results)
  console.log(`${r.detected ? (r.calibratedError * 100).toFixed(2).padStart(6) + '%' : '  miss '}  ${r.file}`);
const pct = (x) => `${(x * 100).toFixed(2)}%`;
console.log(
  `detected ${s.detected}/${s.photos} (${pct(s.detectionRate)}); mean error / IOD over ${s.detected - s.excluded.length} faces: raw ${pct(s.meanRawError)}, calibrated ${pct(s.meanCalibratedError)}, leave-one-out ${pct(s.meanLeaveOneOutError)}, max ${pct(s.maxCalibratedError)}; ${(seconds / s.photos).toFixed(2)} s/photo`,
);
if (s.excluded.length > 0)
  console.log(
    `left out (wrong reference, KNOWN_BAD_REFERENCES): ${s.excluded.join(', ')}; over all ${s.detected} detected: raw ${pct(s.all.meanRawError)}, calibrated ${pct(s.all.meanCalibratedError)}`,
  );
console.log(
  `offsets (face-api − dlib, template px): ${JSON.stringify(s.offsets.map((p) => p.map((v) => Number(v.toFixed(3)))))}`,
);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ ...s, seconds }, null, 2));
