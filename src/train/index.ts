/** Training: ArcFace / sub-center ArcFace with optional distillation, checkpoints, exact resume, worker threads. */
export {
  train,
  selectIdentities,
  type EpochRecord,
  type StepProgress,
  type StepRecord,
  type TrainHooks,
  type TrainOptions,
  type TrainResult,
} from './loop.js';
export {
  DEFAULT_TRAIN_CONFIG,
  resolveTrainConfig,
  type EvalPairsConfig,
  type TrainConfig,
  type TrainConfigInput,
} from './config.js';
export { loadTrainedModel, type TrainedModel } from './checkpoint.js';
export { DEFAULT_PURIFY_OPTIONS, purifyDataset, type PurifyOptions, type PurifyResult } from './purify.js';
