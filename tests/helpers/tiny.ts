/** Tiny backbones for tests: the real architectures with few channels and a small input. */
import { buildBackbone, type FaceModel } from '../../src/backbone/index.js';

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
