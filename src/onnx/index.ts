/**
 * Import of insightface ONNX face models (IResNet, MobileFaceNet) as arcinvert models, checked
 * against onnxruntime; export of arcinvert models as ONNX, and inference on onnxruntime.
 */
export {
  DEFAULT_ONNX_IMPORT,
  importOnnx,
  loadOnnxRuntime,
  noiseInputs,
  verifyWithOnnxRuntime,
  type OnnxImportOptions,
  type Verification,
} from './import.js';
export { SUPPORTED_OPS } from './convert.js';
export { readOnnx, SUPPORTED_OPSETS } from './read.js';
export { exportOnnx, EXPORT_OPSET, ONNX_INPUT, ONNX_OUTPUT } from './export.js';
export { EMBED_RUNTIMES, embedderFor, OnnxEmbedder, type EmbedRuntime } from './runtime.js';
