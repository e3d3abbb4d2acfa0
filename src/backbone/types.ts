/**
 * Types shared by every backbone: names and architecture configs. The face model built from
 * them (a tfjs `LayersModel` plus how to feed it) is `model/types.ts`.
 */

/** Every backbone arcinvert can build. */
export type BackboneName = 'mobilefacenet' | 'iresnet18' | 'iresnet34' | 'iresnet50';

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
