/**
 * The inversion as state and a step (nanoGPT's loop body). `createRunContext` builds what a
 * run's batches share (taps, the packed BN prior). Per batch, `batchSpec` holds the targets as
 * tensors and `createBatchState` draws the starting noise, `invertStep` computes the objective once (identity + BN prior +
 * image priors on an augmented copy) and applies one Adam update, `evaluateBatch` feeds the
 * clean images' cosines to keep-best, `upsampleBatch` is the multi-resolution switch, and
 * `disposeBatchState` frees it all.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import { packBnPrior, packedBnStatLoss, packedBnStatLossOf, type PackedBnPrior } from '../bnprior/loss.js';
import { priorTargets, type PriorTargets } from '../bnprior/targets.js';
import { BnTaps } from '../bnprior/taps.js';
import { pooledStats } from '../engine/moments.js';
import { resizeArea, resizeBilinear } from '../engine/resize.js';
import { DEFAULT_NORMALIZATION, denormalizeToBytes } from '../io/image.js';
import type { ArcFaceHead } from '../arcface/head.js';
import { marginFunction } from '../arcface/margin.js';
import { Mulberry32, mixSeed } from '../util/random.js';
import { adamDispose, adamInit, adamStep, type AdamState } from './adam.js';
import { augment, drawAugmentation } from './augment.js';
import { canvasSize, type InvertConfig } from './config.js';
import { identityLoss, type ClassTargets } from './identity.js';
import { rowCosine } from '../arcface/normalize.js';
import { KeepBest } from './keepBest.js';
import type { PartExchange } from './exchange.js';
import type { Job } from './plan.js';
import { pixelL2, totalVariationL1, totalVariationL2 } from './priors.js';
import { createImageParam, initialParams, type ImageParam } from './param.js';
import { startResolution } from './schedule.js';
import type { InvertMember, InvertTargets, RgbImage } from './types.js';

/** What every batch of a run shares, built once per run. */
export interface RunContext {
  fm: FaceModel;
  /** The model with every BN layer's input as an extra output. */
  taps: BnTaps;
  /** The BN prior's target statistics and, packed for the loss, their running statistics (null without the prior). */
  prior: PriorTargets;
  packed: PackedBnPrior | null;
  config: InvertConfig;
  /**
   * How parameters become images (`param.ts`), built at the canvas size; only pixel + rgb
   * (the identity, at any size) has a half-resolution start.
   */
  param: ImageParam;
  /** [H, W] of the images optimised and written (`canvasSize`); resized to the model's input for the network. */
  canvas: [number, number];
  /** The ensemble's other members (`InvertMember`), each with its taps and packed prior; [] for one model. */
  members: MemberContext[];
}

/** One ensemble member's share of the run context. */
export interface MemberContext {
  fm: FaceModel;
  taps: BnTaps;
  prior: PriorTargets;
  packed: PackedBnPrior | null;
  weight: number;
}

/** The taps and the BN prior's statistics of `fm`, chosen and packed once per run. */
function tapModel(
  fm: FaceModel,
  config: InvertConfig,
): { taps: BnTaps; prior: PriorTargets; packed: PackedBnPrior | null } {
  const taps = new BnTaps(fm.model);
  const prior: PriorTargets = config.bnPrior
    ? priorTargets(taps, config.priorStats, fm.calibration)
    : { indices: [], stats: [], owned: [] };
  const packed = config.bnPrior
    ? packBnPrior(prior.stats, {
        form: config.bnForm,
        reduction: config.bnReduction,
        firstLayerWeight: config.bnFirstLayerWeight,
      })
    : null;
  return { taps, prior, packed };
}

/** What to reconstruct in one batch. */
export interface BatchSpec {
  /** Index of the batch in the plan (seeds its augmentation draws). */
  index: number;
  jobs: Job[];
  /** [B, D] target embeddings, one row per job; taken over by the state. */
  embeddings: tf.Tensor2D;
  /** [B] int32 class of each job, for the `arcface` identity loss; taken over by the state. */
  labels?: tf.Tensor1D;
  head?: ArcFaceHead;
  /** Per ensemble member, [B, D_m] its targets, one row per job; taken over by the state. */
  memberEmbeddings: tf.Tensor2D[];
  /** Set when these jobs are one part of a batch run on several threads. */
  split?: BatchSplit;
}

