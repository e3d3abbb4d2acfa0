/**
 * Times every kernel call of the active backend, for diagnostics (`npm run bench -- --profile`,
 * `scripts/invert-step-times.mjs --kernels`): exclusive times, i.e. a composed kernel's own time
 * without the kernels it runs (tf.profile's are inclusive and count those twice). The wasm
 * backend's kernels are synchronous, so a call's wall time is its kernel time; the time a step
 * spends outside kernels (the engine's dispatch, tracking, tape and garbage) is its wall time
 * minus their sum.
 */
import * as tf from '@tensorflow/tfjs';

/** Exclusive milliseconds and calls per kernel name, accumulated while timing is on. */
export type KernelTotals = Map<string, { ms: number; calls: number }>;

/**
 * Wraps every kernel registered for the active backend so that its calls add to the returned
 * totals, until `stop()` puts the original kernels back.
 */
export function timeKernels(): { totals: KernelTotals; stop: () => void } {
  const backend = tf.getBackend();
  const configs = tf.getKernelsForBackend(backend);
  const totals: KernelTotals = new Map();
  const inner: number[] = [];
  const timed =
    (config: tf.KernelConfig): tf.KernelFunc =>
    (args) => {
      const t0 = performance.now();
      inner.push(0);
      try {
        return config.kernelFunc(args);
      } finally {
        const ms = performance.now() - t0;
        const nested = inner.pop()!;
        if (inner.length > 0) inner[inner.length - 1]! += ms;
        const t = totals.get(config.kernelName) ?? { ms: 0, calls: 0 };
        t.ms += ms - nested;
        t.calls += 1;
        totals.set(config.kernelName, t);
      }
    };
  const swap = (make: (c: tf.KernelConfig) => tf.KernelConfig): void =>
    configs.forEach((c) => {
      tf.unregisterKernel(c.kernelName, backend);
      tf.registerKernel(make(c));
    });
  swap((c) => ({ ...c, kernelFunc: timed(c) }));
  return { totals, stop: () => swap((c) => c) };
}
