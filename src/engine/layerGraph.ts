/**
 * A functional `tf.LayersModel` evaluated layer by layer with plain ops where tf.layers' own
 * path costs more, in two modes:
 *   - `FrozenGraph`: inference mode with its weights as constants of the gradient, what the
 *     inversion needs (the gradient w.r.t. the images, never the weights);
 *   - `TrainGraph`: training mode, what a training step needs (gradients w.r.t. the weights).
 *
 * Why not `model.apply`: tf.layers' Conv2D and Dense go through `tf.fused.conv2d` /
 * `tf.fused.matMul`, whose custom gradients return the weight gradient together with the
 * input gradient, computed eagerly, so `tf.valueAndGrad` w.r.t. the images still runs a
 * `Conv2DBackpropFilter` per conv. Plain `tf.conv2d` / `tf.matMul` have one lazy gradient per
 * input, and the tape only calls those on a path from the differentiated tensors, so with
 * constant weights only the input gradient is computed.
 *
 * `LayerGraph` walks the model's graph in topological order, as tfjs-layers' executor does,
 * calling each layer's own `apply(…, { training })` except for linear NHWC Conv2D and
 * rank-2 linear Dense layers, which it evaluates with the plain ops on the same weight
 * variables (shared, never copied; later weight updates are seen). Results equal
 * `model.apply(x, { training })` up to float rounding.
 *
 * In training mode the plain convolutions matter too: the first conv's input gradient (the
 * images') is never computed, where `tf.fused.conv2d` computes it with the weight gradient.
 * And BatchNormalization (channels last, with γ and β) runs as `channelStats` (one op with
 * its own gradient, instead of tf.moments' Sub/Square/Mean chain) + `tf.batchNorm` with the
 * batch statistics, then the same moving-average update as tfjs-layers
 * (`moving ← moving − (moving − batch)·(1 − momentum)`, `momentum` read from the layer at
 * each call): about 17 kernels per layer instead of about 50, and two fewer full-size
 * activations kept for the backward pass.
 *
 * Trade-off: it reads the functional-graph fields tfjs-layers exposes (`SymbolicTensor.inputs`,
 * `sourceLayer`, `nodeIndex`, `Layer.inboundNodes`, `getConfig()`) and repeats the executor's
 * loop, without masks (no arcinvert layer produces one). Any other layer class, or a conv with
 * a fused activation or NCHW layout, simply keeps its tf.layers path, so coverage only
 * affects speed, never results.
 */
import * as tf from '@tensorflow/tfjs';
import { channelStats } from './moments.js';
import { bnAct, bnActApplies, bnTrainAct, bnTrainActApplies } from './simd/simd.js';

type Sym = tf.SymbolicTensor;
/** What one `apply` asks of its steps: the batch statistics of these BatchNorm layers' inputs, into `stats`. */
interface ApplyContext {
  wanted: ReadonlySet<string>;
  stats: Map<string, tf.Tensor2D>;
}
type Run = (inputs: tf.Tensor[], ctx?: ApplyContext) => tf.Tensor[];

interface Step {
  layer: tf.layers.Layer;
  inputs: Sym[];
  outputs: Sym[];
  run: Run;
}

function weight(layer: tf.layers.Layer, suffix: string): tf.LayerVariable | undefined {
  return layer.weights.find((w) => w.originalName === `${layer.name}/${suffix}`);
}

/** Plain-op evaluation of a linear, NHWC, rank-2 Conv2D layer; undefined for anything else. */
function plainConv2D(layer: tf.layers.Layer): Run | undefined {
  const cfg = layer.getConfig() as {
    strides?: number | number[];
    padding?: string;
    dataFormat?: string;
    dilationRate?: number | number[];
    activation?: unknown;
  };
  const kernel = weight(layer, 'kernel');
  if (kernel === undefined || kernel.shape.length !== 4) return undefined;
  if (cfg.activation !== 'linear' || cfg.dataFormat !== 'channelsLast') return undefined;
  if (cfg.padding !== 'same' && cfg.padding !== 'valid') return undefined;
  const pad = cfg.padding;
  const strides = (Array.isArray(cfg.strides) ? cfg.strides : [cfg.strides ?? 1, cfg.strides ?? 1]) as [number, number];
  const dilations = (
    Array.isArray(cfg.dilationRate) ? cfg.dilationRate : [cfg.dilationRate ?? 1, cfg.dilationRate ?? 1]
  ) as [number, number];
  const bias = weight(layer, 'bias');
  return ([x]) => [
    tf.tidy(() => {
      const y = tf.conv2d(x as tf.Tensor4D, kernel.read() as tf.Tensor4D, strides, pad, 'NHWC', dilations);
      return bias === undefined ? y : tf.add(y, bias.read());
    }),
  ];
}

