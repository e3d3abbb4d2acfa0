#!/usr/bin/env node
// Milliseconds per inversion step (and per keep-best evaluation) of one engine at several batch
// sizes, with the default inversion settings on a saved model: the fixed and per-image parts of a
// step that bound what cutting a batch into parts on several workers can gain (docs/PERFORMANCE.md).
// Usage: npm run build && node scripts/invert-step-times.mjs [MODEL_DIR] [BATCHES]   (default samples/models/default 8,4,2,1)
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

const [dir = 'samples/models/default', list = '8,4,2,1'] = process.argv.slice(2);
await selectBackend('wasm');
const fm = await loadFaceModel(dir);
const config = resolveInvertConfig({});
const run = createRunContext(fm, config);
const d = fm.meta.embeddingSize;
for (const b of list.split(',').map(Number)) {
  const embeddings = Float32Array.from({ length: b * d }, (_, k) => Math.sin(k));
  const s = createBatchState(run, batchSpec({ embeddings, dim: d }, planBatches(b, 1, b, 1)[0], 0, config));
  for (let i = 0; i < 5; i++) invertStep(run, s, 0.05).dispose(); // warm-up
  let t0 = performance.now();
  for (let i = 0; i < 20; i++) {
    const t = invertStep(run, s, 0.05);
    t.dataSync();
    t.dispose();
  }
  const step = (performance.now() - t0) / 20;
  t0 = performance.now();
  for (let i = 0; i < 5; i++) evaluateBatch(run, s, i);
  console.log(`batch ${b}: step ${step.toFixed(1)} ms, evaluation ${((performance.now() - t0) / 5).toFixed(1)} ms`);
  disposeBatchState(s);
}
disposeRunContext(run);
