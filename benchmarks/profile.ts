/**
 * Kernel-time profiles of one inversion step and one training step, aggregated by kernel
 * name, for `npm run bench -- --profile`. Diagnostic output, never a test: kernel times on a
 * shared machine are noisy.
 *
 * Every kernel call is timed by `timeKernels` (exclusive times), and the training step's wall
 * time with it, so that what the engine costs outside the kernels is the difference.
 *
 * The inversion profile is of the real `invert()` loop: the profile of a 3-step run minus
 * that of a 1-step run, halved, so set-up and the final evaluation forward cancel out.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../src/model/types.js';
import { resolveInvertConfig } from '../src/invert/config.js';
import { invert } from '../src/invert/invert.js';
import { makeTrainingStep } from './steps.js';
import { timeKernels, type KernelTotals } from '../src/engine/kernelTimes.js';

/** Kernel time and call count of one kernel name. */
export interface KernelCost {
  name: string;
  ms: number;
  calls: number;
}

/** One step's profile: exclusive time per kernel, and the step's wall time where it is measured alone. */
export interface StepProfile {
  kernels: KernelCost[];
  wallMs?: number;
}

type Totals = KernelTotals;

/** Runs `f` with every kernel of the active backend timed (`timeKernels`); the kernels are restored after. */
async function profileTotals(f: () => Promise<void>): Promise<{ totals: Totals; wallMs: number }> {
  const { totals, stop } = timeKernels();
  const t0 = performance.now();
  try {
    await f();
  } finally {
    stop();
  }
  return { totals, wallMs: performance.now() - t0 };
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
export async function profileInversionStep(fm: FaceModel, batch: number): Promise<StepProfile> {
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
  // No wall time: the two runs' difference also holds the loop's own set-up and waits, so the
  // time outside kernels is measured per step by scripts/invert-step-times.mjs --kernels.
  return { kernels: difference(three.totals, one.totals, 2) };
}

/** Per-kernel time of one training step (all weights, sub-center ArcFace, SGD momentum). */
export async function profileTrainingStep(fm: FaceModel, batch: number): Promise<StepProfile> {
  const step = makeTrainingStep(fm, batch);
  try {
    await step.run();
    const { totals, wallMs } = await profileTotals(step.run);
    return { kernels: difference(totals, new Map(), 1), wallMs };
  } finally {
    step.dispose();
  }
}

/** A table of the `top` most expensive kernels, the kernel total and what the step spends outside kernels. */
export function formatProfile(title: string, profile: StepProfile, top = 30): string {
  const { kernels, wallMs } = profile;
  const total = kernels.reduce((a, c) => a + c.ms, 0);
  const calls = kernels.reduce((a, c) => a + c.calls, 0);
  const kernelPart = `${total.toFixed(0)} ms in ${Math.round(calls)} kernel calls`;
  const lines = [
    wallMs === undefined
      ? `${title}: ${kernelPart}`
      : `${title}: ${wallMs.toFixed(0)} ms a step: ${kernelPart}, ${(wallMs - total).toFixed(0)} ms outside them`,
  ];
  for (const c of kernels.slice(0, top)) {
    lines.push(
      `  ${c.name.padEnd(36)} ${c.ms.toFixed(1).padStart(8)} ms  ${String(Math.round(c.calls)).padStart(5)} calls`,
    );
  }
  return lines.join('\n');
}