/** Plain-op evaluation of a linear Dense layer on rank-2 inputs; undefined for anything else. */
function plainDense(layer: tf.layers.Layer, input: Sym): Run | undefined {
  const cfg = layer.getConfig() as { activation?: unknown };
  const kernel = weight(layer, 'kernel');
  if (kernel === undefined || cfg.activation !== 'linear' || input.shape.length !== 2) return undefined;
  const bias = weight(layer, 'bias');
  return ([x]) => [
    tf.tidy(() => {
      const y = tf.matMul(x, kernel.read());
      return bias === undefined ? y : tf.add(y, bias.read());
    }),
  ];
}

/** The layer's own `apply` in the given mode. */
function ownRun(layer: tf.layers.Layer, training: boolean): Run {
  return (xs) => {
    const out = layer.apply(xs, { training }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(out) ? out : [out];
  };
}

/**
 * Training-mode BatchNormalization over the last axis with γ and β (see the module comment);
 * undefined for other configurations. Inputs of another rank or axis take the layer's own path.
 */
/**
 * tfjs-layers' moving update of a BatchNorm layer's statistics from a batch's:
 * moving ← moving − (moving − batch)·(1 − momentum), `momentum` read from the layer now (the
 * training workers set it to 0 to read a chunk's statistics). Call inside a tidy.
 */
function updateMoving(
  layer: tf.layers.Layer,
  moving: [tf.LayerVariable, tf.LayerVariable],
  batch: [tf.Tensor, tf.Tensor],
): void {
  const decay = 1 - (layer as unknown as { momentum: number }).momentum;
  moving.forEach((variable, i) => {
    const orig = variable.read();
    variable.write(tf.sub(orig, tf.mul(tf.sub(orig, batch[i]!), decay)));
  });
}

/** The steps a fused BatchNorm replaced, run one after the other on `x` (where the fused op does not apply). */
function chain(steps: Run[], x: tf.Tensor): tf.Tensor[] {
  return [tf.tidy(() => steps.reduce((t, run) => run([t])[0]!, x))];
}

function trainBatchNorm(layer: tf.layers.Layer): Run | undefined {
  const cfg = layer.getConfig() as { axis?: number | number[]; epsilon?: number };
  const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
  const [gamma, beta, movingMean, movingVariance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((n) =>
    weight(layer, n),
  );
  if (axis.length !== 1 || !gamma || !beta || !movingMean || !movingVariance) return undefined;
  const epsilon = cfg.epsilon ?? 1e-3;
  const own = ownRun(layer, true);
  return ([x]) => {
    const a = axis[0] < 0 ? axis[0] + x.rank : axis[0];
    if (a !== x.rank - 1 || (x.rank !== 2 && x.rank !== 4)) return own([x]);
    return [
      tf.tidy(() => {
        const [mean, variance] = tf.unstack(channelStats(x)) as [tf.Tensor1D, tf.Tensor1D];
        const y = tf.batchNorm(x, mean, variance, beta.read(), gamma.read(), epsilon);
        updateMoving(layer, [movingMean, movingVariance], [mean, variance]);
        return y;
      }),
    ];
  };
}

/** A PReLU layer's α when it is one value per channel of its input (`sharedAxes` over all others); else undefined. */
function perChannelAlpha(layer: tf.layers.Layer): tf.LayerVariable | undefined {
  if (layer.getClassName() !== 'PReLU') return undefined;
  const alpha = weight(layer, 'alpha');
  const c = (layer.input as Sym).shape.at(-1);
  return alpha !== undefined && alpha.shape.every((d, i) => d === (i === alpha.shape.length - 1 ? c : 1))
    ? alpha
    : undefined;
}

/**
 * Each BatchNormalization over the last axis (with γ and β), and the PReLU that alone reads it,
 * becomes one step that runs them as one op (`simd/simd.ts`) wherever that op applies at run
 * time; elsewhere the step runs what it replaced. Inference mode: `bnAct` with the running
 * statistics, which also gives the statistics of the BN's input to whoever asks
 * (`applyWithStats`): the forward in one pass, the input gradient of all three in one.
 * Training mode: `bnTrainAct` with the batch statistics and the moving update (forward two
 * reads and a pass, backward two passes). Rewrites `steps` in place; `outputs` are the model's
 * output ids (a BN output the model returns is never merged away).
 */
function fuseBatchNorms(steps: Step[], outputs: ReadonlySet<number>, training: boolean): void {
  for (let i = 0; i < steps.length; i++) {
    const bn = steps[i]!;
    if (bn.layer.getClassName() !== 'BatchNormalization' || bn.inputs.length !== 1) continue;
    const cfg = bn.layer.getConfig() as { axis?: number | number[]; epsilon?: number };
    const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
    const rank = bn.inputs[0]!.shape.length;
    const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((n) =>
      weight(bn.layer, n),
    );
    if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1) || !gamma || !beta || !mean || !variance)
      continue;
    const y = bn.outputs[0]!;
    const readers = steps.filter((s) => s.inputs.some((t) => t.id === y.id));
    const next = readers.length === 1 && !outputs.has(y.id) ? readers[0]! : undefined;
    const alpha = next && next.inputs.length === 1 ? perChannelAlpha(next.layer) : undefined;
    const act = alpha ? next : undefined;
    const epsilon = cfg.epsilon ?? 1e-3;
    const replaced = [bn.run, ...(act ? [act.run] : [])];
    const v = { gamma, beta, mean, variance, alpha, epsilon };
    bn.run = training ? trainBnAct(bn.layer, replaced, v) : inferenceBnAct(bn.layer, replaced, v);
    if (act) {
      bn.outputs = act.outputs;
      steps.splice(steps.indexOf(act), 1);
    }
  }
}

