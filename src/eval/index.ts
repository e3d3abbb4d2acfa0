/** Evaluation: embeddings of image files, and face verification (LFW 10-fold accuracy, TAR at FAR). */
export { DEFAULT_EMBED_OPTIONS, embedBatch, embedFiles, embedPrepared, type EmbedOptions } from './embed.js';
export {
  DEFAULT_PAIR_EVAL_OPTIONS,
  evaluatePairs,
  evaluatePathPairs,
  sampleVerificationPairs,
  type PairEvalOptions,
  type PathPair,
  type VerificationReport,
} from './lfw.js';
export {
  parsePairs,
  rocCurve,
  tarAtFar,
  tenFoldAccuracy,
  type FoldAccuracyResult,
  type LfwPair,
  type ParsedPairs,
  type RocPoint,
  type TarAtFarResult,
} from './verification.js';