/** A batch cut into parts, one per thread, from one part's side (`exchange.ts`). */
export interface BatchSplit {
  exchange: PartExchange;
  /** Images in each part, in part order, fillers included; this part's jobs are its share. */
  sizes: number[];
  /** Read at each step's exchange: whether this part has been asked to stop. */
  stopRequested: () => boolean;
  /** Set by each step's exchange: whether any part asked to stop, so that all stop after the same step. */
  stop: boolean;
}

/**
 * The run's shared pieces: the taps, and the prior's target statistics, chosen and packed once
 * (the running statistics are constants of the run); fails before any work when calibrated
 * statistics are asked for and missing.
 */
export function createRunContext(
  fm: FaceModel,
  config: InvertConfig,
  members: readonly Pick<InvertMember, 'fm' | 'weight'>[] = [],
): RunContext {
  const { taps, prior, packed } = tapModel(fm, config);
  const canvas = canvasSize(config, fm.meta.inputSize);
  const param = createImageParam(config, canvas[0], canvas[1]);
  const others = members.map((m) => ({ fm: m.fm, weight: m.weight, ...tapModel(m.fm, config) }));
  return { fm, taps, prior, packed, config, param, canvas, members: others };
}

export function disposeRunContext(run: RunContext): void {
  run.param.dispose();
  for (const m of [run, ...run.members]) {
    m.packed?.dispose();
    tf.dispose(m.prior.owned);
  }
}

/** The targets of one batch's jobs as tensors. */
export function batchSpec(
  t: InvertTargets,
  jobs: Job[],
  index: number,
  c: InvertConfig,
  head?: ArcFaceHead,
  members: readonly Pick<InvertMember, 'targets'>[] = [],
): BatchSpec {
  const rowsOf = (e: InvertTargets): tf.Tensor2D => {
    const d = e.dim;
    const rows = new Float32Array(jobs.length * d);
    jobs.forEach((j, i) => rows.set(e.embeddings.subarray(j.target * d, (j.target + 1) * d), i * d));
    return tf.tensor2d(rows, [jobs.length, d]);
  };
  const labels = t.classes
    ? tf.tensor1d(
        jobs.map((j) => t.classes![j.target]),
        'int32',
      )
    : undefined;
  return {
    index,
    jobs,
    embeddings: rowsOf(t),
    labels,
    head: c.identityLoss === 'arcface' ? head : undefined,
    memberEmbeddings: members.map((m) => rowsOf(m.targets)),
  };
}

/** One batch's optimisation state. */
export interface BatchState {
  jobs: Job[];
  /**
   * [B, h, w, 3] what the optimiser moves at the current resolution: the pixels in [−1, 1]
   * (`toModelInput`) for the pixel + rgb parametrisation, else what `param` renders into them.
   */
  x: tf.Tensor4D;
  adam: AdamState;
  keep: KeepBest;
  /** Draws the augmentation of each step. */
  rng: Mulberry32;
  embeddings: tf.Tensor2D;
  labels?: tf.Tensor1D;
  classes?: ClassTargets;
  /** Per ensemble member, its targets [B, D_m]. */
  memberEmbeddings: tf.Tensor2D[];
  split?: BatchSplit;
}

/**
 * The images are optimised in one pixel space whatever the model takes: bytes 0..255 as
 * (byte − 127.5) / 127.5 ∈ [−1, 1] (`DEFAULT_NORMALIZATION`, what arcinvert's own models take),
 * so that the learning rate, the starting noise and the image priors mean the same for every
 * model. `toModelInput` maps them to the model's own normalisation (e.g. raw 0..255 for
 * human-models' `faceres`) just before the network.
 */
const PIXEL_RANGE: [number, number] = [-1, 1];

/** `t` (pixels in [−1, 1]) in the model's input normalisation; `t` itself when that is the same. */
export function toModelInput(fm: FaceModel, t: tf.Tensor4D): tf.Tensor4D {
  const { mean, std } = fm.meta.normalization;
  const scale = DEFAULT_NORMALIZATION.std / std;
  const shift = (DEFAULT_NORMALIZATION.mean - mean) / std;
  if (scale === 1 && shift === 0) return t;
  return tf.add(tf.mul(t, scale), shift);
}

