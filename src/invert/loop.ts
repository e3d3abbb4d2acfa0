/**
 * The inversion loop (ArcFace TPAMI §3.3 "face synthesis"; optimisation as NVlabs
 * DeepInversion): start from noise and optimise the input pixels with Adam so that the
 * model's embedding matches the target, while every BatchNorm layer's batch statistics are
 * pulled towards its running statistics and TV / L2 priors keep the image smooth.
 *
 * The network always runs in inference mode, so its weights and moving statistics are never
 * written. The core has no UI: progress goes to `onProgress`, cancellation comes through an
 * `AbortSignal` (the current step finishes, the best images so far are returned).
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import { packBnPrior, packedBnStatLoss, type PackedBnPrior } from '../bnprior/loss.js';
import { priorTargets, type PriorTargets } from '../bnprior/targets.js';
import { BnTaps } from '../bnprior/taps.js';
import { channelStats } from '../engine/moments.js';
import { ArcinvertError } from '../errors.js';
import { denormalizeToBytes } from '../io/image.js';
import type { ArcFaceHead } from '../arcface/head.js';
import { marginFunction } from '../arcface/margin.js';
import { Mulberry32, mixSeed } from '../util/random.js';
import { adamDispose, adamInit, adamStep, type AdamState } from './adam.js';
import { augment, drawAugmentation } from './augment.js';
import { learningRate, type InvertConfig } from './config.js';
import { rowCosine } from '../arcface/normalize.js';
import { identityLoss, type ClassTargets } from './identity.js';
import { planBatches, type Job } from './plan.js';
import { pixelL2, totalVariationL1, totalVariationL2 } from './priors.js';
import type { InvertedImage, InvertProgress, LossTerms, RgbImage } from './types.js';

/** What to reconstruct: N target embeddings, and their classes for the closed-set loss. */
export interface InvertTargets {
  /** N×D row-major; rows need not be normalised. */
  embeddings: Float32Array;
  dim: number;
  /** Class id of each target (required by the `arcface` identity loss). */
  classes?: Int32Array;
}

/** Snapshot of a batch's current images. */
export interface InvertSnapshot {
  batch: number;
  step: number;
  images: Array<{ target: number; seed: number; image: RgbImage }>;
}

