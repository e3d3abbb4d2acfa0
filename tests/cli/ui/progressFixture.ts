/** A hand-made progress event and image helpers for the UI tests. */
import type { InvertProgress, RgbImage } from '../../../src/invert/types.js';

export function sampleProgress(over: Partial<InvertProgress> = {}): InvertProgress {
  return {
    batch: 0,
    batches: 2,
    step: 120,
    steps: 400,
    globalStep: 120,
    totalSteps: 800,
    lr: 0.05,
    resolution: [112, 112],
    losses: { total: 0.41234, identity: 0.21, bn: 1.2341, tvL1: 0.01234, tvL2: 0.0005, l2: 0.1234 },
    cosine: { mean: 0.79, min: 0.7, max: 0.85, bestMean: 0.81 },
    stepsPerSecond: 12.34,
    etaSeconds: 185,
    ...over,
  };
}

/** A width×height image whose pixel (x, y) is `f(x, y)`. */
export function makeImage(
  width: number,
  height: number,
  f: (x: number, y: number) => [number, number, number],
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  }
  return { width, height, data };
}

/** The text without SGR colour sequences. */
export function stripSgr(s: string): string {
  // eslint-disable-next-line no-control-regex -- strips ANSI colour codes
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}