/**
 * `t` [B, h, w, 3] at the canvas size (bilinear, half-pixel centres, with the exact gradient
 * tfjs's own resize lacks: `engine/resize.ts`), or `t` itself.
 */
function toFull(run: RunContext, t: tf.Tensor4D): tf.Tensor4D {
  return resizeBilinear(t, run.canvas);
}

/**
 * Canvas images `t` at a network's input size: shrunk by area, so that every canvas pixel reaches
 * the network (bilinear sampling skips pixels beyond a 2× shrink); bilinear where it grows.
 */
function toInputSize(fm: FaceModel, t: tf.Tensor4D): tf.Tensor4D {
  return resizeArea(t, fm.meta.inputSize);
}

/** Canvas images `t` as the network takes them: at its input size and in its normalisation. */
function networkInput(run: RunContext, t: tf.Tensor4D): tf.Tensor4D {
  return toModelInput(run.fm, toInputSize(run.fm, t));
}

/** Row `index` of `images` [B, H, W, 3] as 8-bit RGB. */
export function imageAt(images: tf.Tensor4D, index: number): RgbImage {
  const [, h, w] = images.shape;
  const values = tf.tidy(() => tf.slice(images, [index, 0, 0, 0], [1, -1, -1, -1]).dataSync());
  return { width: w, height: h, data: denormalizeToBytes(values, DEFAULT_NORMALIZATION) };
}

/** Starting noise per job (seeded by target and seed, so a job's start is the same in any batch), Adam, keep-best. */
export function createBatchState(run: RunContext, batch: BatchSpec): BatchState {
  const { config } = run;
  const [h, w] = startResolution(config, run.canvas);
  const { param } = run;
  const x = initialParams(
    param,
    (k, std) => {
      const j = batch.jobs[k];
      return tf.randomNormal([h, w, 3], 0, std, 'float32', mixSeed(config.seed, j.target, j.seed));
    },
    batch.jobs.length,
    config.initStd,
  );
  const classes: ClassTargets | undefined =
    config.identityLoss === 'arcface' && batch.head && batch.labels
      ? { head: batch.head, labels: batch.labels, margin: marginFunction(config.margin) }
      : undefined;
  return {
    jobs: batch.jobs,
    x,
    adam: adamInit(x),
    keep: new KeepBest(tf.tidy(() => toFull(run, param.render(x)).clone())),
    rng: new Mulberry32(mixSeed(config.seed, batch.index, 0x5eed)),
    embeddings: batch.embeddings,
    labels: batch.labels,
    classes,
    memberEmbeddings: batch.memberEmbeddings,
    split: batch.split,
  };
}

export function disposeBatchState(s: BatchState): void {
  tf.dispose([s.x, s.embeddings, ...s.memberEmbeddings]);
  s.labels?.dispose();
  s.keep.dispose();
  adamDispose(s.adam);
}

/** The multi-resolution switch: the parameters upsampled to full size, with a fresh Adam. */
export function upsampleBatch(run: RunContext, s: BatchState): void {
  const up = tf.tidy(() => toFull(run, s.x));
  s.x.dispose();
  adamDispose(s.adam);
  s.x = up;
  s.adam = adamInit(up);
}

/** The images of `s` at full size, pixels in [−1, 1]; may be `s.x` itself (pixel + rgb at full size). */
function fullImages(run: RunContext, s: BatchState): tf.Tensor4D {
  return tf.tidy(() => toFull(run, run.param.render(s.x)));
}

/**
 * The objective on images `x` [B, h, w, 3]: weighted identity loss, BN prior and image priors
 * of one augmented view. Returns the total and the stacked terms [6] (`TERM_NAMES` order).
 *
 * A batch cut into parts (`s.split`) computes, in each part, the objective of the whole batch
 * with the other parts' images held constant: its per-image means count its own images over
 * the whole batch's, and the BN prior sees the pooled statistics of all parts. The gradient is
 * then the whole batch's for this part's pixels, and every part reports the same terms.
 */
