/**
 * `npm run bench -- --inference`: ms per image of an embedding forward pass (inference mode)
 * for MobileFaceNet, on tfjs (this engine, one thread) and on onnxruntime-node (the same model
 * exported to ONNX, `src/onnx/runtime.ts`) with 1 and N threads — what `embed`, `eval` and the
 * held-out scores of `train` run. Mean of `reps` calls after one warm-up call, one input batch.
 */
import * as tf from '@tensorflow/tfjs';
import { buildBackbone } from '../src/model/build.js';
import { OnnxEmbedder } from '../src/onnx/runtime.js';

export interface InferenceRow {
  size: number;
  batch: number;
  tfjs: number;
  ort: Record<number, number>;
}

async function timeIt(reps: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await f();
  return (performance.now() - t0) / reps;
}

/** One row per (size, batch): ms per image, tfjs and onnxruntime at each thread count. */
export async function timeInference(
  width: number,
  sizes: readonly number[],
  batches: readonly number[],
  threads: readonly number[],
  reps = 3,
): Promise<InferenceRow[]> {
  const rows: InferenceRow[] = [];
  for (const size of sizes) {
    const fm = buildBackbone('mobilefacenet', { seed: 1, width, inputSize: [size, size] });
    for (const batch of batches) {
      const x = tf.randomUniform([batch, size, size, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
      const tfjs = await timeIt(reps, async () => {
        const e = fm.model.predict(x) as tf.Tensor;
        await e.data();
        e.dispose();
      });
      const ort: Record<number, number> = {};
      for (const n of threads) {
        const embedder = await OnnxEmbedder.create(fm, n);
        ort[n] = (await timeIt(reps, () => embedder.forward(x, false))) / batch;
        await embedder.dispose();
      }
      rows.push({ size, batch, tfjs: tfjs / batch, ort });
      x.dispose();
    }
    fm.model.dispose();
  }
  return rows;
}

/** The markdown table of the rows. */
export function inferenceTable(rows: readonly InferenceRow[], threads: readonly number[]): string {
  const head = [
    'input, batch',
    'tfjs (wasm, 1 thread)',
    ...threads.map((n) => `onnxruntime, ${n} thread(s)`),
    'tfjs / onnxruntime (best)',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const best = Math.min(...threads.map((n) => r.ort[n]));
    lines.push(
      `| ${r.size} px, ${r.batch} | ${r.tfjs.toFixed(1)} | ${threads.map((n) => r.ort[n].toFixed(1)).join(' | ')} | ${(r.tfjs / best).toFixed(1)}× |`,
    );
  }
  return lines.join('\n');
}
