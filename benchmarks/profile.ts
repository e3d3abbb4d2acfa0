/**
 * Kernel-time profiles of one inversion step and one training step (`tf.profile`,
 * aggregated by kernel name), for `npm run bench -- --profile`. Diagnostic output, never a
 * test: kernel times on a shared machine are noisy.
 *
 * The inversion profile is of the real `invert()` loop: the profile of a 3-step run minus
 * that of a 1-step run, halved, so set-up and the final evaluation forward cancel out.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../src/model/types.js';
import { resolveInvertConfig } from '../src/invert/config.js';
import { invert } from '../src/invert/invert.js';
import { makeTrainingStep } from './steps.js';

/** Kernel time and call count of one kernel name. */
export interface KernelCost {
  name: string;
  ms: number;
  calls: number;
}

type Totals = Map<string, { ms: number; calls: number }>;

async function profileTotals(f: () => Promise<void>): Promise<Totals> {
  const info = await tf.profile(async () => {
    await f();
    return [];
  });
  const totals: Totals = new Map();
  for (const k of info.kernels) {
    const t = totals.get(k.name) ?? { ms: 0, calls: 0 };
    t.ms += Number(k.kernelTimeMs);
    t.calls += 1;
    totals.set(k.name, t);
  }
  return totals;
}

/** `(a - b) / divisor` per kernel, most expensive first. */
function difference(a: Totals, b: Totals, divisor: number): KernelCost[] {
  const out: KernelCost[] = [];
  for (const [name, t] of a) {
    const u = b.get(name) ?? { ms: 0, calls: 0 };
    const calls = (t.calls - u.calls) / divisor;
    if (calls > 0) out.push({ name, ms: Math.max(0, t.ms - u.ms) / divisor, calls });
  }
  return out.sort((p, q) => q.ms - p.ms);
}

/** Per-kernel time of one step of the real inversion loop at batch `batch`. */
export async function profileInversionStep(fm: FaceModel, batch: number): Promise<KernelCost[]> {
  const d = fm.meta.embeddingSize;
  const embeddings = tf.tidy(() => tf.randomNormal([batch, d], 0, 1, 'float32', 1).dataSync() as Float32Array);
  const run = (steps: number) => async (): Promise<void> => {
    const config = resolveInvertConfig({
      steps,
      batchSize: batch,
      minBatch: batch,
      evalEvery: 10_000,
      reportEvery: 10_000,
    });
    await invert(fm, { embeddings: Float32Array.from(embeddings), dim: d }, config);
  };
  await run(1)();
  const one = await profileTotals(run(1));
  const three = await profileTotals(run(3));
  return difference(three, one, 2);
}

/** Per-kernel time of one training step (all weights, sub-center ArcFace, SGD momentum). */
export async function profileTrainingStep(fm: FaceModel, batch: number): Promise<KernelCost[]> {
  const step = makeTrainingStep(fm, batch);
  try {
    await step.run();
    const totals = await profileTotals(step.run);
    return difference(totals, new Map(), 1);
  } finally {
    step.dispose();
  }
}

/** A table of the `top` most expensive kernels and the total. */
export function formatProfile(title: string, costs: readonly KernelCost[], top = 30): string {
  const total = costs.reduce((a, c) => a + c.ms, 0);
  const lines = [`${title}: ${total.toFixed(0)} ms kernel time`];
  for (const c of costs.slice(0, top)) {
    lines.push(
      `  ${c.name.padEnd(36)} ${c.ms.toFixed(1).padStart(8)} ms  ${String(Math.round(c.calls)).padStart(5)} calls`,
    );
  }
  return lines.join('\n');
}
