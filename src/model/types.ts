/**
 * The face model: a standard tfjs `LayersModel` (so it saves as `model.json` + weight shards,
 * BatchNorm moving statistics included) plus `FaceModelMeta`, which is stored in the model's
 * user-defined metadata and says how to feed it; and the records a model directory keeps
 * beside it (how an ONNX import was made, calibrated layer statistics).
 */
import type * as tf from '@tensorflow/tfjs';
import type { BackboneConfig, BackboneName } from '../backbone/types.js';
import type { Normalization } from '../io/image.js';

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

/** How an imported model was made, stored in its metadata (`FaceModelMeta.config`). */
export interface OnnxImportInfo {
  source: string;
  sha256: string;
  producer: string;
  opset: number;
  structure: 'iresnet' | 'mobilefacenet' | 'other';
  ops: Record<string, number>;
  /** BatchNorm layers that survived the export (with running statistics). */
  batchNorms: number;
  /** Convs with a bias: in insightface exports, a BatchNorm folded into the conv. */
  foldedConvs: number;
  bgr: boolean;
  /** Whether the input normalisation was found in the graph (Sub/Mul/Div on the input) rather than given. */
  normalizationFromGraph: boolean;
}

/** Statistics of one tapped layer's input. */
export interface LayerCalibration {
  /** The layer whose input was measured. */
  name: string;
  channels: number;
  mean: Float32Array;
  /** Population (biased) variance. */
  variance: Float32Array;
}

/** What `calibration.json` holds (measured by `bnprior/calibrate.ts`). */
export interface StatCalibration {
  format: 'arcinvert-calibration';
  version: 1;
  /** Images measured. */
  images: number;
  /** Where they came from (informational). */
  source: string;
  layers: LayerCalibration[];
}
