/**
 * A freshly initialised face model: a backbone from the registry (insightface `get_model(name)`)
 * with the metadata that says how to feed it.
 */
import type * as tf from '@tensorflow/tfjs';
import { BACKBONES, resolveBackboneConfig } from '../backbone/registry.js';
import type { BackboneConfig, BackboneName } from '../backbone/types.js';
import { DEFAULT_NORMALIZATION, type Normalization } from '../io/image.js';
import type { FaceModel } from './types.js';

/** Builds a freshly initialised face model with its metadata. */
export function buildBackbone(
  name: BackboneName,
  partial: Partial<BackboneConfig> = {},
  normalization: Normalization = DEFAULT_NORMALIZATION,
): FaceModel {
  const config = resolveBackboneConfig(name, partial);
  const build = BACKBONES[name].build as (c: BackboneConfig) => tf.LayersModel;
  const model = build(config);
  return {
    model,
    meta: {
      format: 1,
      backbone: name,
      config,
      inputSize: config.inputSize,
      embeddingSize: config.embeddingSize,
      normalization,
    },
  };
}
