/**
 * arcinvert as a library: `import { loadFaceModel, invert, train, evaluate, importOnnx, runLeakage } from 'arcinvert'`.
 * This curated list is the public API (the package's `exports` map points here); the modules
 * under `dist/` are not, and may move. Nothing here loads the CLI or its terminal UI.
 *
 * The rooms, as the CLI's commands use them: face models (load, save, build), the engine's
 * backend choice, inversion, training, evaluation and embedding, ONNX import, BatchNorm
 * statistics calibration, face alignment, the leakage report and its judges, and the file
 * formats (`.npy` embeddings, images).
 */
export { ArcinvertError } from './errors.js';

// Face models: the type, load/save of a model directory, and new backbones.
export {
  buildBackbone,
  describeFaceModel,
  loadCalibration,
  loadFaceModel,
  saveCalibration,
  saveFaceModel,
  embedFiles,
  DEFAULT_EMBED_OPTIONS,
  type EmbedOptions,
  type Embedder,
  type FaceModel,
  type FaceModelMeta,
  type FaceModelSummary,
  type OnnxImportInfo,
  type TfjsImportInfo,
  type StatCalibration,
} from './model/index.js';
export {
  BACKBONE_NAMES,
  DEFAULT_IRESNET_CONFIG,
  DEFAULT_MOBILEFACENET_CONFIG,
  type BackboneConfig,
  type BackboneName,
  type IResNetConfig,
  type MobileFaceNetConfig,
} from './backbone/index.js';

// The engine: which TensorFlow.js backend runs (call once before anything else; `auto` by default).
export { selectBackend, type BackendInfo, type BackendPreference } from './engine/index.js';

// The jobs.
export * from './invert/index.js';
export * from './train/index.js';
export * from './eval/index.js';
export { evaluatePairs as evaluate } from './eval/index.js';
export * from './onnx/index.js';
export * from './tfjs/index.js';
export {
  galleryFromDir,
  galleryForSources,
  readReconstructionDir,
  runLeakage,
  type Gallery,
  type LeakageInputs,
  type LeakageReport,
  type ReconstructionRef,
  type SystemRole,
} from './leakage/index.js';

// Shared pieces the jobs take as inputs.
export { BnTaps, calibrateStatistics } from './bnprior/index.js';
export {
  mcnemarExact,
  pairedAccuracyTest,
  parsePairs,
  readPairsFile,
  rocCurve,
  tarAtFar,
  tenFoldAccuracy,
  sampleVerificationPairs,
  type FoldAccuracyResult,
  type LfwPair,
  type PairedTestResult,
  type ParsedPairs,
  type RocPoint,
  type TarAtFarResult,
} from './metrics/index.js';
export {
  alignImages,
  DEFAULT_ALIGN_CONFIG,
  FaceLandmarker,
  resolveAlignConfig,
  type AlignConfig,
  type AlignOptions,
  type AlignReport,
} from './align/index.js';
export {
  JUDGE_LOADERS,
  JUDGE_NAMES,
  loadDlibJudge,
  modelJudge,
  resolveJudge,
  type Judge,
  type JudgeSpec,
} from './judge/index.js';
export { modelDirLineage, relation, type Lineage, type Relation } from './model/lineage.js';

// Files: embeddings as .npy, images as normalised tensors.
export {
  DEFAULT_NORMALIZATION,
  listImages,
  loadCsvManifest,
  loadImageFolder,
  splitByIdentity,
  type Dataset,
  type LabeledItem,
  readEmbeddings,
  readImageTensor,
  readNpy,
  tensorToPng,
  writeNpy,
  writePng,
  type Embeddings,
  type Normalization,
} from './io/index.js';