/** The variables of a BatchNorm layer and its PReLU's α. */
interface BnVariables {
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  mean: tf.LayerVariable;
  variance: tf.LayerVariable;
  alpha?: tf.LayerVariable;
  epsilon: number;
}

/** Inference mode: `bnAct` with the running statistics, or the steps it replaces (the layers' own `apply`). */
function inferenceBnAct(bnLayer: tf.layers.Layer, fallback: Run[], v: BnVariables): Run {
  const { gamma, beta, mean, variance, alpha, epsilon } = v;
  const name = bnLayer.name;
  return ([x], ctx) => {
    const p = { gamma: gamma.read(), beta: beta.read(), mean: mean.read(), variance: variance.read(), epsilon };
    const params = alpha ? { ...p, alpha: alpha.read() } : p;
    const wanted = ctx?.wanted.has(name) ?? false;
    if (bnActApplies(x!, params)) {
      const { y: out, stats } = bnAct(x!, params, wanted);
      if (stats) ctx?.stats.set(name, stats);
      return [out];
    }
    return chain(fallback, x!);
  };
}

/**
 * Training mode: `bnTrainAct` (batch statistics, differentiable w.r.t. x, γ, β and α) and the
 * same moving update as tfjs-layers (`momentum` read from the layer at each call), or the
 * steps it replaces (`trainBatchNorm`, the PReLU's own `apply`).
 */
function trainBnAct(bnLayer: tf.layers.Layer, fallback: Run[], v: BnVariables): Run {
  const { gamma, beta, mean, variance, alpha, epsilon } = v;
  return ([x]) => {
    const p = { gamma: gamma.read(), beta: beta.read(), epsilon, ...(alpha ? { alpha: alpha.read() } : {}) };
    if (!bnTrainActApplies(x!, p)) return chain(fallback, x!);
    return [
      tf.tidy(() => {
        const { y, stats } = bnTrainAct(x!, p);
        updateMoving(bnLayer, [mean, variance], tf.unstack(stats) as [tf.Tensor, tf.Tensor]);
        return y;
      }),
    ];
  };
}

function layerRun(layer: tf.layers.Layer, inputs: Sym[], training: boolean): Run {
  const className = layer.getClassName();
  const plain =
    className === 'Conv2D'
      ? plainConv2D(layer)
      : className === 'Dense'
        ? plainDense(layer, inputs[0])
        : className === 'BatchNormalization' && training
          ? trainBatchNorm(layer)
          : undefined;
  return plain ?? ownRun(layer, training);
}