export interface InvertHooks {
  /** The trained classifier, for `identityLoss: 'arcface'`. */
  head?: ArcFaceHead;
  onProgress?: (p: InvertProgress) => void;
  onSnapshot?: (s: InvertSnapshot) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface InvertResult {
  /** One per target × seed, in target-major order (fewer when aborted). */
  images: InvertedImage[];
  aborted: boolean;
  seconds: number;
}

const TERM_NAMES = ['total', 'identity', 'bn', 'tvL1', 'tvL2', 'l2'] as const;

function toRgb(images: tf.Tensor4D, index: number, fm: FaceModel): RgbImage {
  const [, h, w] = images.shape;
  const values = tf.tidy(() => tf.slice(images, [index, 0, 0, 0], [1, -1, -1, -1]).dataSync());
  return { width: w, height: h, data: denormalizeToBytes(values, fm.meta.normalization) };
}

function checkTargets(fm: FaceModel, targets: InvertTargets, config: InvertConfig, hooks: InvertHooks): number {
  const n = targets.embeddings.length / targets.dim;
  if (targets.dim !== fm.meta.embeddingSize) {
    throw new ArcinvertError(
      `targets have dimension ${targets.dim} but the model's embedding size is ${fm.meta.embeddingSize}`,
    );
  }
  if (!Number.isInteger(n) || n < 1) throw new ArcinvertError('no targets to invert');
  if (config.identityLoss === 'arcface') {
    if (hooks.head === undefined)
      throw new ArcinvertError('identity loss arcface needs the model classifier (head), which this model lacks');
    if (targets.classes === undefined || targets.classes.length !== n)
      throw new ArcinvertError('identity loss arcface needs a class for every target (--class)');
  }
  return n;
}

/**
 * Inverts `targets` through `fm`: see the module comment. `batchIndices` runs only those
 * batches of the plan (`planBatches` order), with the images a full run gives them; this is
 * how `invertParallel` shares the batches out between workers.
 */
export async function invert(
  fm: FaceModel,
  targets: InvertTargets,
  config: InvertConfig,
  hooks: InvertHooks = {},
  batchIndices?: readonly number[],
): Promise<InvertResult> {
  const n = checkTargets(fm, targets, config, hooks);
  const taps = new BnTaps(fm.model);
  const batches = planBatches(n, config.seeds, config.batchSize, config.minBatch);
  const selected = batchIndices ?? batches.map((_, b) => b);
  if (selected.some((b) => !Number.isInteger(b) || b < 0 || b >= batches.length)) {
    throw new ArcinvertError(`batch indices [${selected.join(', ')}] outside the ${batches.length} planned batches`);
  }
  const started = performance.now();
  const images: InvertedImage[] = [];
  const run = { globalStep: 0, totalSteps: selected.length * config.steps, started };
  let aborted = false;
  // The prior's target statistics, chosen once for every batch; fails before any work when calibrated ones are missing.
  const prior: PriorTargets = config.bnPrior
    ? priorTargets(taps, config.priorStats, fm.calibration)
    : { indices: [], stats: [], owned: [] };
  // Packed once: the running statistics are constants of the run.
  const packed = config.bnPrior
    ? packBnPrior(prior.stats, {
        form: config.bnForm,
        reduction: config.bnReduction,
        firstLayerWeight: config.bnFirstLayerWeight,
      })
    : null;
  try {
    for (let i = 0; i < selected.length && !aborted; i++) {
      const b = selected[i];
      const out = await invertBatch(
        fm,
        taps,
        prior,
        packed,
        targets,
        batches[b],
        b,
        batches.length,
        config,
        hooks,
        run,
      );
      images.push(...out.images);
      aborted = out.aborted;
    }
  } finally {
    packed?.dispose();
    tf.dispose(prior.owned);
  }
  return { images, aborted, seconds: (performance.now() - started) / 1000 };
}

interface RunClock {
  globalStep: number;
  totalSteps: number;
  started: number;
}

async function invertBatch(
  fm: FaceModel,
  taps: BnTaps,
  prior: PriorTargets,
  packed: PackedBnPrior | null,
  targets: InvertTargets,
  jobs: Job[],
  batchIndex: number,
  batches: number,
  config: InvertConfig,
  hooks: InvertHooks,
  run: RunClock,
): Promise<{ images: InvertedImage[]; aborted: boolean }> {
  const [H, W] = fm.meta.inputSize;
  const { mean, std } = fm.meta.normalization;
  const [lo, hi] = [(0 - mean) / std, (255 - mean) / std];
  const B = jobs.length;
  const d = targets.dim;
  const batchStart = performance.now();
  const rng = new Mulberry32(mixSeed(config.seed, batchIndex, 0x5eed));
  const lowSteps = config.multiResolution ? Math.round(config.steps * config.multiResolutionFraction) : 0;
  const lowRes: [number, number] = [H / 2, W / 2];

  const rows = new Float32Array(B * d);
  jobs.forEach((j, i) => rows.set(targets.embeddings.subarray(j.target * d, (j.target + 1) * d), i * d));
  const targetT = tf.tensor2d(rows, [B, d]);
  const classLabels = targets.classes
    ? tf.tensor1d(
        jobs.map((j) => targets.classes![j.target]),
        'int32',
      )
    : undefined;
  const classes: ClassTargets | undefined =
    config.identityLoss === 'arcface' && hooks.head && classLabels
      ? { head: hooks.head, labels: classLabels, margin: marginFunction(config.margin) }
      : undefined;

  const startRes = lowSteps > 0 ? lowRes : ([H, W] as [number, number]);
  let x: tf.Tensor4D = tf.tidy(() =>
    tf.clipByValue(
      tf.stack(
        jobs.map((j) =>
          tf.randomNormal(
            [startRes[0], startRes[1], 3],
            0,
            config.initStd,
            'float32',
            mixSeed(config.seed, j.target, j.seed),
          ),
        ),
      ),
      lo,
      hi,
    ),
  ) as tf.Tensor4D;
  let adam: AdamState = adamInit(x);
  const toFull = (t: tf.Tensor4D): tf.Tensor4D =>
    t.shape[1] === H ? t : tf.image.resizeBilinear(t, [H, W], false, true);

  let best = tf.tidy(() => toFull(x).clone());
  const bestCos = new Float32Array(B).fill(-Infinity);
  const bestStep = new Int32Array(B);
  let lastCos: Float32Array = new Float32Array(B);
  /** The loss terms of the last step, kept out of the gradient's tidy until read. */
  let termsT: tf.Tensor | undefined;
  let terms: LossTerms = { total: 0, identity: 0, bn: 0, tvL1: 0, tvL2: 0, l2: 0 };
  let aborted = false;
  let stepsDone = 0;

  const lossFn = (xv: tf.Tensor): tf.Scalar => {
    const img = toFull(xv as tf.Tensor4D);
    const a = drawAugmentation(rng, config.jitter, config.flip);
    const out = taps.apply(augment(img, a));
    const id = identityLoss(config.identityLoss, out.embedding, targetT, classes).mean();
    const bn = config.bnPrior
      ? packedBnStatLoss(
          prior.indices.map((k) => channelStats(out.bnInputs[k])),
          packed!,
        ).total
      : tf.scalar(0);
    const tv1 = totalVariationL1(img).mean();
    const tv2 = totalVariationL2(img).mean();
    const l2 = pixelL2(img).mean();
    const total = tf.addN([
      id.mul(config.identityWeight),
      bn.mul(config.bnWeight),
      tv1.mul(config.tvL1Weight),
      tv2.mul(config.tvL2Weight),
      l2.mul(config.l2Weight),
    ]) as tf.Scalar;
    termsT = tf.keep(tf.stack([total, id, bn, tv1, tv2, l2]));
    return total;
  };

  const evaluate = (step: number): void => {
    const full = tf.tidy(() => toFull(x));
    const cos = tf.tidy(() => rowCosine(fm.model.apply(full, { training: false }) as tf.Tensor2D, targetT));
    lastCos = Float32Array.from(cos.dataSync());
    const improved = Array.from(lastCos, (c, i) => c > bestCos[i]);
    if (improved.some(Boolean)) {
      const mask = tf.tensor1d(
        improved.map((v) => (v ? 1 : 0)),
        'bool',
      );
      const next = tf.tidy(() => tf.where(tf.reshape(mask, [B, 1, 1, 1]).tile([1, H, W, 3]), full, best));
      tf.dispose([best, mask]);
      best = next as tf.Tensor4D;
      improved.forEach((v, i) => {
        if (v) {
          bestCos[i] = lastCos[i];
          bestStep[i] = step;
        }
      });
    }
    cos.dispose();
    if (full !== x) full.dispose();
  };

  const firstReal = jobs.findIndex((j) => !j.filler);
  for (let step = 0; step < config.steps; step++) {
    if (step === lowSteps && lowSteps > 0) {
      const up = tf.tidy(() => toFull(x));
      x.dispose();
      adamDispose(adam);
      x = up;
      adam = adamInit(x);
    }
    const lr = learningRate(config, step);
    const { value, grad } = tf.valueAndGrad(lossFn)(x);
    const next = adamStep(x, grad, adam, { lr, beta1: config.beta1, beta2: config.beta2, epsilon: config.adamEpsilon });
    const clipped = tf.tidy(() => tf.clipByValue(next.x, lo, hi)) as tf.Tensor4D;
    tf.dispose([value, grad, x, next.x]);
    adamDispose(adam);
    adam = next.state;
    x = clipped;
    stepsDone = step + 1;
    run.globalStep++;
    aborted = hooks.signal?.aborted ?? false;
    const last = stepsDone === config.steps || aborted;
    if (step % config.evalEvery === config.evalEvery - 1 || last) evaluate(stepsDone);
    if (termsT && (stepsDone % config.reportEvery === 0 || last)) {
      const v = termsT.dataSync();
      terms = Object.fromEntries(TERM_NAMES.map((k, i) => [k, v[i]])) as unknown as LossTerms;
    }
    termsT?.dispose();
    termsT = undefined;
    if (hooks.onProgress && (stepsDone % config.reportEvery === 0 || last)) {
      const elapsed = (performance.now() - run.started) / 1000;
      const real = jobs.map((j, i) => (j.filler ? NaN : i)).filter((i) => !Number.isNaN(i));
      const cosReal = real.map((i) => lastCos[i]);
      const wantPreview = config.previewEvery > 0 && (stepsDone % config.previewEvery === 0 || last);
      hooks.onProgress({
        batch: batchIndex,
        batches,
        step: stepsDone,
        steps: config.steps,
        globalStep: run.globalStep,
        totalSteps: run.totalSteps,
        lr,
        resolution: [x.shape[1], x.shape[2]],
        losses: terms,
        cosine: {
          mean: cosReal.reduce((a, c) => a + c, 0) / cosReal.length,
          min: Math.min(...cosReal),
          max: Math.max(...cosReal),
          bestMean: real.reduce((a, i) => a + (Number.isFinite(bestCos[i]) ? bestCos[i] : 0), 0) / real.length,
        },
        stepsPerSecond: run.globalStep / elapsed,
        etaSeconds: ((run.totalSteps - run.globalStep) * elapsed) / run.globalStep,
        preview: wantPreview ? toRgb(best, firstReal, fm) : undefined,
      });
    }
    if (hooks.onSnapshot && config.snapshotEvery > 0 && stepsDone % config.snapshotEvery === 0) {
      const full = tf.tidy(() => toFull(x));
      const snaps = jobs.flatMap((j, i) =>
        j.filler ? [] : [{ target: j.target, seed: j.seed, image: toRgb(full, i, fm) }],
      );
      if (full !== x) full.dispose();
      await hooks.onSnapshot({ batch: batchIndex, step: stepsDone, images: snaps });
    }
    if (aborted) break;
    // Let the event loop run (Ctrl-C handlers, UI redraws) between steps.
    await new Promise((resolve) => setImmediate(resolve));
  }

  const seconds = (performance.now() - batchStart) / 1000;
  const results: InvertedImage[] = [];
  jobs.forEach((j, i) => {
    if (j.filler) return;
    results.push({
      target: j.target,
      seed: j.seed,
      image: toRgb(best, i, fm),
      bestCosine: bestCos[i],
      finalCosine: lastCos[i],
      bestStep: bestStep[i],
      finalLosses: terms,
      steps: stepsDone,
      seconds,
    });
  });
  tf.dispose([x, best, targetT]);
  if (classLabels) classLabels.dispose();
  adamDispose(adam);
  return { images: results, aborted };
}
