#!/usr/bin/env node
// Milliseconds per inversion step (and per keep-best evaluation) of one engine at several batch
// sizes, with the default inversion settings on a saved model: the fixed and per-image parts of a
// step that bound what cutting a batch into parts on several workers can gain (docs/PERFORMANCE.md).
// --kernels also times every kernel call (exclusive of the kernels it runs) and prints, per step,
// the kernel calls, their time, the time outside them (the engine's own: dispatch, tracking, the
// tape) and the most expensive kernels.
// Usage: npm run build && node scripts/invert-step-times.mjs [MODEL_DIR] [BATCHES] [--kernels]   (default samples/models/default 8,4,2,1)
import { selectBackend } from '../dist/engine/backend.js';
import { loadFaceModel } from '../dist/model/store.js';
import { resolveInvertConfig } from '../dist/invert/config.js';
import {
  batchSpec,
  createBatchState,
  createRunContext,
  disposeBatchState,
  disposeRunContext,
  evaluateBatch,
  invertStep,
} from '../dist/invert/step.js';
import { planBatches } from '../dist/invert/plan.js';
import { timeKernels } from '../dist/engine/kernelTimes.js';

const args = process.argv.slice(2);
const kernels = args.includes('--kernels');
const [dir = 'samples/models/default', list = '8,4,2,1'] = args.filter((a) => a !== '--kernels');
await selectBackend('wasm');
const totals = kernels ? timeKernels().totals : new Map();
const fm = await loadFaceModel(dir);
const config = resolveInvertConfig({});
const run = createRunContext(fm, config);
const d = fm.meta.embeddingSize;
for (const b of list.split(',').map(Number)) {
  const embeddings = Float32Array.from({ length: b * d }, (_, k) => Math.sin(k));
  const s = createBatchState(run, batchSpec({ embeddings, dim: d }, planBatches(b, 1, b, 1)[0], 0, config));
  for (let i = 0; i < 5; i++) invertStep(run, s, 0.05).dispose(); // warm-up
  totals.clear();
  let t0 = performance.now();
  for (let i = 0; i < 20; i++) {
    const t = invertStep(run, s, 0.05);
    t.dataSync();
    t.dispose();
  }
  const step = (performance.now() - t0) / 20;
  if (kernels) {
    const rows = [...totals].sort((p, q) => q[1].ms - p[1].ms);
    const ms = rows.reduce((a, [, t]) => a + t.ms, 0) / 20;
    const calls = rows.reduce((a, [, t]) => a + t.calls, 0) / 20;
    console.log(
      `batch ${b}: ${calls} kernel calls a step, ${ms.toFixed(1)} ms in them, ${(step - ms).toFixed(1)} ms outside`,
    );
    for (const [name, t] of rows.slice(0, 12))
      console.log(
        `  ${name.padEnd(36)} ${(t.ms / 20).toFixed(1).padStart(7)} ms ${String(t.calls / 20).padStart(6)} calls`,
      );
  }
  t0 = performance.now();
  for (let i = 0; i < 5; i++) evaluateBatch(run, s, i);
  console.log(`batch ${b}: step ${step.toFixed(1)} ms, evaluation ${((performance.now() - t0) / 5).toFixed(1)} ms`);
  disposeBatchState(s);
}
disposeRunContext(run);
