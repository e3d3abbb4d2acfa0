/**
 * One optimisation step of ArcFace training (arcface_torch `train_v2.py`, the body of its
 * loop): forward in training mode, head logits with the margin, softmax cross-entropy, gradients
 * (optionally summed over micro-batches), `clip_grad_norm_` on the backbone's gradients, SGD.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import { TrainGraph } from '../engine/layerGraph.js';
import type { TrainConfig } from './config.js';
import { distillLoss } from './distill.js';
import type { ArcFaceHead } from '../arcface/head.js';
import { softmaxCrossEntropy, type MarginFn } from '../arcface/margin.js';
import { clipByGlobalNorm, sgdStep } from './sgd.js';

/** The trainable variables in optimiser order: the backbone's, then the head's (centres, projection). */
export function trainables(
  fm: FaceModel,
  head: ArcFaceHead,
): { vars: tf.Variable[]; names: string[]; backbone: number } {
  const bb = fm.model.trainableWeights;
  return {
    vars: [...bb.map((w) => w.read() as tf.Variable), ...head.trainableVariables],
    names: [...bb.map((w) => w.originalName), 'head/weight', ...(head.projection ? ['head/projection'] : [])],
    backbone: bb.length,
  };
}

/** Teacher embeddings of a batch's images and the weight λ of the distillation term. */
export interface DistillBatch {
  /** [B, T], row i for image i of the batch. */
  targets: tf.Tensor2D;
  weight: number;
}

/**
 * The loss of one piece of a batch: ArcFace softmax cross-entropy, plus λ·`distillLoss` of
 * the projected embeddings when `distill` is given. `graph` is the backbone in training mode
 * (`TrainGraph`: what `model.apply(x, { training: true })` computes, with cheaper gradients).
 */
export function pieceLoss(
  graph: TrainGraph,
  head: ArcFaceHead,
  margin: MarginFn,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  distill?: DistillBatch,
): tf.Scalar {
  const emb = graph.apply(x)[0] as tf.Tensor2D;
  const ce = softmaxCrossEntropy(head.logits(emb, y, margin), y);
  if (!distill) return ce;
  return tf.add(ce, tf.mul(distillLoss(head.project(emb), distill.targets), distill.weight)) as tf.Scalar;
}

export interface StepOut {
  loss: tf.Scalar;
  norm: tf.Scalar;
  buffers: tf.Tensor[];
}

/** What `batchGradients` differentiates. */
export interface GradientsRequest {
  fm: FaceModel;
  head: ArcFaceHead;
  margin: MarginFn;
  /** The variables to differentiate, in optimiser order (`trainables`). */
  vars: tf.Variable[];
  /** [B, H, W, 3] images and [B] int32 class ids. */
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  /** Images per forward and backward pass. */
  chunk: number;
  /** Size of the whole batch the chunks' losses are weighted against (default: `images` alone). */
  total?: number;
  /** Runs after each chunk's forward and backward pass. */
  afterChunk?: () => void;
  distill?: DistillBatch;
}

/**
 * Summed gradients of the mean loss over `images`, computed in chunks of `chunk` images (each
 * chunk's mean loss weighted by its share of a batch of `total` images). `afterChunk` is where
 * the data-parallel worker reads the chunk's BatchNorm statistics. Returns the loss and one
 * gradient per variable of `vars`; the caller disposes them.
 */
export function batchGradients(r: GradientsRequest): { loss: tf.Scalar; grads: tf.Tensor[] } {
  const { fm, head, margin, vars, images, labels, chunk, afterChunk, distill } = r;
  const total = r.total ?? images.shape[0];
  const n = images.shape[0];
  const graph = new TrainGraph(fm.model);
  let loss: tf.Scalar | null = null;
  let sum: tf.Tensor[] | null = null;
  for (let start = 0; start < n; start += chunk) {
    const len = Math.min(chunk, n - start);
    const { value, grads } = tf.variableGrads(() => {
      const x = len === n ? images : tf.slice(images, [start, 0, 0, 0], [len, -1, -1, -1]);
      const y = len === n ? labels : tf.slice(labels, [start], [len]);
      const d =
        distill && len !== n
          ? { ...distill, targets: tf.slice(distill.targets, [start, 0], [len, -1]) as tf.Tensor2D }
          : distill;
      const l = pieceLoss(graph, head, margin, x, y, d);
      return len === total ? l : (tf.mul(l, len / total) as tf.Scalar);
    }, vars);
    afterChunk?.();
    const g = vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
    if (sum === null || loss === null) {
      loss = value;
      sum = g;
    } else {
      const prevLoss: tf.Scalar = loss;
      const prev: tf.Tensor[] = sum;
      loss = tf.add(prevLoss, value) as tf.Scalar;
      sum = prev.map((t, i) => tf.add(t, g[i]));
      tf.dispose([prevLoss, value, ...prev, ...g]);
    }
    tf.dispose(Object.values(grads).filter((t) => !g.includes(t)));
  }
  return { loss: loss!, grads: sum! };
}

/**
 * One optimiser step on a batch, in place on the model and head variables.
 * @param images [B, H, W, 3]; labels [B] int32 class ids.
 * @returns the batch's mean loss, the backbone gradient norm before clipping, and the new
 *   momentum buffers; the caller disposes them and the old buffers.
 */
export function trainStep(
  fm: FaceModel,
  head: ArcFaceHead,
  margin: MarginFn,
  p: ReturnType<typeof trainables>,
  buffers: tf.Tensor[],
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  cfg: TrainConfig,
  lr: number,
  distill?: DistillBatch,
): StepOut {
  const chunk = cfg.microBatch > 0 ? cfg.microBatch : images.shape[0];
  const { loss, grads } = batchGradients({ fm, head, margin, vars: p.vars, images, labels, chunk, distill });
  return applyGradients(p, buffers, loss, grads, cfg, lr);
}

/**
 * The update half of a step: `clip_grad_norm_` on the backbone's part of `grads` (one per
 * variable of `p.vars`), then SGD. Takes ownership of `loss` and disposes `grads`.
 */
export function applyGradients(
  p: ReturnType<typeof trainables>,
  buffers: tf.Tensor[],
  loss: tf.Scalar,
  g: tf.Tensor[],
  cfg: TrainConfig,
  lr: number,
): StepOut {
  const bb = g.slice(0, p.backbone);
  const clip =
    cfg.gradClipNorm > 0
      ? clipByGlobalNorm(bb, cfg.gradClipNorm)
      : {
          grads: bb.map((t) => t.clone()),
          norm: tf.tidy(() => tf.sqrt(tf.addN(bb.map((t) => tf.sum(tf.square(t))))) as tf.Scalar),
        };
  const next = sgdStep(p.vars, [...clip.grads, ...g.slice(p.backbone)], buffers, {
    lr,
    momentum: cfg.momentum,
    weightDecay: cfg.weightDecay,
  });
  tf.dispose([...g, ...clip.grads]);
  return { loss, norm: clip.norm, buffers: next };
}
