/**
 * BatchNorm folding, as deployment exports do it (`torch.onnx.export` in eval mode,
 * `torch.quantization.fuse_modules`): every conv whose only consumer is a BatchNorm becomes
 * one conv with weights W·γ/√(σ² + ε) and bias β − μ·γ/√(σ² + ε); the BN layer disappears
 * with its running statistics. Used to build test subjects for the calibrated prior from
 * arcinvert's own models (`scripts/fold-model.mjs`, docs/IMPORT.md): the folded model computes
 * the same embedding, but the BN prior has nothing left to match where BN was folded.
 *
 * The result has its own layers (copies of the original's), so both models are disposed
 * independently.
 */
import * as tf from '@tensorflow/tfjs';

type Sym = tf.SymbolicTensor;

interface InboundNode {
  inputTensors: Sym[];
  outputTensors: Sym[];
}

const node0 = (l: tf.layers.Layer): InboundNode => (l as unknown as { inboundNodes: InboundNode[] }).inboundNodes[0];

/** The folded model and how many BatchNorm layers were folded away. */
export function foldBatchNorms(model: tf.LayersModel): { model: tf.LayersModel; folded: number } {
  const consumers = new Map<Sym, tf.layers.Layer[]>();
  for (const l of model.layers)
    for (const t of node0(l)?.inputTensors ?? []) consumers.set(t, [...(consumers.get(t) ?? []), l]);
  const input = tf.input({ shape: model.inputs[0].shape.slice(1), name: 'input' });
  const newOf = new Map<Sym, Sym>([[model.inputs[0], input]]);
  const skip = new Set<tf.layers.Layer>();
  let folded = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer' || skip.has(layer)) continue;
    const { inputTensors, outputTensors } = node0(layer);
    const ins = inputTensors.map((t) => newOf.get(t)!);
    const users = consumers.get(outputTensors[0]) ?? [];
    const cfg = layer.getConfig() as {
      useBias?: boolean;
      filters?: number;
      kernelSize: [number, number];
      strides: [number, number];
      padding: 'same' | 'valid';
      dataFormat?: string;
    };
    const foldable =
      (cls === 'Conv2D' || cls === 'DepthwiseConv2D') &&
      cfg.useBias === false &&
      users.length === 1 &&
      users[0].getClassName() === 'BatchNormalization';
    if (foldable) {
      const bn = users[0];
      const [gamma, beta, mean, variance] = bn.getWeights();
      const eps = (bn.getConfig() as { epsilon: number }).epsilon;
      const [kernel, bias] = tf.tidy((): [tf.Tensor, tf.Tensor] => {
        const scale = tf.div(gamma, tf.sqrt(tf.add(variance, eps)));
        const w = layer.getWeights()[0];
        const k = cls === 'Conv2D' ? tf.mul(w, scale) : tf.mul(w, tf.reshape(scale, [1, 1, -1, 1]));
        return [k, tf.sub(beta, tf.mul(mean, scale))];
      });
      const common = {
        kernelSize: cfg.kernelSize,
        strides: cfg.strides,
        padding: cfg.padding,
        useBias: true,
        name: layer.name,
        weights: [kernel, bias],
      };
      const conv =
        cls === 'Conv2D'
          ? tf.layers.conv2d({ ...common, filters: cfg.filters! })
          : tf.layers.depthwiseConv2d({ ...common, depthMultiplier: 1 });
      newOf.set(node0(bn).outputTensors[0], conv.apply(ins[0]) as Sym);
      tf.dispose([kernel, bias]);
      skip.add(bn);
      folded++;
      continue;
    }
    // A fresh copy (same config and weights), so the folded model owns its layers.
    const ctor = layer.constructor as unknown as { fromConfig(cls: unknown, config: object): tf.layers.Layer };
    const copy = ctor.fromConfig(layer.constructor, layer.getConfig());
    const out = copy.apply(ins.length === 1 ? ins[0] : ins) as Sym | Sym[];
    copy.setWeights(layer.getWeights());
    (Array.isArray(out) ? out : [out]).forEach((o, i) => newOf.set(outputTensors[i], o));
  }
  return {
    model: tf.model({
      inputs: input,
      outputs: model.outputs.map((o) => newOf.get(o)!),
      name: `${model.name}_folded`,
    }),
    folded,
  };
}
