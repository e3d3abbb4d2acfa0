/**
 * The typed configuration of ArcFace training, its defaults and its validation (tfjs-models
 * style: copy, fill defaults, reject unknown keys and bad values with one line).
 *
 * Defaults follow insightface arcface_torch `configs/base.py` (SGD lr 0.1, momentum 0.9,
 * weight decay 5e-4, no warmup, `clip_grad_norm_(backbone, 5)`, horizontal flip) and
 * `train_v2.py` (PolynomialLRWarmup, power 2), with ArcFace s = 64, m = 0.5 and the
 * Sub-center ArcFace default K = 3. The batch is 32 rather than 128 because arcinvert trains
 * on one CPU core.
 */
import type { BackboneConfig, BackboneName } from '../backbone/types.js';
import { parseBackboneName, resolveBackboneConfig } from '../backbone/registry.js';
import { ArcinvertError } from '../errors.js';
import { DEFAULT_MARGIN_CONFIG, resolveMarginConfig, type MarginConfig } from '../arcface/margin.js';
import type { DistillConfig } from './distill.js';
import type { LrScheduleSpec } from './schedule.js';

/** A verification benchmark evaluated (and only reported) at each epoch end. */
export interface EvalPairsConfig {
  /** LFW-format pairs file. */
  pairsFile: string;
  /** Folder of `<Name>/<Name>_NNNN.jpg` images. */
  imagesDir: string;
}

export interface TrainConfig {
  /** Backbone from the registry and overrides of its default config (input size, width, …). */
  backbone: BackboneName;
  backboneConfig: Partial<BackboneConfig>;
  /** Combined margin s·(cos(m1·θ + m2) − m3); ArcFace s = 64, m2 = 0.5. */
  margin: MarginConfig;
  /** Sub-centres per class (Sub-center ArcFace); 1 = plain ArcFace. */
  k: number;
  /** Images per step. */
  batchSize: number;
  /**
   * Split each batch into chunks of this many images whose gradients are summed before the
   * step (0 = the whole batch at once). BatchNorm then sees chunk statistics, as each GPU's
   * BN does in arcface_torch's data-parallel training; memory scales with the chunk.
   */
  microBatch: number;
  /** Passes over the training identities. */
  epochs: number;
  /** SGD: peak learning rate, momentum (PyTorch form, no dampening), L2 weight decay. */
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Linear warmup length in epochs (fractions allowed). */
  warmupEpochs: number;
  /** 'poly': polynomial decay to 0 with `power`; 'step': ×`gamma` at each epoch of `milestones`. */
  schedule: 'poly' | 'step';
  power: number;
  milestones: number[];
  gamma: number;
  /** Clip the global L2 norm of the backbone's gradients to this (0 = off). */
  gradClipNorm: number;
  /** Random horizontal flip of training images. */
  flip: boolean;
  /** Seed of the weights, the identity split, the data order and the flips. */
  seed: number;
  /** Write a checkpoint every this many minutes (and always at the end). */
  checkpointEveryMinutes: number;
  /** Fraction of identities held out for checkpoint selection (0 = no validation). */
  valFraction: number;
  /** Most verification pairs built from the held-out identities (half matched). */
  valPairs: number;
  /** Train on the first N identities in sorted order (0 = all); for quick runs. */
  maxClasses: number;
  /** Reported-only benchmark (e.g. LFW); never used to choose a checkpoint. */
  evalPairs: EvalPairsConfig | null;
  /**
   * Score `evalPairs` every this many epochs, and always after the last (its images take most of
   * an epoch-end's time at 112 px; the held-out pairs are scored every epoch).
   */
  evalPairsEvery: number;
  /** Images per forward pass when evaluating. */
  evalBatchSize: number;
  /** Batches decoded ahead of training. */
  prefetch: number;
  /** Embedding distillation from precomputed teacher embeddings (`distill.ts`); null = off. */
  distill: DistillConfig | null;
  /**
   * A saved model directory whose weights start a new run (`init.ts`: backbone, and the head's
   * class centres when the identities match); null = seeded random weights.
   */
  init: string | null;
}

export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = {
  backbone: 'mobilefacenet',
  backboneConfig: {},
  margin: { ...DEFAULT_MARGIN_CONFIG },
  k: 3,
  batchSize: 32,
  microBatch: 0,
  epochs: 20,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  warmupEpochs: 0,
  schedule: 'poly',
  power: 2,
  milestones: [10, 16, 22],
  gamma: 0.1,
  gradClipNorm: 5,
  flip: true,
  seed: 0,
  checkpointEveryMinutes: 10,
  valFraction: 0.1,
  valPairs: 600,
  maxClasses: 0,
  evalPairs: null,
  evalPairsEvery: 1,
  evalBatchSize: 64,
  prefetch: 2,
  distill: null,
  init: null,
};

/** A config as a user or a JSON file gives it: any subset, nested parts partial too. */
export type TrainConfigInput = Partial<Omit<TrainConfig, 'margin'>> & { margin?: Partial<MarginConfig> };

function fail(message: string): never {
  throw new ArcinvertError(`train config: ${message}`);
}

function checkNumber(cfg: TrainConfig, key: keyof TrainConfig, ok: (v: number) => boolean, what: string): void {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(`${key} must be ${what}, got ${JSON.stringify(v)}`);
}

const int = (v: number): boolean => Number.isInteger(v);

