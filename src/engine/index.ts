/**
 * The compute engine: which TensorFlow.js backend runs arcinvert, and the kernels the wasm
 * backend needs for training and inversion.
 */
export {
  BACKEND_PREFERENCES,
  parseBackendPreference,
  selectBackend,
  type BackendInfo,
  type BackendPreference,
} from './backend.js';
export { registerWasmGradKernels, WASM_GRAD_KERNEL_NAMES } from './wasmGradKernels.js';
