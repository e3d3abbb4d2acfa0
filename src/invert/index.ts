/** Model inversion: reconstruct faces from embeddings with the BN-statistics prior. */
export * from './types.js';
export * from './config.js';
export { invert, type InvertHooks, type InvertResult, type InvertSnapshot, type InvertTargets } from './loop.js';
export { planBatches, type Job } from './plan.js';
export { identityLoss, type IdentityLossName } from './identity.js';
export { rowCosine } from '../arcface/normalize.js';
export { totalVariationL1, totalVariationL2, pixelL2 } from './priors.js';
export { augment, drawAugmentation, roll, type Augmentation } from './augment.js';
