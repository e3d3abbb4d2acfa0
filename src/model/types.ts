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
  /** A backbone arcinvert builds, or 'onnx' / 'tfjs' for a model imported by `arcinvert import`. */
  backbone: BackboneName | 'onnx' | 'tfjs';
  /** The backbone's config, or for an import how it was made (`OnnxImportInfo`, `TfjsImportInfo`). */
  config: BackboneConfig | OnnxImportInfo | TfjsImportInfo;
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

/** How a tfjs graph model was imported (`arcinvert import --tfjs`), stored in its metadata. */
export interface TfjsImportInfo {
  source: string;
  /** SHA-256 of model.json followed by its weight shards. */
  sha256: string;
  /** model.json's `generatedBy` / `convertedBy`. */
  producer: string;
  /** The graph output used as the embedding, and every output with its shape. */
  output: string;
  outputs: { name: string; shape: number[]; op: string }[];
  /** Op counts of the whole graph, and of the part the embedding depends on (what was rebuilt). */
  ops: Record<string, number>;
  convertedOps: Record<string, number>;
  /** BatchNorm layers (FusedBatchNorm nodes, with running statistics). */
  batchNorms: number;
  /** Convs with a bias: a BatchNorm folded into the conv (Mul/Add remains folded in too). */
  foldedConvs: number;
  bgr: boolean;
  /** Whether the input scaling was found in the graph (Sub/Mul/Div/Add by scalars on its input). */
  normalizationFromGraph: boolean;
  /** What the graph model itself takes, of 0–255 RGB, and where that was read. */
  graphInput: { mean: number; std: number; from: 'flags' | 'known model' | 'graph' };
  /** The graph L2-normalises its output; the rebuilt model leaves that to arcinvert (same direction). */
  l2NormalizedOutput: boolean;
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
