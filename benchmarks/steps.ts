/**
 * The training step `npm run bench -- --profile` profiles: arcinvert's own `trainStep`
 * (TrainGraph forward in training mode, sub-center ArcFace head, softmax cross-entropy,
 * gradients of all weights, clipping, SGD with momentum), as `measure.ts` times it.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../src/model/types.js';
import { resolveTrainConfig } from '../src/train/config.js';
import { ArcFaceHead } from '../src/arcface/head.js';
import { marginFunction } from '../src/arcface/margin.js';
import { sgdInit } from '../src/train/sgd.js';
import { trainables, trainStep } from '../src/train/step.js';

/** One training step over all weights, ready to run repeatedly; owns its tensors. */
export interface TrainingStep {
  run(): Promise<void>;
  dispose(): void;
}

/**
 * A training step over all weights of `fm` plus a sub-center ArcFace head (`classes`
 * identities, K = 3) on a fixed random batch.
 */
export function makeTrainingStep(fm: FaceModel, batch: number, classes = 1000): TrainingStep {
  const [h, w] = fm.meta.inputSize;
  const cfg = resolveTrainConfig({ batchSize: batch, k: 3 });
  const head = new ArcFaceHead({ embeddingDim: fm.meta.embeddingSize, numClasses: classes, k: 3 });
  const margin = marginFunction(cfg.margin);
  const p = trainables(fm, head);
  let buffers = sgdInit(p.vars);
  const x = tf.randomUniform([batch, h, w, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
  const labels = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => (i * 7) % classes),
    'int32',
  );
  return {
    async run() {
      const out = trainStep(fm, head, margin, p, buffers, x, labels, cfg, 0.1);
      await out.loss.data();
      tf.dispose([out.loss, out.norm, ...buffers]);
      buffers = out.buffers;
    },
    dispose() {
      tf.dispose([x, labels, ...buffers]);
      head.dispose();
    },
  };
}
