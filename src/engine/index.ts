/**
 * The compute engine: which TensorFlow.js backend runs arcinvert, the kernels the wasm
 * backend lacks or runs slowly, gradients without materialised broadcasts, and a way to run
 * a model with its weights as gradient constants.
 */
export {
  BACKEND_PREFERENCES,
  parseBackendPreference,
  selectBackend,
  type BackendInfo,
  type BackendPreference,
} from './backend.js';
export { FAST_WASM_KERNEL_NAMES, registerFastWasmKernels } from './fastKernels.js';
export { FrozenGraph } from './frozenGraph.js';
export { FAST_GRADIENT_NAMES, registerFastGradients } from './gradients.js';
export { registerWasmGradKernels, WASM_GRAD_KERNEL_NAMES } from './wasmGradKernels.js';
