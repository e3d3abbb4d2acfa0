/**
 * The face model and the one owner of a model directory: types, build, load/save of the
 * weights, head, class names, calibration and import record, and embedding images.
 */
export * from './types.js';
export { buildBackbone } from './build.js';
export { describeFaceModel, type FaceModelSummary } from './describe.js';
export * from './directory.js';
export * from './headWeights.js';
export { loadFaceModel, readArtifacts, saveFaceModel } from './store.js';
export { modelArtifacts } from './artifacts.js';
export * from './embed.js';
export { compareEmbeddings, noiseInputs, type Verification } from './verification.js';
