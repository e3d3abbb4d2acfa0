/**
 * Face-verification metrics (LFW 10-fold accuracy, TAR at FAR, ROC) and the evaluation of a
 * face model on image pairs, shared by the `eval` job, training's checkpoint selection and the
 * judges.
 */
export * from './verification.js';
export * from './pairEval.js';
export * from './paired.js';
