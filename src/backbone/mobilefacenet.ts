/**
 * MobileFaceNet, as in insightface arcface_torch `backbones/mobilefacenet.py`
 * (Chen et al., "MobileFaceNets", 2018, with insightface's layout).
 *
 *   stem:   ConvBlock 3×3/2 (conv-BN-PReLU) → ConvBlock 3×3 depthwise
 *   stages: DepthWise 3×3/2 bottleneck, then `blocks[i]` residual bottlenecks, four times
 *           (bottleneck = 1×1 expand ConvBlock → 3×3 depthwise ConvBlock → 1×1 LinearBlock)
 *   head:   ConvBlock 1×1 → 512, GDC = global depthwise LinearBlock (H/16 × W/16) →
 *           Flatten → Linear(no bias) → BatchNorm1d.
 *
 * `width` 64 is insightface's scale 1 exactly (expansions 128/128/256/256/512/256). Other widths
 * scale the expansions with it; insightface's scale 2 instead keeps its expansions and makes the
 * stem conv grouped (tf.layers has no grouped conv), so width 128 is close to, not equal to, it.
 */
import * as tf from '@tensorflow/tfjs';
import {
  add,
  bn,
  conv,
  depthwise,
  dense,
  prelu,
  SeedSequence,
  validateInputSize,
  type BlockContext,
} from './layers.js';
import type { MobileFaceNetConfig } from './types.js';

type Sym = tf.SymbolicTensor;

/** insightface's MobileFaceNet defaults (512-d, blocks [1,4,6,2], width 64 = scale 1). */
export const DEFAULT_MOBILEFACENET_CONFIG: MobileFaceNetConfig = {
  inputSize: [112, 112],
  embeddingSize: 512,
  bnEpsilon: 1e-5,
  bnMomentum: 0.9,
  seed: 42,
  blocks: [1, 4, 6, 2],
  width: 64,
  headChannels: 512,
};

/** Conv → BN → PReLU (insightface `ConvBlock`); `dw` makes the conv depthwise. */
function convBlock(
  ctx: BlockContext,
  x: Sym,
  name: string,
  filters: number,
  kernel: number,
  stride: number,
  dw = false,
): Sym {
  const y = dw ? depthwise(ctx, x, name, kernel, stride) : conv(ctx, x, name, filters, kernel, stride);
  return prelu(bn(ctx, y, name), name);
}

/** Conv → BN, no activation (insightface `LinearBlock`). */
function linearBlock(ctx: BlockContext, x: Sym, name: string, filters: number): Sym {
  return bn(ctx, conv(ctx, x, name, filters, 1, 1), name);
}

/** Inverted bottleneck (insightface `DepthWise`): expand 1×1, depthwise 3×3, project 1×1. */
function bottleneck(
  ctx: BlockContext,
  x: Sym,
  name: string,
  out: number,
  expand: number,
  stride: number,
  residual: boolean,
): Sym {
  let y = convBlock(ctx, x, `${name}_expand`, expand, 1, 1);
  y = convBlock(ctx, y, `${name}_dw`, expand, 3, stride, true);
  y = linearBlock(ctx, y, `${name}_project`, out);
  return residual ? add(x, y, name) : y;
}

/** Builds insightface's MobileFaceNet; output [B, embeddingSize] (not normalised). */
export function buildMobileFaceNet(cfg: MobileFaceNetConfig): tf.LayersModel {
  validateInputSize(cfg.inputSize);
  const ctx: BlockContext = { seeds: new SeedSequence(cfg.seed), bnEpsilon: cfg.bnEpsilon, bnMomentum: cfg.bnMomentum };
  const w = cfg.width;
  const input = tf.input({ shape: [cfg.inputSize[0], cfg.inputSize[1], 3], name: 'input' });
  let x = convBlock(ctx, input, 'stem1', w, 3, 2);
  if (cfg.blocks[0] === 1) x = convBlock(ctx, x, 'stem2', w, 3, 1, true);
  else for (let i = 0; i < cfg.blocks[0]; i++) x = bottleneck(ctx, x, `s0_res${i}`, w, 2 * w, 1, true);
  // (out channels, expansion) of the three down-sampling bottlenecks and their residual stages.
  const stages: Array<[number, number, number]> = [
    [w, 2 * w, 2 * w],
    [2 * w, 4 * w, 4 * w],
    [2 * w, 8 * w, 4 * w],
  ];
  stages.forEach(([out, downExpand, resExpand], s) => {
    x = bottleneck(ctx, x, `s${s + 1}_down`, out, downExpand, 2, false);
    for (let i = 0; i < cfg.blocks[s + 1]; i++) x = bottleneck(ctx, x, `s${s + 1}_res${i}`, out, resExpand, 1, true);
  });
  x = convBlock(ctx, x, 'conv_sep', cfg.headChannels, 1, 1);
  // GDC: one depthwise filter covering the whole H/16 × W/16 map.
  const [fh, fw] = [cfg.inputSize[0] / 16, cfg.inputSize[1] / 16];
  x = tf.layers
    .depthwiseConv2d({
      kernelSize: [fh, fw],
      padding: 'valid',
      useBias: false,
      depthwiseInitializer: tf.initializers.heNormal({ seed: ctx.seeds.take() }),
      name: 'gdc_dwconv',
    })
    .apply(x) as Sym;
  x = bn(ctx, x, 'gdc');
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as Sym;
  x = dense(ctx, x, 'embedding', cfg.embeddingSize, false);
  x = bn(ctx, x, 'embedding');
  return tf.model({ inputs: input, outputs: x, name: 'mobilefacenet' });
}
