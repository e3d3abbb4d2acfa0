/**
 * One measurement of `npm run bench`, run in a process of its own so that every row starts
 * from a fresh TensorFlow.js (kernel registry, wasm heap) and a crash (the wasm heap's 4 GiB
 * limit aborts the module) costs one row, not the run:
 *
 *   node dist-bench/benchmarks/measure.js '<MeasureRequest as JSON>'   → one line of MeasureResult JSON
 *
 * `root` points the measurement at another build of arcinvert (the `dist/` of an older
 * commit, for `--baseline`): the steps are then that build's `invert` and `trainStep`, on that
 * build's engine. The steps:
 *   - inversion: the real `invert()` loop (identity loss + BN prior + image priors, Adam),
 *     timed between progress reports after `warmup` steps; with `workers` > 1 the batch of
 *     `batch` targets is split into `workers` batches run at once by `invertParallel`, and a
 *     step lasts as long as its slowest worker;
 *   - training: `trainStep` (train-mode forward, sub-center ArcFace K = 3 over 1,000 classes,
 *     softmax cross-entropy, all gradients, clipping, SGD with momentum); with `workers` > 1
 *     `ParallelTrainer.step` (data-parallel, B / W images per worker, gradients summed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BackendPreference } from '../src/engine/backend.js';

export interface MeasureRequest {
  step: 'inversion' | 'training';
  /** MobileFaceNet width and square input size. */
  width: number;
  size: number;
  /** Images per optimiser step (all workers together). */
  batch: number;
  workers: number;
  /** Timed steps, after `warmup` untimed ones. */
  steps: number;
  warmup?: number;
  backend: BackendPreference;
  /** A compiled `src/` of arcinvert to measure (default: the one built beside this bench, `dist-bench/src/`). */
  root?: string;
}

export interface MeasureResult {
  msPerStep: number;
  msPerImage: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- modules of another build are loaded untyped */
type Module = Record<string, any>;

/** Loads the first of `files` that exists under `root` (a module's path in this layout, then in older ones). */
async function load(root: string, ...files: string[]): Promise<Module> {
  const file = files.find((f) => fs.existsSync(path.join(root, f)));
  if (file === undefined) throw new Error(`none of ${files.join(', ')} in ${root}`);
  return (await import(pathToFileURL(path.join(root, file)).href)) as Module;
}

/** The measurement `request` describes, in this process. */
export async function measure(request: MeasureRequest): Promise<MeasureResult> {
  const root = request.root ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
  const warmup = request.warmup ?? (request.step === 'inversion' ? 2 : 1);
  const tf = await import('@tensorflow/tfjs');
  const { selectBackend } = await load(root, 'engine/backend.js');
  await selectBackend(request.backend);
  const { buildBackbone } = await load(root, 'model/build.js', 'backbone/registry.js');
  const fm = buildBackbone('mobilefacenet', { seed: 1, width: request.width, inputSize: [request.size, request.size] });
  const { batch, workers, steps } = request;
  if (batch % workers !== 0) throw new Error(`batch ${batch} is not a multiple of ${workers} workers`);
  try {
    if (request.step === 'inversion') {
      const { resolveInvertConfig } = await load(root, 'invert/config.js');
      const d = fm.meta.embeddingSize as number;
      const embeddings = tf.tidy(() => tf.randomNormal([batch, d], 0, 1, 'float32', 1).dataSync() as Float32Array);
      const share = batch / workers;
      const config = resolveInvertConfig({
        steps: warmup + steps,
        batchSize: share,
        minBatch: share,
        evalEvery: 10_000,
        reportEvery: 1,
      });
      const stamps = new Map<number, number[]>();
      const stamp = (w: number, step: number): void => {
        const s = stamps.get(w) ?? [];
        s[step] = performance.now();
        stamps.set(w, s);
      };
      if (workers === 1) {
        const loop = await load(root, 'invert/loop.js');
        const serial = loop.invertSerial ?? loop.invert; // `invert` in trees before the step-shaped loop
        await serial(fm, { embeddings, dim: d }, config, { onProgress: (p: { step: number }) => stamp(0, p.step) });
      } else {
        const { invertParallel } = await load(root, 'invert/parallel.js');
        await invertParallel(fm, { embeddings, dim: d }, config, {
          workers,
          backend: request.backend,
          onProgress: (w: number, p: { step: number }) => stamp(w, p.step),
        });
      }
      if (stamps.size !== workers) throw new Error(`${stamps.size} of ${workers} workers reported progress`);
      const ms = Math.max(...[...stamps.values()].map((s) => (s[warmup + steps]! - s[warmup]!) / steps));
      return { msPerStep: ms, msPerImage: ms / batch };
    }
    const { ArcFaceHead } = await load(root, 'arcface/head.js', 'train/head.js');
    const { marginFunction } = await load(root, 'arcface/margin.js', 'train/margin.js');
    const { resolveTrainConfig } = await load(root, 'train/config.js');
    const { trainables, trainStep } = await load(root, 'train/step.js');
    const { sgdInit } = await load(root, 'train/sgd.js');
    const cfg = resolveTrainConfig({ batchSize: batch, k: 3 });
    const head = new ArcFaceHead({ embeddingDim: fm.meta.embeddingSize, numClasses: 1000, k: 3 });
    const margin = marginFunction(cfg.margin);
    const p = trainables(fm, head);
    let buffers = sgdInit(p.vars) as import('@tensorflow/tfjs').Tensor[];
    const x = tf.randomUniform([batch, request.size, request.size, 3], -1, 1, 'float32', 2);
    const labels = tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i * 7) % 1000),
      'int32',
    );
    const parallel =
      workers > 1
        ? await (
            await load(root, 'train/parallel.js')
          ).ParallelTrainer.start(fm, head, p, cfg, { workers, backend: request.backend })
        : null;
    let start = 0;
    try {
      for (let s = 0; s < warmup + steps; s++) {
        if (s === warmup) start = performance.now();
        const out = parallel
          ? await parallel.step(buffers, x, labels, 0.1)
          : trainStep(fm, head, margin, p, buffers, x, labels, cfg, 0.1);
        await out.loss.data();
        tf.dispose([out.loss, out.norm, ...buffers]);
        buffers = out.buffers;
      }
    } finally {
      await parallel?.dispose();
      tf.dispose([x, labels, ...buffers]);
      head.dispose();
    }
    const ms = (performance.now() - start) / steps;
    return { msPerStep: ms, msPerImage: ms / batch };
  } finally {
    fm.model.dispose();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const result = await measure(JSON.parse(process.argv[2] ?? '{}') as MeasureRequest);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
    process.exitCode = 1;
  }
}
