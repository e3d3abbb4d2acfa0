/**
 * The two steps arcinvert spends its time in, timed per image:
 *   - inversion step: the real `invert()` loop (input gradient of the identity loss + BN
 *     statistics prior + image priors, Adam) at the model's resolution;
 *   - training step: forward in training mode, sub-center ArcFace head, softmax cross-entropy,
 *     gradients of all weights, SGD with momentum.
 * Each is run for `warmup` untimed steps (kernel set-up, wasm memory growth) then `steps`
 * timed ones. `timeParallelInversionStep` measures the inversion's throughput on several
 * worker threads (`invertParallel`).
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../backbone/types.js';
import { resolveInvertConfig } from '../invert/config.js';
import { invert } from '../invert/loop.js';
import { invertParallel } from '../invert/parallel.js';
import { ArcFaceHead } from '../train/head.js';
import { marginFunction, resolveMarginConfig, softmaxCrossEntropy } from '../train/margin.js';

export interface StepTiming {
  batch: number;
  msPerStep: number;
  msPerImage: number;
}

/** Times inversion steps of the real loop (the first `warmup` steps are not counted). */
export async function timeInversionStep(fm: FaceModel, batch: number, steps: number, warmup = 2): Promise<StepTiming> {
  const d = fm.meta.embeddingSize;
  const targets = { embeddings: tf.tidy(() => tf.randomNormal([batch, d], 0, 1, 'float32', 1).dataSync() as Float32Array), dim: d };
  const config = resolveInvertConfig({ steps: warmup + steps, batchSize: batch, minBatch: batch, evalEvery: 10_000, reportEvery: 1 });
  const stamps: number[] = [];
  await invert(fm, { embeddings: Float32Array.from(targets.embeddings), dim: d }, config, { onProgress: () => stamps.push(performance.now()) });
  const ms = (stamps[stamps.length - 1] - stamps[warmup - 1]) / steps;
  return { batch, msPerStep: ms, msPerImage: ms / batch };
}

/** One training step over all weights, ready to run repeatedly; owns its tensors. */
export interface TrainingStep {
  run(): Promise<void>;
  dispose(): void;
}

/**
 * A training step over all weights of `fm` plus a sub-center ArcFace head (`classes`
 * identities, K = 3), softmax cross-entropy, SGD with momentum, on a fixed random batch.
 */
export function makeTrainingStep(fm: FaceModel, batch: number, classes = 1000): TrainingStep {
  const [h, w] = fm.meta.inputSize;
  const head = new ArcFaceHead({ embeddingDim: fm.meta.embeddingSize, numClasses: classes, k: 3 });
  const margin = marginFunction(resolveMarginConfig('arcface'));
  const opt = tf.train.momentum(0.1, 0.9);
  const x = tf.randomUniform([batch, h, w, 3], -1, 1, 'float32', 2);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 7) % classes), 'int32');
  const vars = [...fm.model.trainableWeights.map((v) => v.read() as tf.Variable), ...head.trainableVariables];
  return {
    async run() {
      const loss = opt.minimize(() => softmaxCrossEntropy(head.logits(fm.model.apply(x, { training: true }) as tf.Tensor2D, labels, margin), labels), true, vars);
      await loss?.data();
      loss?.dispose();
    },
    dispose() {
      tf.dispose([x, labels]);
      opt.dispose();
      head.dispose();
    },
  };
}

/** Times training steps over all weights (the first `warmup` steps are not counted). */
export async function timeTrainingStep(fm: FaceModel, batch: number, steps: number, warmup = 1): Promise<StepTiming> {
  const step = makeTrainingStep(fm, batch);
  let start = 0;
  for (let s = 0; s < warmup + steps; s++) {
    if (s === warmup) start = performance.now();
    await step.run();
  }
  const ms = (performance.now() - start) / steps;
  step.dispose();
  return { batch, msPerStep: ms, msPerImage: ms / batch };
}

/**
 * Throughput of `invertParallel` with `workers` workers, each inverting one batch of `batch`
 * images: per worker, the time from its `warmup`-th to its last step (progress timestamps),
 * combined as images per second over all workers. Excludes worker start-up.
 */
export async function timeParallelInversionStep(fm: FaceModel, batch: number, steps: number, workers: number, warmup = 2): Promise<StepTiming> {
  const d = fm.meta.embeddingSize;
  const n = batch * workers;
  const embeddings = tf.tidy(() => tf.randomNormal([n, d], 0, 1, 'float32', 1).dataSync() as Float32Array);
  const config = resolveInvertConfig({ steps: warmup + steps, batchSize: batch, minBatch: batch, evalEvery: 10_000, reportEvery: 1 });
  const stamps = new Map<number, number[]>();
  await invertParallel(fm, { embeddings: Float32Array.from(embeddings), dim: d }, config, {
    workers,
    onProgress: (w, p) => {
      const s = stamps.get(w) ?? [];
      s[p.step] = performance.now();
      stamps.set(w, s);
    },
  });
  const imagesPerMs = [...stamps.values()].reduce((sum, s) => sum + (batch * steps) / (s[warmup + steps]! - s[warmup]!), 0);
  const msPerImage = 1 / imagesPerMs;
  return { batch, msPerStep: msPerImage * batch, msPerImage };
}
