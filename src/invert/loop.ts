/**
 * The inversion loop (ArcFace TPAMI §3.3 "face synthesis"; optimisation as NVlabs
 * DeepInversion): start from noise and optimise the input pixels with Adam so that the
 * model's embedding matches the target, while every BatchNorm layer's batch statistics are
 * pulled towards its running statistics and TV / L2 priors keep the image smooth.
 *
 * This file is the serial driver: the run's setup (taps, prior), then per batch one short loop
 * over `invertStep` (step.ts) with the schedule (schedule.ts), keep-best (keepBest.ts) and
 * progress (progress.ts) around it. `invert` (invert.ts) chooses between it and the workers.
 *
 * The network always runs in inference mode, so its weights and moving statistics are never
 * written. The core has no UI: progress goes to `onProgress`, cancellation comes through an
 * `AbortSignal` (the current step finishes, the best images so far are returned).
 */
import type { FaceModel } from '../model/types.js';
import { ArcinvertError } from '../errors.js';
import type { ArcFaceHead } from '../arcface/head.js';
import type { InvertConfig } from './config.js';
import { partOf, partSizes, type PartExchange } from './exchange.js';
import { planBatches, type Job } from './plan.js';
import { cosineSummary, lossTerms, NO_LOSSES, throughput, type RunClock } from './progress.js';
import { scheduleAt } from './schedule.js';
import {
  batchSpec,
  createBatchState,
  createRunContext,
  currentImages,
  disposeBatchState,
  disposeRunContext,
  evaluateBatch,
  imageAt,
  invertStep,
  upsampleBatch,
  type BatchSpec,
  type BatchState,
  type RunContext,
} from './step.js';
import type {
  InvertDivergence,
  InvertedImage,
  InvertMember,
  InvertProgress,
  InvertResult,
  InvertSnapshot,
  InvertTargets,
  LossTerms,
} from './types.js';

export type { InvertResult, InvertSnapshot, InvertTargets };