function objective(run: RunContext, s: BatchState, x: tf.Tensor4D): { total: tf.Scalar; terms: tf.Tensor1D } {
  const c = run.config;
  const img = toFull(run, run.param.render(x));
  // Priors on the canvas. The augmentation moves the canvas by whole canvas pixels (the jitter
  // scaled to it: on a larger canvas, shifts that do not line up with the shrink to the network
  // show it what lies between its pixels), then each network sees the view at its input size.
  const a = drawAugmentation(s.rng, canvasJitter(run), c.flip, c.scaleJitter, c.colourShift);
  const view = augment(img, a);
  const share = s.split ? s.split.sizes[s.split.exchange.part] / sum(s.split.sizes) : 1;
  const part = (t: tf.Scalar): tf.Scalar => (share === 1 ? t : (t.mul(share) as tf.Scalar));
  const models = [
    { m: run as ModelContext, weight: 1, out: modelOutputs(run, c.identityLoss, view, s.embeddings, s.classes) },
    ...run.members.map((m, k) => ({
      m,
      weight: m.weight,
      out: modelOutputs(m, 'cosine', view, s.memberEmbeddings[k]),
    })),
  ];
  // Per-image terms, as this part's share of the batch mean: [identity per model, tv1, tv2, l2].
  const local = [
    ...models.map(({ out }) => part(out.id)),
    part(totalVariationL1(img).mean()),
    part(totalVariationL2(img).mean()),
    part(pixelL2(img).mean()),
  ];
  const pooled = s.split ? exchangeParts(s.split, local, models) : undefined;
  const bns = models.map(({ m, out }, k) =>
    !m.packed
      ? tf.scalar(0)
      : pooled
        ? packedBnStatLossOf(pooled.stats[k], m.packed).total
        : packedBnStatLoss(out.stats, m.packed).total,
  );
  const weighted = (terms: tf.Scalar[]): tf.Scalar => {
    const [tv1, tv2, l2] = terms.slice(models.length);
    return tf.addN([
      terms[0].mul(c.identityWeight),
      bns[0].mul(c.bnWeight),
      tv1.mul(c.tvL1Weight),
      tv2.mul(c.tvL2Weight),
      l2.mul(c.l2Weight),
      // The ensemble's other members: their weighted identity and BN-prior terms join the total.
      ...models
        .slice(1)
        .map(({ weight }, k) => tf.mul(tf.add(terms[k + 1].mul(c.identityWeight), bns[k + 1].mul(c.bnWeight)), weight)),
    ]) as tf.Scalar;
  };
  const total = weighted(local);
  // The terms reported: this batch's (every part's, summed), and a total of those.
  const shown = pooled ? pooled.terms.map((v) => tf.scalar(v)) : local;
  const [tv1, tv2, l2] = shown.slice(models.length);
  const reportedTotal = pooled ? weighted(shown) : total;
  return { total, terms: tf.stack([reportedTotal, shown[0], bns[0], tv1, tv2, l2]) as tf.Tensor1D };
}

/** Σ of `values`. */
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/**
 * One round of a split batch's exchange: this part's per-image terms and, per model, its BN
 * inputs' statistics side by side go out with its stop request; back come the batch's terms
 * (summed over parts in part order, so every part gets the same numbers) and, per model, the
 * pooled statistics, this part's own as the tensor that carries its gradient.
 */
function exchangeParts(
  split: BatchSplit,
  local: readonly tf.Scalar[],
  models: ReadonlyArray<{ m: ModelContext; out: { stats: tf.Tensor2D[] } }>,
): { terms: number[]; stats: tf.Tensor2D[] } {
  const { exchange, sizes } = split;
  const stats = models.map(({ out }) => (out.stats.length ? tf.concat(out.stats, 1) : tf.zeros([2, 0])) as tf.Tensor2D);
  const row = tf.tidy(() =>
    tf
      .concat([
        tf.tensor1d([split.stopRequested() ? 1 : 0]),
        tf.stack([...local]),
        ...stats.map((t) => t.reshape([-1])),
      ])
      .dataSync(),
  ) as Float32Array;
  const all = exchange.allGather(row);
  const rows = sizes.map((_, p) => all.subarray(p * exchange.length, (p + 1) * exchange.length));
  split.stop = rows.some((r) => r[0] !== 0);
  const terms = local.map((_, k) => rows.reduce((acc, r) => acc + r[1 + k], 0));
  let at = 1 + local.length;
  const pooled = stats.map((mine) => {
    const width = mine.size;
    const parts = rows.map((r, p) =>
      p === exchange.part ? mine : tf.tensor2d(r.subarray(at, at + width), mine.shape as [number, number]),
    );
    at += width;
    return pooledStats(parts, sizes);
  });
  return { terms, stats: pooled };
}

