/**
 * Building blocks shared by the backbones, in the tf.layers functional API.
 *
 * Layer names are explicit and stable (`<prefix>_conv`, `<prefix>_bn`, …): saved weights,
 * BatchNorm taps and ONNX import all find layers by name, never by index. Strided convs pad
 * explicitly (PyTorch's symmetric `padding=k//2`) instead of using tfjs 'same', whose
 * asymmetric padding at stride 2 would shift the sampling grid by one pixel.
 */
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';

/** Per-layer seeds derived from one base seed, so every initialiser differs but is reproducible. */
export class SeedSequence {
  private next: number;

  constructor(seed: number) {
    this.next = seed;
  }

  take(): number {
    this.next += 1;
    return this.next;
  }
}

/** Shared settings for the blocks below. */
export interface BlockContext {
  seeds: SeedSequence;
  bnEpsilon: number;
  bnMomentum: number;
}

type Sym = tf.SymbolicTensor;

function heNormal(ctx: BlockContext): ReturnType<typeof tf.initializers.heNormal> {
  return tf.initializers.heNormal({ seed: ctx.seeds.take() });
}

/** Zero-pads `k//2` on each side when a strided conv needs PyTorch-style padding. */
function padFor(x: Sym, name: string, kernel: number, stride: number): { x: Sym; padding: 'same' | 'valid' } {
  if (kernel === 1) return { x, padding: 'valid' };
  if (stride === 1) return { x, padding: 'same' };
  const p = Math.floor(kernel / 2);
  return { x: tf.layers.zeroPadding2d({ padding: p, name: `${name}_pad` }).apply(x) as Sym, padding: 'valid' };
}

/** Bias-free conv (kernel × kernel, stride), insightface's `Conv2d(..., bias=False)`. */
export function conv(ctx: BlockContext, x: Sym, name: string, filters: number, kernel: number, stride = 1): Sym {
  const p = padFor(x, name, kernel, stride);
  return tf.layers
    .conv2d({
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: p.padding,
      useBias: false,
      kernelInitializer: heNormal(ctx),
      name: `${name}_conv`,
    })
    .apply(p.x) as Sym;
}

/** Bias-free depthwise conv (one filter per channel). */
export function depthwise(ctx: BlockContext, x: Sym, name: string, kernel: number, stride = 1, padding = true): Sym {
  const p = padding ? padFor(x, name, kernel, stride) : { x, padding: 'valid' as const };
  return tf.layers
    .depthwiseConv2d({
      kernelSize: kernel,
      strides: stride,
      padding: p.padding,
      depthMultiplier: 1,
      useBias: false,
      depthwiseInitializer: heNormal(ctx),
      name: `${name}_dwconv`,
    })
    .apply(p.x) as Sym;
}

/** BatchNorm over the last axis with PyTorch's epsilon/momentum. */
export function bn(ctx: BlockContext, x: Sym, name: string): Sym {
  return tf.layers
    .batchNormalization({ axis: -1, epsilon: ctx.bnEpsilon, momentum: ctx.bnMomentum, name: `${name}_bn` })
    .apply(x) as Sym;
}

/** Per-channel PReLU with PyTorch's initial slope 0.25. */
export function prelu(x: Sym, name: string): Sym {
  const rank = x.shape.length;
  return tf.layers
    .prelu({
      alphaInitializer: tf.initializers.constant({ value: 0.25 }),
      sharedAxes: rank === 4 ? [1, 2] : undefined,
      name: `${name}_prelu`,
    })
    .apply(x) as Sym;
}

/** Element-wise sum (residual connection). */
export function add(a: Sym, b: Sym, name: string): Sym {
  return tf.layers.add({ name: `${name}_add` }).apply([a, b]) as Sym;
}

/** Fully connected layer. */
export function dense(ctx: BlockContext, x: Sym, name: string, units: number, useBias: boolean): Sym {
  return tf.layers
    .dense({
      units,
      useBias,
      kernelInitializer: tf.initializers.glorotNormal({ seed: ctx.seeds.take() }),
      name: `${name}_fc`,
    })
    .apply(x) as Sym;
}

/** Checks that an input size is usable by a backbone with four stride-2 stages. */
export function validateInputSize(size: [number, number]): void {
  for (const s of size) {
    if (!Number.isInteger(s) || s < 16 || s % 16 !== 0) {
      throw new ArcinvertError(`input size ${size.join('x')} is not a multiple of 16 (at least 16)`);
    }
  }
}
