/**
 * Single kernels at MobileFaceNet's shapes (width 32, 112×112, batch 8), for
 * `npm run bench -- --kernels`: how fast the engine runs the operations a step is made of,
 * as GFLOP/s (convolutions, matMul) or GB/s (memory-bound ops), beside the same operations in
 * PyTorch (benchmarks/pytorch_bench.py --kernels). A step's time is the sum of these and of
 * the per-kernel dispatch cost; this is where the gap to PyTorch comes from.
 *
 * Every call gets fresh inputs (an `add(x, 0)` copy, not timed), as in a training or
 * inversion step: no operator or packed-weight cache of the backend is reused.
 */
import * as tf from '@tensorflow/tfjs';

/** One measured kernel. */
export interface KernelTiming {
  name: string;
  /** Shapes, as the table shows them. */
  shape: string;
  ms: number;
  /** GFLOP/s, or GB/s for a memory-bound kernel (`unit`). */
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
}

interface KernelCase {
  name: string;
  shape: string;
  inputs: number[][];
  /** Floating-point operations, or bytes moved for a memory-bound case. */
  work: number;
  unit: KernelTiming['unit'];
  run: (xs: tf.Tensor[]) => tf.Tensor;
}

const MiB4 = 4; // bytes per float32

/** The cases, the same list as the PyTorch script's (names and shapes must match). */
export function kernelCases(): KernelCase[] {
  const n = 8;
  return [
    {
      name: 'pointwise conv 1×1, 128 → 64',
      shape: '[8, 28, 28, 128]',
      inputs: [
        [n, 28, 28, 128],
        [1, 1, 128, 64],
      ],
      work: 2 * n * 28 * 28 * 128 * 64,
      unit: 'GFLOP/s',
      run: ([x, w]) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
    },
    {
      name: 'pointwise conv 1×1, 32 → 64',
      shape: '[8, 56, 56, 32]',
      inputs: [
        [n, 56, 56, 32],
        [1, 1, 32, 64],
      ],
      work: 2 * n * 56 * 56 * 32 * 64,
      unit: 'GFLOP/s',
      run: ([x, w]) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
    },
    {
      name: 'depthwise conv 3×3, 64 channels',
      shape: '[8, 56, 56, 64]',
      inputs: [
        [n, 56, 56, 64],
        [3, 3, 64, 1],
      ],
      work: 2 * 9 * n * 56 * 56 * 64,
      unit: 'GFLOP/s',
      run: ([x, w]) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
    },
    {
      name: 'matMul (weight gradient of a 1×1 conv)',
      shape: '[64, 25088] × [25088, 32]',
      inputs: [
        [64, 25088],
        [25088, 32],
      ],
      work: 2 * 64 * 25088 * 32,
      unit: 'GFLOP/s',
      run: ([a, b]) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    },
    {
      name: 'element-wise multiply',
      shape: '[8, 56, 56, 64] · same',
      inputs: [
        [n, 56, 56, 64],
        [n, 56, 56, 64],
      ],
      work: 3 * n * 56 * 56 * 64 * MiB4,
      unit: 'GB/s',
      run: ([a, b]) => tf.mul(a!, b!),
    },
    {
      name: 'per-channel sum (BN statistics, gradients)',
      shape: '[8, 56, 56, 64] → [64]',
      inputs: [[n, 56, 56, 64]],
      work: n * 56 * 56 * 64 * MiB4,
      unit: 'GB/s',
      run: ([x]) => tf.sum(x!, [0, 1, 2]),
    },
  ];
}

/** Times each case `reps` times after 2 warm-up calls, on the current backend. */
export async function timeKernels(reps = 10): Promise<KernelTiming[]> {
  const out: KernelTiming[] = [];
  for (const c of kernelCases()) {
    const bases = c.inputs.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', i + 1));
    let total = 0;
    for (let r = 0; r < reps + 2; r++) {
      const xs = bases.map((b) => tf.add(b, 0));
      await Promise.all(xs.map((x) => x.data()));
      // wasm and cpu run a kernel synchronously: when `run` returns, the work is done.
      const t0 = performance.now();
      const y = c.run(xs);
      if (r >= 2) total += performance.now() - t0;
      tf.dispose([y, ...xs]);
    }
    tf.dispose(bases);
    const ms = total / reps;
    out.push({ name: c.name, shape: c.shape, ms, rate: c.work / (ms * 1e6), unit: c.unit });
  }
  return out;
}