/** The number of floats a split batch's parts exchange each step (`exchangeParts`) for this run. */
export function exchangeLength(run: RunContext): number {
  const models: ModelContext[] = [run, ...run.members];
  const channels = models.reduce((acc, m) => acc + sum(m.packed?.channels ?? []), 0);
  return 1 + models.length + 3 + 2 * channels;
}

/** `jitter` (in the attacked model's input pixels) in canvas pixels. */
function canvasJitter(run: RunContext): number {
  return Math.round((run.config.jitter * run.canvas[0]) / run.fm.meta.inputSize[0]);
}

/** What `modelOutputs` needs of a model: the run itself or an ensemble member. */
type ModelContext = Pick<MemberContext, 'fm' | 'taps' | 'prior' | 'packed'>;

/**
 * One model on the augmented canvas images `view`, shrunk to its input size: its identity loss
 * (mean over the images) and its prior's BN inputs' batch statistics ([2, C] per layer).
 */
function modelOutputs(
  m: ModelContext,
  loss: InvertConfig['identityLoss'],
  view: tf.Tensor4D,
  targets: tf.Tensor2D,
  classes?: ClassTargets,
): { id: tf.Scalar; stats: tf.Tensor2D[] } {
  const x = toModelInput(m.fm, toInputSize(m.fm, view));
  const { embedding, stats } = m.packed
    ? m.taps.statsAt(x, m.prior.indices)
    : { embedding: m.taps.apply(x).embedding, stats: [] };
  const id = identityLoss(loss, embedding, targets, classes).mean() as tf.Scalar;
  return { id, stats };
}

/**
 * One step: the objective and its gradient, one Adam update at learning rate `lr`, pixels
 * clipped to [−1, 1] (bytes 0..255). Returns the step's loss terms [6] (`TERM_NAMES` order); the caller disposes them.
 */
export function invertStep(run: RunContext, s: BatchState, lr: number): tf.Tensor1D {
  const c = run.config;
  let terms: tf.Tensor1D | undefined;
  const { value, grad } = tf.valueAndGrad((xv: tf.Tensor) => {
    const o = objective(run, s, xv as tf.Tensor4D);
    terms = tf.keep(o.terms);
    return o.total;
  })(s.x);
  const next = adamStep(s.x, grad, s.adam, { lr, beta1: c.beta1, beta2: c.beta2, epsilon: c.adamEpsilon });
  const [lo, hi] = PIXEL_RANGE;
  // Pixels are clipped to their range; other parametrisations render into it through tanh.
  const clipped = (run.param.identity ? tf.tidy(() => tf.clipByValue(next.x, lo, hi)) : next.x) as tf.Tensor4D;
  tf.dispose([value, grad, s.x]);
  if (clipped !== next.x) next.x.dispose();
  adamDispose(s.adam);
  s.adam = next.state;
  s.x = clipped;
  return terms!;
}

/** Keep-best: the clean (unaugmented, full-size) images' cosines to their targets, at `step`. */
export function evaluateBatch(run: RunContext, s: BatchState, step: number): void {
  const full = fullImages(run, s);
  // Through the step's own graph (`FrozenGraph`: fused BatchNorm, the native matrix products),
  // not the layers model: a third of the time, the same embedding to float rounding.
  const cos = tf.tidy(() => rowCosine(run.taps.apply(networkInput(run, full)).embedding, s.embeddings));
  s.keep.update(full, Float32Array.from(cos.dataSync()), step);
  cos.dispose();
  if (full !== s.x) full.dispose();
}

/** The current images of the real jobs, at full size. */
export function currentImages(
  run: RunContext,
  s: BatchState,
): Array<{ target: number; seed: number; image: RgbImage }> {
  const full = fullImages(run, s);
  const images = s.jobs.flatMap((j, i) =>
    j.filler ? [] : [{ target: j.target, seed: j.seed, image: imageAt(full, i) }],
  );
  if (full !== s.x) full.dispose();
  return images;
}
