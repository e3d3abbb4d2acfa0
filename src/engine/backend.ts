/**
 * Compute-backend selection.
 *
 * arcinvert runs on the best TensorFlow.js backend it can load: native TensorFlow through
 * `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` (optional dependencies, loaded with
 * a dynamic `import()` so the build needs neither), else WebAssembly (with the backward
 * convolution kernels of `wasmGradKernels.ts`, without which nothing trains there, and the
 * faster kernels of `fastKernels.ts`, `simd/` and, where onnxruntime-node loads, the native
 * matrix products of `nativeGemm.ts`), else plain JavaScript. Whatever the backend, the
 * FusedBatchNorm, Prelu, Mean and Sum gradients are those of `gradients.ts`. The choice is
 * returned as a `BackendInfo`, never stored here; tfjs's own registries and engine are the
 * only state that changes.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { ArcinvertError, ConfigError } from '../errors.js';
import { registerFastWasmKernels } from './fastKernels.js';
import { registerFastGradients } from './gradients.js';
import { registerWasmGradKernels } from './wasmGradKernels.js';
import { registerSimdKernels } from './simd/simd.js';
import { nativeGemmWanted, registerNativeGemm } from './nativeGemm.js';

/** What the user asked for: `auto` picks the fastest that loads. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** Every `BackendPreference`, in the order the CLI lists them. */
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** The backend `selectBackend` settled on. */
export interface BackendInfo {
  /** `tf.getBackend()` after selection: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** The preference it was selected for. */
  preference: BackendPreference;
  /** Short human description, e.g. 'wasm (SIMD, 1 thread, matrix products on onnxruntime)'. */
  device: string;
  /** The backends tried before this one, one short line each saying why each failed. */
  fellBackFrom?: string[];
}

/** One candidate's outcome: the device it gives, or one line saying why it failed. */
type Attempt = { device: string } | { failure: string };

/** Native TensorFlow bindings, most capable first. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** First line of an error, at most `max` characters. */
function oneLine(e: unknown, max = 120): string {
  const text = (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Why `import(pkg)` failed: 'not installed' when the package itself is missing. */
function importFailure(pkg: string, e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  const notFound =
    code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(message);
  // A missing native binding inside an installed package names a path, not the bare package.
  if (notFound && message.includes(`'${pkg}'`)) return `${pkg}: not installed`;
  return `${pkg}: ${oneLine(e)}`;
}

/** `tf.setBackend` that reports failure (unknown name or failed initialisation) as false. */
async function activate(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function tryNative(pkg: string): Promise<Attempt> {
  try {
    const specifier: string = pkg;
    await import(specifier);
  } catch (e) {
    return { failure: importFailure(pkg, e) };
  }
  if (!(await activate('tensorflow')))
    return { failure: `${pkg}: loaded, but backend 'tensorflow' did not initialise` };
  return { device: `tensorflow (${pkg.replace('@tensorflow/', '')})` };
}

async function tryWasm(): Promise<Attempt> {
  registerWasmGradKernels();
  registerFastWasmKernels();
  registerSimdKernels();
  const native = nativeGemmWanted() && registerNativeGemm();
  if (!(await activate('wasm'))) return { failure: 'wasm: the WebAssembly backend did not initialise' };
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = getThreadsCount();
  const gemm = native ? ', matrix products on onnxruntime' : '';
  return { device: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}${gemm})` };
}

async function tryCpu(): Promise<Attempt> {
  if (!(await activate('cpu'))) return { failure: 'cpu: the JavaScript backend did not initialise' };
  return { device: 'cpu (plain JavaScript)' };
}

const nativeChain = NATIVE_PACKAGES.map((pkg) => () => tryNative(pkg));

/** The candidates each preference tries, in order. */
const CANDIDATES: Readonly<Record<BackendPreference, ReadonlyArray<() => Promise<Attempt>>>> = {
  auto: [...nativeChain, tryWasm, tryCpu],
  tensorflow: nativeChain,
  wasm: [tryWasm],
  cpu: [tryCpu],
};

function unavailable(preference: BackendPreference, failures: string[]): ArcinvertError {
  if (preference === 'tensorflow') {
    return new ConfigError(
      ['backend'],
      (k) =>
        `${k('backend')} tensorflow needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (${failures.join('; ')}); ` +
        `install one, or use ${k('backend')} wasm`,
    );
  }
  return new ConfigError(['backend'], (k) => `${k('backend')} ${preference} is unavailable (${failures.join('; ')})`);
}

/**
 * Activates a TensorFlow.js backend. `auto` tries tfjs-node-gpu, tfjs-node, wasm, cpu in that
 * order; `tensorflow` tries only the two native packages; `wasm` and `cpu` select those.
 * Registers the broadcasting gradients of `gradients.ts` (all backends); selecting wasm also
 * registers its missing gradient kernels and the faster kernels of `fastKernels.ts`.
 * Safe to call repeatedly.
 * @throws ArcinvertError when the preference cannot be met (e.g. `tensorflow` with neither
 *   native package installed).
 */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  registerFastGradients();
  const failures: string[] = [];
  for (const attempt of CANDIDATES[preference]) {
    const outcome = await attempt();
    if ('failure' in outcome) {
      failures.push(outcome.failure);
      continue;
    }
    const info: BackendInfo = { name: tf.getBackend(), preference, device: outcome.device };
    if (failures.length > 0) info.fellBackFrom = failures;
    return info;
  }
  throw unavailable(preference, failures);
}

/**
 * Parses a `--backend` value.
 * @throws ArcinvertError naming the valid values.
 */
export function parseBackendPreference(s: string): BackendPreference {
  const value = s.trim().toLowerCase();
  const match = BACKEND_PREFERENCES.find((p) => p === value);
  if (match === undefined) {
    throw new ArcinvertError(`unknown backend '${s}'; expected one of ${BACKEND_PREFERENCES.join(', ')}`);
  }
  return match;
}
