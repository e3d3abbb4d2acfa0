/** Judges: face-recognition systems that score reconstructions (attacked model, independent nets). */
export type { Judge } from './types.js';
export { cropForJudge, judgeCropTransform, validateJudgeCrop, type JudgeCrop } from './crop.js';
export { DLIB_JUDGE_CROP, loadDlibJudge } from './dlib.js';
export { modelJudge, type ModelJudgeOptions } from './model.js';
export { HUMAN_JUDGE_NAMES, JUDGE_LOADERS, JUDGE_NAMES, resolveJudge, type JudgeSpec } from './registry.js';
export { embedFilesWithJudge, judgeLfwAccuracy, type JudgeLfwOptions, type JudgeLfwResult } from './lfw.js';
export {
  FACERES_TEACHER,
  GRAPH_TEACHERS,
  MOBILEFACE_TEACHER,
  loadGraphJudge,
  type GraphJudgeConfig,
} from './graphModel.js';
