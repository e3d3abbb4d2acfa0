/**
 * Types shared by every backbone: names, configs, and the metadata stored with a model.
 *
 * A face model in arcinvert is a standard tfjs `LayersModel` (so it saves as `model.json` +
 * weight shards, BatchNorm moving statistics included) plus `FaceModelMeta`, which is stored
 * in the model's user-defined metadata and says how to feed it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { StatCalibration } from '../bnprior/calibrate.js';
import type { OnnxImportInfo } from '../onnx/import.js';

/** Every backbone arcinvert can build. */
export type BackboneName = 'mobilefacenet' | 'iresnet18' | 'iresnet34' | 'iresnet50';

import type { Normalization } from '../io/image.js';

export type { Normalization } from '../io/image.js';
export { DEFAULT_NORMALIZATION } from '../io/image.js';

/** Options common to all backbones. */
export interface CommonBackboneConfig {
  /** Input [height, width]; each a multiple of 16 (four stride-2 stages). */
  inputSize: [number, number];
  /** Embedding dimension D. */
  embeddingSize: number;
  /** BatchNorm epsilon (PyTorch's 1e-5, as insightface). */
  bnEpsilon: number;
  /** BatchNorm moving-average momentum in tfjs convention (0.9 = PyTorch momentum 0.1). */
  bnMomentum: number;
  /** Seed of the weight initialisers, so a model is reproducible. */
  seed: number;
}

/** insightface `MobileFaceNet` (arcface_torch backbones/mobilefacenet.py). */
export interface MobileFaceNetConfig extends CommonBackboneConfig {
  /** Residual bottleneck counts of the four stages (insightface default [1, 4, 6, 2]). */
  blocks: [number, number, number, number];
  /** Base width: insightface's 64 × scale (64 = the paper's MobileFaceNet, 128 = scale 2). */
  width: number;
  /** Channels before the global depthwise conv (512). */
  headChannels: number;
}

/** insightface `IResNet` (arcface_torch backbones/iresnet.py). */
export interface IResNetConfig extends CommonBackboneConfig {
  /** Basic blocks per stage: 18 → [2,2,2,2], 34 → [3,4,6,3], 50 → [3,4,14,3]. */
  layers: [number, number, number, number];
  /** Stage widths (insightface [64, 128, 256, 512]). */
  widths: [number, number, number, number];
  /** Dropout before the FC layer (insightface 0). */
  dropout: number;
}

/** Any backbone's resolved config. */
export type BackboneConfig = MobileFaceNetConfig | IResNetConfig;

/** What arcinvert stores beside the weights so that a saved model is self-describing. */
export interface FaceModelMeta {
  /** Format version of this metadata. */
  format: 1;
  /** A backbone arcinvert builds, or 'onnx' for a model imported by `arcinvert import`. */
  backbone: BackboneName | 'onnx';
  /** The backbone's config, or for 'onnx' how the model was imported (`OnnxImportInfo`). */
  config: BackboneConfig | OnnxImportInfo;
  inputSize: [number, number];
  embeddingSize: number;
  normalization: Normalization;
}

/** A backbone together with how to feed it. */
export interface FaceModel {
  /** Input [B, H, W, 3] normalised pixels → output [B, D] (not L2-normalised). */
  model: tf.LayersModel;
  meta: FaceModelMeta;
  /** Layer-input statistics measured on real faces (`arcinvert calibrate`), when stored with the model. */
  calibration?: StatCalibration;
}
