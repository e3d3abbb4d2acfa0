/**
 * The `eval` job: a face model's verification accuracy on LFW-format pairs (LFW View 2
 * protocol, Huang et al. 2007; metrics as in ArcFace, Deng et al. 2019, Sec. 3). The protocol
 * and the pair scoring live in `src/metrics/`, shared with training.
 */
export {
  DEFAULT_PAIR_EVAL_OPTIONS,
  evaluatePairs,
  evaluatePathPairs,
  type PairEvalOptions,
  type PathPair,
  type VerificationReport,
} from '../metrics/pairEval.js';
