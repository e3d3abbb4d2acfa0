/**
 * BatchNorm taps: the inputs of every BatchNorm layer, for the BN-statistics prior
 * (ArcFace TPAMI §3.3, Eq. 8; DeepInversion's `DeepInversionFeatureHook`).
 *
 * Models exported for deployment (`arcinvert import`) have most BatchNorms folded into the
 * conv before them: conv′ = γ·(conv − μ)/σ + β, which leaves the conv a bias. Where such a BN
 * sat there are no running statistics left, so the taps also include the output of every conv
 * that does not feed a BatchNorm (`folded`): with a bias, the place of the folded BN's input up
 * to a per-channel affine map; without one, a conv of a network whose BatchNorms left no trace
 * (human-models' `mobileface`) or that never had them. Their statistics come from
 * `arcinvert calibrate`. Every conv of arcinvert's own backbones feeds a BatchNorm, so for them
 * `folded` is empty.
 *
 * Instead of PyTorch forward hooks, tfjs gets a second functional model over the same layers
 * (tfjs-examples `visualize-convnet`) whose outputs are each BN layer's *input* followed by the
 * embedding. Running statistics are read by layer name from the layer's `moving_mean` /
 * `moving_variance` weights. The taps model shares (never copies) the original's weights.
 */
import * as tf from '@tensorflow/tfjs';
import { FrozenGraph } from '../engine/layerGraph.js';
import { channelStats } from '../engine/moments.js';

/** One BatchNorm layer: where it is and what it has learned. */
export interface BnLayerStats {
  /** Layer name (stable across save/load). */
  name: string;
  /** Channels C normalised by the layer. */
  channels: number;
  /** Rank of the layer's input: 4 for [B, H, W, C], 2 for [B, C]. */
  inputRank: number;
  /** Running mean [C] — the layer's own variable, read-only here. */
  runningMean: tf.Tensor1D;
  /** Running (population) variance [C] — the layer's own variable, read-only here. */
  runningVar: tf.Tensor1D;
}

/** A tapped conv output that feeds no BatchNorm (where one was folded, or none is): no running statistics. */
export interface FoldedTap {
  /** The conv layer's name. */
  name: string;
  channels: number;
  inputRank: number;
}

/** Per-layer statistics of one forward pass. */
export interface BnTapOutputs {
  /** Each BN layer's input in `BnTaps.layers` order, then each folded tap in `BnTaps.folded` order. */
  bnInputs: tf.Tensor[];
  /** The model's output [B, D] (not normalised). */
  embedding: tf.Tensor2D;
}

function weightByName(layer: tf.layers.Layer, suffix: string): tf.Tensor1D {
  const w = layer.weights.find((v) => v.originalName === `${layer.name}/${suffix}`);
  if (w === undefined) throw new Error(`BatchNorm layer ${layer.name} has no ${suffix} weight`);
  return w.read() as tf.Tensor1D;
}

/** A model over the same layers whose outputs are every BN layer's input plus the embedding. */
export class BnTaps {
  /** Every BatchNorm layer of the model, in topological order. */
  readonly layers: BnLayerStats[];
  /** Outputs of convs that feed no BatchNorm (a folded BN, or none), in topological order. */
  readonly folded: FoldedTap[];
  /** Each tap's position in the network (layer index), in `bnInputs` order: BN and folded taps interleave. */
  readonly depth: number[];
  private readonly graph: FrozenGraph;

  constructor(model: tf.LayersModel) {
    const bnLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    this.layers = bnLayers.map((l) => {
      const input = l.input as tf.SymbolicTensor;
      return {
        name: l.name,
        channels: input.shape[input.shape.length - 1] as number,
        inputRank: input.shape.length,
        runningMean: weightByName(l, 'moving_mean'),
        runningVar: weightByName(l, 'moving_variance'),
      };
    });
    const convs = model.layers.filter((l) => ['Conv2D', 'DepthwiseConv2D'].includes(l.getClassName()));
    const feedsBn = (l: tf.layers.Layer): boolean =>
      bnLayers.some((bn) => (bn.inboundNodes ?? []).some((node) => node.inboundLayers.includes(l)));
    const foldedLayers = convs.filter((l) => !feedsBn(l));
    this.folded = foldedLayers.map((l) => {
      const out = l.output as tf.SymbolicTensor;
      return { name: l.name, channels: out.shape[out.shape.length - 1] as number, inputRank: out.shape.length };
    });
    this.depth = [...bnLayers, ...foldedLayers].map((l) => model.layers.indexOf(l));
    const outputs = [
      ...bnLayers.map((l) => l.input as tf.SymbolicTensor),
      ...foldedLayers.map((l) => l.output as tf.SymbolicTensor),
      ...model.outputs,
    ];
    this.graph = new FrozenGraph(tf.model({ inputs: model.inputs, outputs, name: `${model.name}_bntaps` }));
  }

  /** Every tapped place, in `BnTapOutputs.bnInputs` order: the BN layers, then the folded taps. */
  get statLayers(): { name: string; channels: number }[] {
    return [...this.layers, ...this.folded].map((l) => ({ name: l.name, channels: l.channels }));
  }

  /**
   * Runs `x` [B, H, W, 3] through the model in inference mode (moving statistics are read,
   * never written) and returns every BN input and the embedding. Differentiable w.r.t. `x`;
   * the weights are constants (`FrozenGraph`), so no weight gradient is ever computed.
   */
  apply(x: tf.Tensor4D): BnTapOutputs {
    const outs = this.graph.apply(x);
    const n = this.layers.length + this.folded.length;
    return { bnInputs: outs.slice(0, n), embedding: outs[n] as tf.Tensor2D };
  }

  /**
   * `apply` for the BN-statistics prior: the batch statistics ([2, C], `channelStats`) of the
   * taps at `indices` (into `bnInputs` order) and the embedding. A BN layer's statistics come
   * from the op that also runs the layer (`FrozenGraph`'s fused BatchNorm, whose gradient
   * covers both in one pass); the others' from their inputs. Differentiable w.r.t. `x`.
   */
  statsAt(x: tf.Tensor4D, indices: readonly number[]): { stats: tf.Tensor2D[]; embedding: tf.Tensor2D } {
    const names = new Set(indices.filter((k) => k < this.layers.length).map((k) => this.layers[k]!.name));
    const { outputs, stats } = this.graph.applyWithStats(x, names);
    const n = this.layers.length + this.folded.length;
    const fromGraph = (k: number): tf.Tensor2D | undefined =>
      k < this.layers.length ? stats.get(this.layers[k]!.name) : undefined;
    return {
      stats: indices.map((k) => fromGraph(k) ?? channelStats(outputs[k]!)),
      embedding: outputs[n] as tf.Tensor2D,
    };
  }
}

/**
 * `channelStats` as separate mean [C] and variance [C].
 * @param x [B, H, W, C] or [B, C].
 */
export function channelMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const [mean, variance] = tf.tidy(() => tf.unstack(channelStats(x))) as [tf.Tensor1D, tf.Tensor1D];
  return { mean, variance };
}