export interface InvertHooks {
  /** The trained classifier, for `identityLoss: 'arcface'`. */
  head?: ArcFaceHead;
  /** Other models the images must satisfy too (an ensemble; `InvertMember`); default none. */
  members?: readonly InvertMember[];
  onProgress?: (p: InvertProgress) => void;
  onSnapshot?: (s: InvertSnapshot) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Options of the serial driver: the hooks, and optionally which batches of the plan to run. */
export interface SerialInvertOptions extends InvertHooks {
  /**
   * Only these batches of the plan (`planBatches` order), with the images a full run gives
   * them; this is how `invertParallel` shares the batches out between workers. Default: all.
   */
  batches?: readonly number[];
  /**
   * Run only this thread's part of the one selected batch; the other parts run on other threads
   * and join each step through `exchange` (exchange.ts, how `invertParallel` puts one batch on
   * several cores). The images are those of this part's jobs.
   */
  split?: { exchange: PartExchange };
}

function checkTargets(fm: FaceModel, targets: InvertTargets, config: InvertConfig, hooks: InvertHooks): number {
  const n = targets.embeddings.length / targets.dim;
  if (targets.dim !== fm.meta.embeddingSize) {
    throw new ArcinvertError(
      `targets have dimension ${targets.dim} but the model's embedding size is ${fm.meta.embeddingSize}`,
    );
  }
  if (!Number.isInteger(n) || n < 1) throw new ArcinvertError('no targets to invert');
  (hooks.members ?? []).forEach((m, k) => {
    const rows = m.targets.embeddings.length / m.targets.dim;
    if (m.targets.dim !== m.fm.meta.embeddingSize || rows !== n)
      throw new ArcinvertError(
        `ensemble member ${k + 1}: its targets are ${rows}×${m.targets.dim}, the run needs ${n}×${m.fm.meta.embeddingSize} (one row per target in its embedding space)`,
      );
    if (!(m.weight >= 0 && Number.isFinite(m.weight)))
      throw new ArcinvertError(`ensemble member ${k + 1}: weight must be a number ≥ 0, got ${m.weight}`);
  });
  if ((hooks.members ?? []).length > 0 && config.identityLoss === 'arcface')
    throw new ArcinvertError('identity loss arcface (closed set) is for one model; an ensemble uses cosine or l2');
  if (config.identityLoss === 'arcface') {
    if (hooks.head === undefined)
      throw new ArcinvertError('identity loss arcface needs the model classifier (head), which this model lacks');
    if (targets.classes === undefined || targets.classes.length !== n)
      throw new ArcinvertError('identity loss arcface needs a class for every target (classes)');
  }
  return n;
}

/**
 * Inverts `targets` through `fm` on this thread: see the module comment. `options.batches`
 * runs a subset of the plan's batches.
 */
export async function invertSerial(
  fm: FaceModel,
  targets: InvertTargets,
  config: InvertConfig,
  options: SerialInvertOptions = {},
): Promise<InvertResult> {
  const n = checkTargets(fm, targets, config, options);
  const plan = planBatches(n, config.seeds, config.batchSize, config.minBatch);
  const selected = options.batches ?? plan.map((_, b) => b);
  if (selected.some((b) => !Number.isInteger(b) || b < 0 || b >= plan.length)) {
    throw new ArcinvertError(`batch indices [${selected.join(', ')}] outside the ${plan.length} planned batches`);
  }
  if (options.split && selected.length !== 1)
    throw new ArcinvertError(`a batch split into parts runs alone, not with ${selected.length} batches`);
  const started = performance.now();
  const clock: RunClock = { globalStep: 0, totalSteps: selected.length * config.steps, started };
  const images: InvertedImage[] = [];
  let aborted = false;
  let diverged: InvertDivergence | undefined;
  const members = options.members ?? [];
  const run = createRunContext(fm, config, members);
  try {
    for (let i = 0; i < selected.length && !aborted && !diverged; i++) {
      const spec = options.split
        ? splitSpec(targets, plan[selected[i]], selected[i], config, options.split.exchange, options)
        : batchSpec(targets, plan[selected[i]], selected[i], config, options.head, members);
      const out = await invertBatch(run, spec, { ...options, batches: plan.length, clock });
      images.push(...out.images);
      aborted = out.aborted;
      diverged = out.diverged;
    }
  } finally {
    disposeRunContext(run);
  }
  return { images, aborted, ...(diverged && { diverged }), seconds: (performance.now() - started) / 1000 };
}

/** This thread's part of batch `index` (`jobs`): its share of the jobs, and the exchange with the other parts. */
function splitSpec(
  targets: InvertTargets,
  jobs: Job[],
  index: number,
  config: InvertConfig,
  exchange: PartExchange,
  options: SerialInvertOptions,
): BatchSpec {
  const sizes = partSizes(jobs.length, exchange.parts);
  if (sizes.some((n) => n === 0))
    throw new ArcinvertError(`a batch of ${jobs.length} images cannot be cut into ${exchange.parts} parts`);
  const mine = partOf(jobs, exchange.parts, exchange.part);
  const signal = options.signal;
  return {
    ...batchSpec(targets, mine, index, config, options.head, options.members ?? []),
    split: { exchange, sizes, stopRequested: () => signal?.aborted ?? false, stop: false },
  };
}

interface BatchHooks extends InvertHooks {
  batches: number;
  clock: RunClock;
}

const due = (stepsDone: number, every: number): boolean => every > 0 && stepsDone % every === 0;

/**
 * One batch: the schedule, `invertStep`, keep-best, progress and snapshots, step by step. A
 * step whose loss is NaN or ±Inf ends the batch (its update is not evaluated, so keep-best
 * holds only images of finite cosine) and is returned as `diverged`.
 */
async function invertBatch(
  run: RunContext,
  spec: BatchSpec,
  hooks: BatchHooks,
): Promise<{ images: InvertedImage[]; aborted: boolean; diverged?: InvertDivergence }> {
  const c = run.config;
  const batchStart = performance.now();
  const s = createBatchState(run, spec);
  let losses: LossTerms = { ...NO_LOSSES };
  let stepsDone = 0;
  let aborted = false;
  let diverged: InvertDivergence | undefined;
  try {
    for (let step = 0; step < c.steps && !aborted; step++) {
      const { lr, upsample } = scheduleAt(c, step, run.canvas);
      if (upsample) upsampleBatch(run, s);
      const terms = invertStep(run, s, lr);
      // One scalar read per step: the total loss must stay finite.
      const total = terms.dataSync()[0];
      if (!Number.isFinite(total)) {
        terms.dispose();
        diverged = { batch: spec.index, step: step + 1, loss: total };
        break;
      }
      stepsDone = step + 1;
      hooks.clock.globalStep++;
      // A part of a split batch stops when any part was asked to (all after the same step).
      aborted = s.split ? s.split.stop : (hooks.signal?.aborted ?? false);
      const last = stepsDone === c.steps || aborted;
      if (due(stepsDone, c.evalEvery) || last) evaluateBatch(run, s, stepsDone);
      const report = due(stepsDone, c.reportEvery) || last;
      if (report) losses = lossTerms(terms.dataSync());
      terms.dispose();
      if (report) hooks.onProgress?.(progress(run, s, spec.index, hooks, { stepsDone, lr, losses, last }));
      if (hooks.onSnapshot && due(stepsDone, c.snapshotEvery))
        await hooks.onSnapshot({ batch: spec.index, step: stepsDone, images: currentImages(run, s) });
      // Let the event loop run (Ctrl-C handlers, UI redraws) between steps.
      if (!aborted) await new Promise((resolve) => setImmediate(resolve));
    }
    const seconds = (performance.now() - batchStart) / 1000;
    const images = batchResults(run, s, { losses, steps: stepsDone, seconds });
    return { images, aborted, ...(diverged && { diverged }) };
  } finally {
    disposeBatchState(s);
  }
}

/** The progress event after a step. */
function progress(
  run: RunContext,
  s: BatchState,
  batch: number,
  hooks: BatchHooks,
  at: { stepsDone: number; lr: number; losses: LossTerms; last: boolean },
): InvertProgress {
  const c = run.config;
  const wantPreview = c.previewEvery > 0 && (at.stepsDone % c.previewEvery === 0 || at.last);
  const first = s.jobs.findIndex((j) => !j.filler);
  return {
    batch,
    batches: hooks.batches,
    step: at.stepsDone,
    steps: c.steps,
    globalStep: hooks.clock.globalStep,
    totalSteps: hooks.clock.totalSteps,
    lr: at.lr,
    resolution: [s.x.shape[1], s.x.shape[2]],
    losses: at.losses,
    cosine: cosineSummary(s.jobs, s.keep.last, s.keep.cosine),
    ...throughput(hooks.clock),
    // A part of a split batch may hold only fillers: it has no preview to give.
    preview: wantPreview && first >= 0 ? imageAt(s.keep.images, first) : undefined,
  };
}

/** The best image of each real job, with its statistics. */
function batchResults(
  run: RunContext,
  s: BatchState,
  at: { losses: LossTerms; steps: number; seconds: number },
): InvertedImage[] {
  return s.jobs.flatMap((j, i) =>
    j.filler
      ? []
      : [
          {
            target: j.target,
            seed: j.seed,
            image: imageAt(s.keep.images, i),
            bestCosine: s.keep.cosine[i],
            finalCosine: s.keep.last[i],
            bestStep: s.keep.step[i],
            finalLosses: at.losses,
            steps: at.steps,
            seconds: at.seconds,
          },
        ],
  );
}
