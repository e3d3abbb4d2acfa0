/** Model inversion: reconstruct faces from embeddings with the BN-statistics prior. */
export * from './types.js';
export * from './config.js';
export { invert, runsInParallel, type InvertOptions } from './invert.js';
export { invertSerial, type InvertHooks, type SerialInvertOptions } from './loop.js';
export { invertParallel, type ParallelInvertOptions } from './parallel.js';
export { planBatches, type Job } from './plan.js';
export { scheduleAt, lowResolutionSteps, startResolution, type StepSchedule } from './schedule.js';
export { KeepBest } from './keepBest.js';
export { describeDivergence } from './progress.js';
export { identityLoss, type IdentityLossName } from './identity.js';
export { rowCosine } from '../arcface/normalize.js';
export { totalVariationL1, totalVariationL2, pixelL2 } from './priors.js';
export { augment, drawAugmentation, roll, type Augmentation } from './augment.js';
