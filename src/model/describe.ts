/** A summary of a face model, for `arcinvert info` and logs. */
import type { Normalization } from '../io/image.js';
import type { FaceModel } from './types.js';

export interface FaceModelSummary {
  backbone: string;
  parameters: number;
  bnLayers: number;
  inputSize: [number, number];
  embeddingSize: number;
  normalization: Normalization;
}

export function describeFaceModel(fm: FaceModel): FaceModelSummary {
  return {
    backbone: fm.meta.backbone,
    parameters: fm.model.countParams(),
    bnLayers: fm.model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length,
    inputSize: fm.meta.inputSize,
    embeddingSize: fm.meta.embeddingSize,
    normalization: fm.meta.normalization,
  };
}
