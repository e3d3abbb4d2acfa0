/**
 * IResNet, as in insightface arcface_torch `backbones/iresnet.py` (the "improved" ResNet of
 * ArcFace, TPAMI §4.1: BN-Conv-BN-PReLU-Conv-BN blocks, output BN-Dropout-FC-BN).
 *
 *   stem:   conv 3×3 (64) → BN → PReLU
 *   stages: four stages of `IBasicBlock`s, the first block of each with stride 2 and a
 *           1×1-conv + BN shortcut: BN → conv3×3 → BN → PReLU → conv3×3/s → BN, + shortcut
 *   head:   BN → Dropout → Flatten → FC (bias) → BN1d.
 *
 * insightface freezes the last BN's γ at 1; here it is trainable, initialised at 1.
 */
import * as tf from '@tensorflow/tfjs';
import { add, bn, conv, dense, prelu, SeedSequence, validateInputSize, type BlockContext } from './layers.js';
import type { IResNetConfig } from './types.js';

type Sym = tf.SymbolicTensor;

/** Blocks per stage of the standard depths. */
export const IRESNET_LAYERS = {
  iresnet18: [2, 2, 2, 2],
  iresnet34: [3, 4, 6, 3],
  iresnet50: [3, 4, 14, 3],
} as const satisfies Record<string, [number, number, number, number]>;

/** insightface's IResNet defaults (IResNet-50 depth; the registry sets `layers` per name). */
export const DEFAULT_IRESNET_CONFIG: IResNetConfig = {
  inputSize: [112, 112],
  embeddingSize: 512,
  bnEpsilon: 1e-5,
  bnMomentum: 0.9,
  seed: 42,
  layers: [3, 4, 14, 3],
  widths: [64, 128, 256, 512],
  dropout: 0,
};

/** insightface `IBasicBlock`. */
function basicBlock(ctx: BlockContext, x: Sym, name: string, planes: number, stride: number): Sym {
  const inPlanes = x.shape[3] as number;
  let y = bn(ctx, x, `${name}_1`);
  y = conv(ctx, y, `${name}_1`, planes, 3, 1);
  y = prelu(bn(ctx, y, `${name}_2`), name);
  y = conv(ctx, y, `${name}_2`, planes, 3, stride);
  y = bn(ctx, y, `${name}_3`);
  const shortcut =
    stride !== 1 || inPlanes !== planes ? bn(ctx, conv(ctx, x, `${name}_down`, planes, 1, stride), `${name}_down`) : x;
  return add(y, shortcut, name);
}

/** Builds an insightface IResNet; output [B, embeddingSize] (not normalised). */
export function buildIResNet(cfg: IResNetConfig): tf.LayersModel {
  validateInputSize(cfg.inputSize);
  const ctx: BlockContext = { seeds: new SeedSequence(cfg.seed), bnEpsilon: cfg.bnEpsilon, bnMomentum: cfg.bnMomentum };
  const input = tf.input({ shape: [cfg.inputSize[0], cfg.inputSize[1], 3], name: 'input' });
  let x = prelu(bn(ctx, conv(ctx, input, 'stem', cfg.widths[0], 3, 1), 'stem'), 'stem');
  cfg.layers.forEach((blocks, s) => {
    for (let i = 0; i < blocks; i++) x = basicBlock(ctx, x, `layer${s + 1}_${i}`, cfg.widths[s], i === 0 ? 2 : 1);
  });
  x = bn(ctx, x, 'head');
  if (cfg.dropout > 0) x = tf.layers.dropout({ rate: cfg.dropout, name: 'head_dropout' }).apply(x) as Sym;
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as Sym;
  x = dense(ctx, x, 'embedding', cfg.embeddingSize, true);
  x = bn(ctx, x, 'embedding');
  return tf.model({ inputs: input, outputs: x, name: 'iresnet' });
}
