/**
 * The backbone registry (insightface `get_model(name)`): a typed record from name to a
 * factory, and config resolution with defaults and validation.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import { buildIResNet, DEFAULT_IRESNET_CONFIG, IRESNET_LAYERS } from './iresnet.js';
import { validateInputSize } from './layers.js';
import { buildMobileFaceNet, DEFAULT_MOBILEFACENET_CONFIG } from './mobilefacenet.js';
import type { BackboneConfig, BackboneName, IResNetConfig, MobileFaceNetConfig } from './types.js';

interface BackboneEntry<C extends BackboneConfig> {
  defaults: C;
  build: (cfg: C) => tf.LayersModel;
}

/** Every backbone by name, with its default config. */
export const BACKBONES: {
  [K in BackboneName]: BackboneEntry<K extends 'mobilefacenet' ? MobileFaceNetConfig : IResNetConfig>;
} = {
  mobilefacenet: { defaults: DEFAULT_MOBILEFACENET_CONFIG, build: buildMobileFaceNet },
  iresnet18: { defaults: { ...DEFAULT_IRESNET_CONFIG, layers: [...IRESNET_LAYERS.iresnet18] }, build: buildIResNet },
  iresnet34: { defaults: { ...DEFAULT_IRESNET_CONFIG, layers: [...IRESNET_LAYERS.iresnet34] }, build: buildIResNet },
  iresnet50: { defaults: { ...DEFAULT_IRESNET_CONFIG, layers: [...IRESNET_LAYERS.iresnet50] }, build: buildIResNet },
};

/** All backbone names, for CLI choices. */
export const BACKBONE_NAMES = Object.keys(BACKBONES) as BackboneName[];

/** Throws a one-line error unless `name` is a backbone. */
export function parseBackboneName(name: string): BackboneName {
  if (!(BACKBONE_NAMES as string[]).includes(name)) {
    throw new ArcinvertError(`unknown backbone '${name}' (expected one of ${BACKBONE_NAMES.join(', ')})`);
  }
  return name as BackboneName;
}

function isPositiveIntArray(v: unknown, n: number, min: number): boolean {
  return Array.isArray(v) && v.length === n && v.every((x) => Number.isInteger(x) && x >= min);
}

/**
 * Fills a partial config from the backbone's defaults and rejects unknown keys and invalid
 * values with a one-line `ArcinvertError`.
 */
export function resolveBackboneConfig(name: BackboneName, partial: Partial<BackboneConfig> = {}): BackboneConfig {
  const defaults = BACKBONES[name].defaults;
  for (const key of Object.keys(partial)) {
    if (!(key in defaults)) throw new ArcinvertError(`unknown ${name} config key '${key}'`);
  }
  const cfg = { ...defaults, ...partial } as BackboneConfig;
  if (!isPositiveIntArray(cfg.inputSize, 2, 16)) throw new ArcinvertError(`${name}: inputSize must be [height, width]`);
  validateInputSize(cfg.inputSize);
  if (!Number.isInteger(cfg.embeddingSize) || cfg.embeddingSize < 1)
    throw new ArcinvertError(`${name}: embeddingSize must be a positive integer`);
  if (!(cfg.bnEpsilon > 0)) throw new ArcinvertError(`${name}: bnEpsilon must be > 0`);
  if (!(cfg.bnMomentum >= 0 && cfg.bnMomentum < 1)) throw new ArcinvertError(`${name}: bnMomentum must be in [0, 1)`);
  if (!Number.isInteger(cfg.seed)) throw new ArcinvertError(`${name}: seed must be an integer`);
  if ('blocks' in cfg) {
    if (!isPositiveIntArray(cfg.blocks, 4, 0) || cfg.blocks[0] < 1)
      throw new ArcinvertError(`${name}: blocks must be 4 counts, the first ≥ 1`);
    if (!Number.isInteger(cfg.width) || cfg.width < 1)
      throw new ArcinvertError(`${name}: width must be a positive integer`);
    if (!Number.isInteger(cfg.headChannels) || cfg.headChannels < 1)
      throw new ArcinvertError(`${name}: headChannels must be a positive integer`);
  } else {
    if (!isPositiveIntArray(cfg.layers, 4, 1))
      throw new ArcinvertError(`${name}: layers must be 4 positive block counts`);
    if (!isPositiveIntArray(cfg.widths, 4, 1)) throw new ArcinvertError(`${name}: widths must be 4 positive widths`);
    if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new ArcinvertError(`${name}: dropout must be in [0, 1)`);
  }
  return cfg;
}
