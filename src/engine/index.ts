/**
 * The compute engine: which TensorFlow.js backend runs arcinvert, the kernels the wasm
 * backend lacks or runs slowly, gradients without materialised broadcasts, per-channel batch
 * statistics as one op, and plain-op executors of a model (weights as gradient constants for
 * inversion; training mode with lazy per-input gradients and a lighter BatchNorm).
 */
export {
  BACKEND_PREFERENCES,
  parseBackendPreference,
  selectBackend,
  type BackendInfo,
  type BackendPreference,
} from './backend.js';
export { FAST_WASM_KERNEL_NAMES, registerFastWasmKernels } from './fastKernels.js';
export { FrozenGraph, LayerGraph, TrainGraph } from './layerGraph.js';
export { channelStats } from './moments.js';
export { FAST_GRADIENT_NAMES, registerFastGradients } from './gradients.js';
export { registerWasmGradKernels, WASM_GRAD_KERNEL_NAMES } from './wasmGradKernels.js';
export { registerSimdKernels } from './simd/simd.js';
