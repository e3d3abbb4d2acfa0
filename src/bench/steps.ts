/**
 * The training step `npm run bench -- --profile` profiles: forward in training mode,
 * sub-center ArcFace head, softmax cross-entropy, gradients of all weights, SGD with momentum
 * (the timed steps are in `measure.ts`).
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../backbone/types.js';
import { ArcFaceHead } from '../train/head.js';
import { marginFunction, resolveMarginConfig, softmaxCrossEntropy } from '../train/margin.js';

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
