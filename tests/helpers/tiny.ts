/** Tiny backbones for tests: the real architectures with few channels and a small input. */
import * as tf from '@tensorflow/tfjs';
import { buildBackbone } from '../../src/model/build.js';
import type { FaceModel } from '../../src/model/types.js';
import { BnTaps, channelMoments } from '../../src/bnprior/taps.js';

/** MobileFaceNet, width 8, one block per stage, 32×32 input, 16-d (11,216 parameters, 23 BN). */
export function tinyMobileFaceNet(seed = 1): FaceModel {
  return buildBackbone('mobilefacenet', {
    inputSize: [32, 32],
    embeddingSize: 16,
    width: 8,
    blocks: [1, 1, 1, 1],
    headChannels: 32,
    seed,
  });
}

/** IResNet, widths [4, 8, 8, 16], one block per stage, 16×16 input, 8-d (6,924 parameters, 19 BN). */
export function tinyIResNet(seed = 1): FaceModel {
  return buildBackbone('iresnet18', {
    inputSize: [16, 16],
    embeddingSize: 8,
    layers: [1, 1, 1, 1],
    widths: [4, 8, 8, 16],
    seed,
  });
}

/** Number of BatchNormalization layers of a model. */
export function countBn(fm: FaceModel): number {
  return fm.model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
}

/**
 * Sets every BN layer's moving statistics to the batch statistics of its input on `x`,
 * layer by layer (each layer sees inputs normalised by the layers before it), so that a
 * random model behaves like a trained one in inference mode: unit-scale activations, and
 * running statistics that real inputs actually match.
 */
export function calibrateBn(fm: FaceModel, x: tf.Tensor4D): void {
  const taps = new BnTaps(fm.model);
  taps.layers.forEach((layer, i) => {
    const [mean, variance] = tf.tidy(() => {
      const out = taps.apply(x);
      const m = channelMoments(out.bnInputs[i]);
      return [m.mean, m.variance];
    });
    const bn = fm.model.getLayer(layer.name);
    const [gamma, beta] = bn.getWeights();
    bn.setWeights([gamma, beta, mean, variance]);
    tf.dispose([mean, variance]);
  });
}

/** A tiny MobileFaceNet whose BN statistics are calibrated on uniform noise images. */
export function calibratedTinyMobileFaceNet(seed = 1): FaceModel {
  const fm = tinyMobileFaceNet(seed);
  const x = tf.randomUniform([16, 32, 32, 3], -1, 1, 'float32', seed + 100) as tf.Tensor4D;
  calibrateBn(fm, x);
  x.dispose();
  return fm;
}

/**
 * Embeddings of `n` uniform-noise images under `fm`, as inversion targets (`seed` picks the
 * images).
 */
export function noiseTargets(fm: FaceModel, n: number, seed: number): { embeddings: Float32Array; dim: number } {
  const [h, w] = fm.meta.inputSize;
  const e = tf.tidy(() =>
    (fm.model.predict(tf.randomUniform([n, h, w, 3], -1, 1, 'float32', seed)) as tf.Tensor).dataSync(),
  );
  return { embeddings: Float32Array.from(e), dim: fm.meta.embeddingSize };
}
