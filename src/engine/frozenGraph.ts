/**
 * A functional `tf.LayersModel` run in inference mode with its weights as constants of the
 * gradient: what the inversion needs (the gradient w.r.t. the images, never the weights).
 *
 * Why not `model.apply`: tf.layers' Conv2D and Dense go through `tf.fused.conv2d` /
 * `tf.fused.matMul`, whose custom gradients return the weight gradient together with the
 * input gradient, computed eagerly, so `tf.valueAndGrad` w.r.t. the images still runs a
 * `Conv2DBackpropFilter` per conv. Plain `tf.conv2d` / `tf.matMul` have one lazy gradient per
 * input, and the tape only calls those on a path from the differentiated tensors, so with
 * constant weights only the input gradient is computed.
 *
 * `FrozenGraph` walks the model's graph in topological order, as tfjs-layers' executor does,
 * calling each layer's own `apply(…, { training: false })` except for linear NHWC Conv2D and
 * rank-2 linear Dense layers, which it evaluates with the plain ops on the same weight
 * variables (shared, never copied; later weight updates are seen). Results equal
 * `model.apply(x, { training: false })` up to float rounding.
 *
 * Trade-off: it reads the functional-graph fields tfjs-layers exposes (`SymbolicTensor.inputs`,
 * `sourceLayer`, `nodeIndex`, `Layer.inboundNodes`, `getConfig()`) and repeats the executor's
 * loop, without masks (no arcinvert layer produces one). Any other layer class, or a conv with
 * a fused activation or NCHW layout, simply keeps its tf.layers path, so coverage only
 * affects speed, never results.
 */
import * as tf from '@tensorflow/tfjs';

type Sym = tf.SymbolicTensor;
type Run = (inputs: tf.Tensor[]) => tf.Tensor[];

interface Step {
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
  const dilations = (Array.isArray(cfg.dilationRate) ? cfg.dilationRate : [cfg.dilationRate ?? 1, cfg.dilationRate ?? 1]) as [number, number];
  const bias = weight(layer, 'bias');
  return ([x]) => [tf.tidy(() => {
    const y = tf.conv2d(x as tf.Tensor4D, kernel.read() as tf.Tensor4D, strides, pad, 'NHWC', dilations);
    return bias === undefined ? y : tf.add(y, bias.read());
  })];
}

/** Plain-op evaluation of a linear Dense layer on rank-2 inputs; undefined for anything else. */
function plainDense(layer: tf.layers.Layer, input: Sym): Run | undefined {
  const cfg = layer.getConfig() as { activation?: unknown };
  const kernel = weight(layer, 'kernel');
  if (kernel === undefined || cfg.activation !== 'linear' || input.shape.length !== 2) return undefined;
  const bias = weight(layer, 'bias');
  return ([x]) => [tf.tidy(() => {
    const y = tf.matMul(x as tf.Tensor2D, kernel.read() as tf.Tensor2D);
    return bias === undefined ? y : tf.add(y, bias.read());
  })];
}

function layerRun(layer: tf.layers.Layer, inputs: Sym[]): Run {
  const className = layer.getClassName();
  const plain = className === 'Conv2D' ? plainConv2D(layer) : className === 'Dense' ? plainDense(layer, inputs[0]!) : undefined;
  if (plain !== undefined) return plain;
  return (xs) => {
    const out = layer.apply(xs, { training: false }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(out) ? out : [out];
  };
}

/** See the module comment. Holds no tensors of its own: nothing to dispose. */
export class FrozenGraph {
  private readonly inputs: Sym[];
  private readonly outputs: Sym[];
  private readonly steps: Step[] = [];
  /** Symbolic tensor id → index of the last step that reads it. */
  private readonly lastUse = new Map<number, number>();

  constructor(model: tf.LayersModel) {
    this.inputs = model.inputs;
    this.outputs = model.outputs;
    const inputIds = new Set(this.inputs.map((t) => t.id));
    const seen = new Set<number>();
    const scheduled = new Set<string>();
    const visit = (t: Sym): void => {
      if (seen.has(t.id)) return;
      seen.add(t.id);
      if (inputIds.has(t.id)) return;
      if (t.inputs.length === 0) throw new Error(`FrozenGraph: ${t.name} is neither computed nor a model input`);
      t.inputs.forEach(visit);
      const key = `${t.sourceLayer.name}#${t.nodeIndex}`;
      if (scheduled.has(key)) return;
      scheduled.add(key);
      const node = t.sourceLayer.inboundNodes[t.nodeIndex]!;
      this.steps.push({ inputs: t.inputs, outputs: node.outputTensors, run: layerRun(t.sourceLayer, t.inputs) });
    };
    this.outputs.forEach(visit);
    this.steps.forEach((s, i) => s.inputs.forEach((t) => this.lastUse.set(t.id, i)));
  }

  /**
   * The model's outputs for `inputs` (one tensor per model input, in `model.inputs` order),
   * in inference mode, differentiable w.r.t. the inputs only. Intermediate tensors are
   * disposed as soon as no later layer reads them.
   * @returns one tensor per model output, in `model.outputs` order.
   */
  apply(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const xs = Array.isArray(inputs) ? inputs : [inputs];
    if (xs.length !== this.inputs.length) {
      throw new Error(`FrozenGraph: ${xs.length} inputs for a model with ${this.inputs.length}`);
    }
    const values = new Map<number, tf.Tensor>(this.inputs.map((t, i) => [t.id, xs[i]!]));
    const keep = new Set([...this.inputs, ...this.outputs].map((t) => t.id));
    this.steps.forEach((step, i) => {
      const out = step.run(step.inputs.map((t) => values.get(t.id)!));
      step.outputs.forEach((t, j) => values.set(t.id, out[j]!));
      for (const t of step.inputs) {
        const value = values.get(t.id)!;
        // A layer may return its input itself (Dropout at inference): that one lives on.
        if (this.lastUse.get(t.id) === i && !keep.has(t.id) && !out.includes(value)) value.dispose();
      }
    });
    return this.outputs.map((t) => values.get(t.id)!);
  }
}