/**
 * Fills defaults and validates. Nested parts are resolved by their own modules (backbone
 * registry, margin), so a bad backbone key or margin is rejected here too.
 * @throws ArcinvertError on an unknown key or an invalid value.
 */
export function resolveTrainConfig(partial: TrainConfigInput = {}): TrainConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_TRAIN_CONFIG)) fail(`unknown key '${key}'`);
  }
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    ...(partial as Partial<TrainConfig>),
    margin: resolveMarginConfig(partial.margin ?? {}),
    backboneConfig: { ...(partial.backboneConfig ?? {}) },
    milestones: [...(partial.milestones ?? DEFAULT_TRAIN_CONFIG.milestones)],
  };
  cfg.backbone = parseBackboneName(String(cfg.backbone));
  resolveBackboneConfig(cfg.backbone, cfg.backboneConfig);
  checkNumber(cfg, 'k', (v) => int(v) && v >= 1, 'a positive integer');
  checkNumber(cfg, 'batchSize', (v) => int(v) && v >= 2, 'an integer ≥ 2 (BatchNorm needs a batch)');
  checkNumber(
    cfg,
    'microBatch',
    (v) => int(v) && (v === 0 || (v >= 2 && v <= cfg.batchSize)),
    '0 (off) or an integer in [2, batchSize]',
  );
  checkNumber(cfg, 'epochs', (v) => int(v) && v >= 1, 'a positive integer');
  checkNumber(cfg, 'lr', (v) => v > 0, '> 0');
  checkNumber(cfg, 'momentum', (v) => v >= 0 && v < 1, 'in [0, 1)');
  checkNumber(cfg, 'weightDecay', (v) => v >= 0, '≥ 0');
  checkNumber(cfg, 'warmupEpochs', (v) => v >= 0 && v <= cfg.epochs, `in [0, epochs]`);
  if (cfg.schedule !== 'poly' && cfg.schedule !== 'step')
    fail(`schedule must be 'poly' or 'step', got ${JSON.stringify(cfg.schedule)}`);
  checkNumber(cfg, 'power', (v) => v > 0, '> 0');
  if (
    !Array.isArray(cfg.milestones) ||
    !cfg.milestones.every((m, i) => Number.isFinite(m) && m > 0 && (i === 0 || m > cfg.milestones[i - 1]))
  ) {
    fail(`milestones must be ascending positive epochs, got ${JSON.stringify(cfg.milestones)}`);
  }
  checkNumber(cfg, 'gamma', (v) => v > 0 && v <= 1, 'in (0, 1]');
  checkNumber(cfg, 'gradClipNorm', (v) => v >= 0, '≥ 0 (0 = off)');
  if (typeof cfg.flip !== 'boolean') fail('flip must be true or false');
  checkNumber(cfg, 'seed', int, 'an integer');
  checkNumber(cfg, 'checkpointEveryMinutes', (v) => v > 0, '> 0');
  checkNumber(cfg, 'valFraction', (v) => v >= 0 && v < 1, 'in [0, 1)');
  checkNumber(cfg, 'valPairs', (v) => int(v) && v >= 2, 'an integer ≥ 2');
  checkNumber(cfg, 'maxClasses', (v) => int(v) && v >= 0, 'a non-negative integer (0 = all)');
  checkNumber(cfg, 'evalPairsEvery', (v) => int(v) && v >= 1, 'a positive integer');
  checkNumber(cfg, 'evalBatchSize', (v) => int(v) && v >= 1, 'a positive integer');
  checkNumber(cfg, 'prefetch', (v) => int(v) && v >= 1, 'a positive integer');
  if (cfg.evalPairs !== null) {
    const e = cfg.evalPairs as unknown as Record<string, unknown>;
    const keys = Object.keys(e).sort().join(',');
    if (keys !== 'imagesDir,pairsFile' || typeof e.pairsFile !== 'string' || typeof e.imagesDir !== 'string') {
      fail('evalPairs must be null or {pairsFile, imagesDir}');
    }
    cfg.evalPairs = { pairsFile: e.pairsFile, imagesDir: e.imagesDir };
  }
  if (cfg.distill !== null) {
    const d = cfg.distill as unknown as Record<string, unknown>;
    if (
      typeof d !== 'object' ||
      Object.keys(d).sort().join(',') !== 'targets,weight' ||
      typeof d.targets !== 'string' ||
      !d.targets.endsWith('.npy')
    ) {
      fail('distill must be null or {targets: "<file>.npy", weight}');
    }
    if (typeof d.weight !== 'number' || !Number.isFinite(d.weight) || d.weight <= 0)
      fail(`distill.weight must be > 0, got ${JSON.stringify(d.weight)}`);
    cfg.distill = { targets: d.targets, weight: d.weight };
  }
  if (cfg.init !== null && (typeof cfg.init !== 'string' || cfg.init === ''))
    fail(`init must be null or a model directory, got ${JSON.stringify(cfg.init)}`);
  return cfg;
}

/** The LR schedule of a run with `stepsPerEpoch` steps per epoch. */
export function scheduleSpec(cfg: TrainConfig, stepsPerEpoch: number): LrScheduleSpec {
  return {
    base: cfg.lr,
    warmupSteps: Math.round(cfg.warmupEpochs * stepsPerEpoch),
    totalSteps: cfg.epochs * stepsPerEpoch,
    kind: cfg.schedule,
    power: cfg.power,
    milestones: cfg.milestones.map((m) => Math.round(m * stepsPerEpoch)),
    gamma: cfg.gamma,
  };
}