/** See the module comment. Holds no tensors of its own: nothing to dispose. */
export class LayerGraph {
  private readonly inputs: Sym[];
  private readonly outputs: Sym[];
  private readonly steps: Step[] = [];
  /** Symbolic tensor id → index of the last step that reads it. */
  private readonly lastUse = new Map<number, number>();

  constructor(
    model: tf.LayersModel,
    readonly training: boolean,
  ) {
    this.inputs = model.inputs;
    this.outputs = model.outputs;
    const inputIds = new Set(this.inputs.map((t) => t.id));
    const seen = new Set<number>();
    const scheduled = new Set<string>();
    const visit = (t: Sym): void => {
      if (seen.has(t.id)) return;
      seen.add(t.id);
      if (inputIds.has(t.id)) return;
      if (t.inputs.length === 0) throw new Error(`LayerGraph: ${t.name} is neither computed nor a model input`);
      t.inputs.forEach(visit);
      const key = `${t.sourceLayer.name}#${t.nodeIndex}`;
      if (scheduled.has(key)) return;
      scheduled.add(key);
      const node = t.sourceLayer.inboundNodes[t.nodeIndex];
      this.steps.push({
        layer: t.sourceLayer,
        inputs: t.inputs,
        outputs: node.outputTensors,
        run: layerRun(t.sourceLayer, t.inputs, training),
      });
    };
    this.outputs.forEach(visit);
    fuseBatchNorms(this.steps, new Set(this.outputs.map((t) => t.id)), training);
    this.steps.forEach((s, i) => s.inputs.forEach((t) => this.lastUse.set(t.id, i)));
  }

  /**
   * The model's outputs for `inputs` (one tensor per model input, in `model.inputs` order),
   * in this graph's mode (training: BatchNorm normalises by batch statistics and updates its
   * moving ones). Intermediate tensors are disposed as soon as no later layer reads them.
   * @returns one tensor per model output, in `model.outputs` order.
   */
  apply(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return this.applyWithStats(inputs, new Set()).outputs;
  }

  /**
   * `apply`, and the batch statistics ([2, C], `channelStats`) of the inputs of the BatchNorm
   * layers named in `wanted` that the graph computes in one op with the layer (inference mode,
   * `fuseBatchNorms`); a wanted layer missing from `stats` was not fused: the caller computes
   * its statistics from the layer's input itself.
   */
  applyWithStats(
    inputs: tf.Tensor | tf.Tensor[],
    wanted: ReadonlySet<string>,
  ): { outputs: tf.Tensor[]; stats: Map<string, tf.Tensor2D> } {
    const ctx: ApplyContext = { wanted, stats: new Map() };
    const xs = Array.isArray(inputs) ? inputs : [inputs];
    if (xs.length !== this.inputs.length) {
      throw new Error(`LayerGraph: ${xs.length} inputs for a model with ${this.inputs.length}`);
    }
    const values = new Map<number, tf.Tensor>(this.inputs.map((t, i) => [t.id, xs[i]]));
    const keep = new Set([...this.inputs, ...this.outputs].map((t) => t.id));
    this.steps.forEach((step, i) => {
      const out = step.run(
        step.inputs.map((t) => values.get(t.id)!),
        ctx,
      );
      step.outputs.forEach((t, j) => values.set(t.id, out[j]));
      for (const t of step.inputs) {
        const value = values.get(t.id)!;
        // A layer may return its input itself (Dropout at inference): that one lives on.
        if (this.lastUse.get(t.id) === i && !keep.has(t.id) && !out.includes(value)) value.dispose();
      }
    });
    return { outputs: this.outputs.map((t) => values.get(t.id)!), stats: ctx.stats };
  }
}

/** Inference mode; the gradient reaches the inputs only (weights are constants of it). */
export class FrozenGraph extends LayerGraph {
  constructor(model: tf.LayersModel) {
    super(model, false);
  }
}

/** Training mode: what `model.apply(x, { training: true })` computes, with cheaper gradients. */
export class TrainGraph extends LayerGraph {
  constructor(model: tf.LayersModel) {
    super(model, true);
  }
}
