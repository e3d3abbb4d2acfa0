/**
 * The ArcFace training loop (Deng et al., CVPR 2019, Sec. 2; Sub-center ArcFace, ECCV 2020),
 * following insightface arcface_torch `train_v2.py`: backbone in training mode (BatchNorm on
 * batch statistics, moving statistics updated), the ArcFace head with K sub-centres and the
 * combined margin, softmax cross-entropy, `clip_grad_norm_(backbone, 5)`, SGD with momentum and
 * weight decay, and a per-step LR (`schedule.ts`).
 *
 * Weight decay is applied, as in arcface_torch (one SGD over backbone + head parameters), to
 * every trainable weight: convolution and dense kernels, BatchNorm γ/β, PReLU slopes and the
 * head's class centres. BatchNorm moving statistics are not trainable and get no decay.
 *
 * The loop is a library function: no UI, no process handling. Progress goes to hooks, an
 * `AbortSignal` stops it after the current step (a checkpoint is written), and each step is
 * appended as a JSON line to `train-log.jsonl` in the run directory. At each epoch end the model
 * is scored on verification pairs of held-out identities (the best one is kept in `best/`) and,
 * when configured, on a benchmark such as LFW (reported only).
 */
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildBackbone } from '../model/build.js';
import { probeNonFinite } from '../model/check.js';
import type { Embedder } from '../model/embed.js';
import type { FaceModel } from '../model/types.js';
import { ArcinvertError, ConfigError } from '../errors.js';
import {
  evaluatePairs,
  evaluatePathPairs,
  foldCount,
  sampleVerificationPairs,
  type VerificationReport,
} from '../metrics/pairEval.js';
import { readPairsFile } from '../metrics/verification.js';
import { ensureDir, writeFileAtomic } from '../io/atomic.js';
import { mixSeed } from '../util/random.js';
import { loadCheckpoint, saveBest, saveCheckpoint, type LoadedCheckpoint, type TrainState } from './checkpoint.js';
import { resolveTrainConfig, scheduleSpec, type TrainConfig } from './config.js';
import { splitByIdentity, type Dataset } from '../io/imageFolder.js';
import { TeacherTargets } from './distill.js';
import { ArcFaceHead } from '../arcface/head.js';
import { loadInitialWeights } from './init.js';
import { BatchLoader, type Batch, type SkippedImage } from './loader.js';
import { marginFunction, type MarginFn } from '../arcface/margin.js';
import { ParallelTrainer } from './parallel.js';
import { RunLock } from './lock.js';
import { learningRateAt, type LrScheduleSpec } from './schedule.js';
import { sgdInit } from './sgd.js';
import { trainables, trainStep, type StepOut } from './step.js';

type Trainables = ReturnType<typeof trainables>;

/** One line of `train-log.jsonl`. */
export interface StepRecord {
  /** Steps done, 1-based; epoch and batch (0-based) of the batch just trained. */
  step: number;
  epoch: number;
  batch: number;
  loss: number;
  lr: number;
  imagesPerSec: number;
  /** Seconds of training since the run began (summed over resumed sessions). */
  time: number;
}

/** What `onStep` receives: the log record plus totals for progress displays. */
export interface StepProgress extends StepRecord {
  gradNorm: number;
  totalSteps: number;
  stepsPerEpoch: number;
  epochs: number;
  etaSeconds: number;
}

/** One line of `eval-log.jsonl`, emitted at each epoch end. */
export interface EpochRecord {
  epoch: number;
  /** Epochs of the run. */
  epochs: number;
  step: number;
  /** Mean training loss over the epoch's steps of this session. */
  trainLoss: number;
  val: VerificationReport | null;
  bench: VerificationReport | null;
  /** True when this epoch's validation accuracy is the best so far (written to best/). */
  best: boolean;
}

export interface TrainHooks {
  onStep?: (p: StepProgress) => void;
  onEpoch?: (e: EpochRecord) => void;
  /** Diagnostics: start-up, checkpoints. */
  onMessage?: (line: string) => void;
  signal?: AbortSignal;
}

export interface TrainOptions {
  config: TrainConfig;
  /** All identities to use (train + validation); see `selectIdentities`. */
  data: Dataset;
  source?: TrainState['source'];
  /** Run directory (checkpoints, logs, best/). */
  outDir: string;
  /** Continue from this run directory or checkpoint; its config replaces `config`, but for `resumeOverrides`. */
  resumeFrom?: string;
  /**
   * With `resumeFrom`: keys of the run's config to change from here on. `evalPairsEvery` leaves
   * the weights alone; `epochs` (more than the epochs already begun) moves the end of the
   * learning-rate schedule, so the weights from here on differ from an uninterrupted run.
   */
  resumeOverrides?: ResumeOverrides;
  /** Stop after this many steps in total (for quick runs and tests). */
  maxSteps?: number;
  /**
   * Worker threads computing each step's gradients (default 1: in this thread). With W > 1
   * BatchNorm sees chunks of batchSize / W images; see `parallel.ts`. Not part of the config,
   * so a resumed run may use another count.
   */
  workers?: number;
  /**
   * What runs the forward passes of the held-out and benchmark scores: called at each epoch's
   * end with the model as it is then, disposed after; undefined (or none given) is tfjs.
   * (The CLI passes onnxruntime's, `src/onnx/runtime.ts`; not part of the config.)
   */
  evalEmbedder?: (fm: FaceModel) => Promise<Embedder | undefined>;
  /** Milliseconds clock (tests); default `performance.now`. */
  now?: () => number;
}

export interface TrainResult {
  steps: number;
  aborted: boolean;
  checkpoint: string;
  best: { dir: string; accuracy: number; epoch: number } | null;
  lastLoss: number;
  skipped: SkippedImage[];
  seconds: number;
}

/**
 * Keeps the first `maxClasses` identities in sorted order (0 = all) and checks that every
 * identity has at least two images.
 * @throws ArcinvertError naming the first identity with a single image.
 */
export function selectIdentities(data: Dataset, maxClasses: number): Dataset {
  const keep = maxClasses > 0 ? Math.min(maxClasses, data.classNames.length) : data.classNames.length;
  const items = data.items.filter((it) => it.label < keep);
  const counts = new Array<number>(keep).fill(0);
  for (const it of items) counts[it.label]++;
  const single = counts.findIndex((n) => n < 2);
  if (single >= 0)
    throw new ArcinvertError(
      `identity '${data.classNames[single]}' has ${counts[single]} image(s); every identity needs at least 2`,
    );
  if (keep < 2) throw new ArcinvertError(`training needs at least 2 identities, the data has ${keep}`);
  return { classNames: data.classNames.slice(0, keep), items };
}

/** The folder that relative paths of a distillation listing are resolved against. */
function dataRoot(source: TrainOptions['source'], targets: string): string {
  if (!source) return path.dirname(path.resolve(targets));
  return source.kind === 'folder' ? source.path : path.dirname(source.path);
}

/** Drops log lines of steps after `step` (written after the checkpoint we resume from). */
async function truncateLog(file: string, step: number): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '');
  if (text === '') return;
  const keep = text.split('\n').filter((l) => l.trim() !== '' && (JSON.parse(l) as { step: number }).step <= step);
  await writeFileAtomic(file, keep.map((l) => `${l}\n`).join(''));
}

/** What a run holds that must be disposed, whether or not its set-up completed. */
interface Owned {
  fm?: FaceModel;
  head?: ArcFaceHead;
  /** SGD momentum buffers, replaced at every step. */
  buffers: tf.Tensor[];
  parallel: ParallelTrainer | null;
}

/** The identities split into training and validation, checked against a resumed run; the teacher. */
async function prepareData(
  opts: TrainOptions,
  cfg: TrainConfig,
  resumed: LoadedCheckpoint | null,
): Promise<{ trainSet: Dataset; valSet: Dataset; teacher: TeacherTargets | null }> {
  const { train: trainSet, val: valSet } = splitByIdentity(
    selectIdentities(opts.data, cfg.maxClasses),
    cfg.valFraction,
    cfg.seed,
  );
  if (resumed && resumed.state.classNames.join('\n') !== trainSet.classNames.join('\n')) {
    throw new ArcinvertError(
      `the data's identities do not match the checkpoint's (${trainSet.classNames.length} vs ${resumed.state.classNames.length} training identities)`,
    );
  }
  const teacher = cfg.distill
    ? await TeacherTargets.load(cfg.distill.targets, dataRoot(opts.source, cfg.distill.targets))
    : null;
  teacher?.checkCovers(trainSet.items.map((it) => it.path));
  return { trainSet, valSet, teacher };
}

/** The backbone and head: the checkpoint's, a warm start's (`init`), or new seeded ones. */
async function prepareModel(
  cfg: TrainConfig,
  classNames: string[],
  projectionDim: number,
  owned: Owned,
  say: (line: string) => void,
): Promise<{ fm: FaceModel; head: ArcFaceHead }> {
  const headConfig = { numClasses: classNames.length, k: cfg.k, seed: mixSeed(cfg.seed, 0x4ead), projectionDim };
  if (!owned.fm) {
    owned.fm = buildBackbone(cfg.backbone, { seed: cfg.seed, ...cfg.backboneConfig });
    if (cfg.init !== null) {
      const init = await loadInitialWeights(cfg.init, owned.fm, { classNames, k: cfg.k, projectionDim });
      owned.head = new ArcFaceHead(
        { embeddingDim: owned.fm.meta.embeddingSize, ...headConfig },
        init.centres ?? undefined,
        init.projection ?? undefined,
      );
      say(`warm start: ${init.summary}`);
    }
  }
  const fm = owned.fm;
  const head = (owned.head ??= new ArcFaceHead({ embeddingDim: fm.meta.embeddingSize, ...headConfig }));
  if (
    head.config.numClasses !== classNames.length ||
    head.config.embeddingDim !== fm.meta.embeddingSize ||
    head.config.projectionDim !== projectionDim
  ) {
    throw new ArcinvertError('the checkpoint head does not match the model or the data');
  }
  return { fm, head };
}

/** Fails before any training when the benchmark pairs cannot be read. */
async function checkBenchmarkPairs(cfg: TrainConfig): Promise<void> {
  if (!cfg.evalPairs) return;
  await readPairsFile(cfg.evalPairs.pairsFile, 'evalPairs');
}

/** A run once set up: what the step, the epoch end and the checkpoint share. */
interface SessionParts {
  opts: TrainOptions;
  hooks: TrainHooks;
  cfg: TrainConfig;
  owned: Owned;
  fm: FaceModel;
  head: ArcFaceHead;
  p: Trainables;
  teacher: TeacherTargets | null;
  loader: BatchLoader;
  spec: LrScheduleSpec;
  totalSteps: number;
  valPairs: ReturnType<typeof sampleVerificationPairs>;
  state: TrainState;
  logFile: string;
  now: () => number;
  /** The checkpoint folder the run resumed from. */
  resumedFrom: string | null;
}

/** What a resume may change in a run's config (`TrainOptions.resumeOverrides`). */
export type ResumeOverrides = Partial<Pick<TrainConfig, 'epochs' | 'evalPairsEvery'>>;

/**
 * The config a resumed run continues with: its own, with `overrides` checked and applied (and
 * recorded in its state, so later checkpoints carry them).
 * @throws ConfigError when `epochs` would end the run before the epoch in progress, or at an epoch
 *   boundary before one more epoch.
 */
export function resumedConfig(state: TrainState, overrides: ResumeOverrides): TrainConfig {
  const { epoch, batch } = state.position;
  // The epoch in progress must end; at an epoch boundary the finished epochs already ran their
  // end-of-epoch evaluations under the old end, so the new end needs at least one more.
  const least = epoch + 1;
  const n = overrides.epochs;
  if (n !== undefined && n !== state.config.epochs && n < least)
    throw new ConfigError(
      ['epochs'],
      (k) =>
        `${k('epochs')} ${n}: the run has ${batch > 0 ? `already begun epoch ${least}` : `finished ${epoch} epoch(s)`}; give at least ${least}`,
    );
  const cfg = resolveTrainConfig({ ...state.config, ...overrides });
  state.config = cfg;
  return cfg;
}

/** Loads or builds everything a run needs, writes its config and starts the workers. */
async function setUp(
  opts: TrainOptions,
  hooks: TrainHooks,
  resumed: LoadedCheckpoint | null,
  owned: Owned,
): Promise<Session> {
  const say = hooks.onMessage ?? (() => undefined);
  const cfg = resumed ? resumedConfig(resumed.state, opts.resumeOverrides ?? {}) : opts.config;
  const { trainSet, valSet, teacher } = await prepareData(opts, cfg, resumed);
  const { fm, head } = await prepareModel(cfg, trainSet.classNames, teacher?.dim ?? 0, owned, say);
  const p = trainables(fm, head);
  if (resumed && resumed.paramNames.join('\n') !== p.names.join('\n'))
    throw new ArcinvertError('the checkpoint optimiser state does not match its model');
  if (!resumed) owned.buffers = sgdInit(p.vars);
  const loader = new BatchLoader(trainSet, {
    batchSize: cfg.batchSize,
    imageSize: fm.meta.inputSize,
    flip: cfg.flip,
    seed: cfg.seed,
    prefetch: cfg.prefetch,
  });
  const spec = scheduleSpec(cfg, loader.batchesPerEpoch);
  const totalSteps = Math.min(spec.totalSteps, opts.maxSteps ?? Infinity);
  await checkBenchmarkPairs(cfg);
  const valPairs = valSet.classNames.length > 0 ? sampleVerificationPairs(valSet, cfg.valPairs, cfg.seed) : [];
  const state: TrainState = resumed?.state ?? {
    format: 'arcinvert-train-state',
    version: 1,
    step: 0,
    position: { epoch: 0, batch: 0 },
    elapsedSeconds: 0,
    config: cfg,
    classNames: trainSet.classNames,
    valClassNames: valSet.classNames,
    best: null,
    source: opts.source ?? null,
  };
  // What the steps from here on run with (a resume with another --workers changes it).
  state.workers = opts.workers ?? 1;
  await ensureDir(opts.outDir);
  await writeFileAtomic(path.join(opts.outDir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  const logFile = path.join(opts.outDir, 'train-log.jsonl');
  if (resumed) await truncateLog(logFile, state.step);
  if ((opts.workers ?? 1) > 1) {
    owned.parallel = await ParallelTrainer.start(fm, head, p, cfg, { workers: opts.workers! });
    say(`${opts.workers} training workers, ${owned.parallel.share} images each per step`);
  }
  say(
    `training ${trainSet.classNames.length} identities (${trainSet.items.length} images), validating on ${valSet.classNames.length} (${valPairs.length} pairs); ${loader.batchesPerEpoch} steps per epoch`,
  );
  const now = opts.now ?? (() => performance.now());
  return new Session({
    opts,
    hooks,
    cfg,
    owned,
    fm,
    head,
    p,
    teacher,
    loader,
    spec,
    totalSteps,
    valPairs,
    state,
    logFile,
    now,
    resumedFrom: resumed?.dir ?? null,
  });
}

/** A run in progress: one step, the epoch end, checkpoints, and the result. */
class Session {
  readonly state: TrainState;
  readonly totalSteps: number;
  private readonly margin: MarginFn;
  private readonly sessionStart: number;
  private readonly elapsedBefore: number;
  private readonly startStep: number;
  private lastLoss = NaN;
  private epochLosses: number[] = [];
  /** Clock at the end of the last step (images per second). */
  private tick: number;
  private lastCheckpoint: number;
  private checkpointDir = '';
  /** The newest checkpoint of the run (the resumed one before this session writes any). */
  private lastGood: { dir: string; step: number } | null;

  constructor(private readonly s: SessionParts) {
    this.state = s.state;
    this.totalSteps = s.totalSteps;
    this.margin = marginFunction(s.cfg.margin);
    this.sessionStart = s.now();
    this.elapsedBefore = s.state.elapsedSeconds;
    this.startStep = s.state.step;
    this.lastCheckpoint = s.now();
    this.tick = s.now();
    this.lastGood = s.resumedFrom ? { dir: s.resumedFrom, step: s.state.step } : null;
  }

  /** The run's batches from where it stands, to the end of its epochs. */
  batches(): AsyncIterable<Batch> {
    return this.s.loader.batches(this.state.position, this.s.cfg.epochs);
  }

  /** Seconds of training since the run began (summed over resumed sessions). */
  private elapsed(): number {
    return this.elapsedBefore + (this.s.now() - this.sessionStart) / 1000;
  }

  /** One SGD step on `batch` (skipped when it holds under 2 images); disposes the batch. */
  async step(batch: Batch): Promise<void> {
    const { cfg, owned, teacher } = this.s;
    const lr = learningRateAt(this.s.spec, this.state.step);
    let out: StepOut | null = null;
    const distill =
      teacher && cfg.distill ? { targets: teacher.batch(batch.paths), weight: cfg.distill.weight } : undefined;
    try {
      if (batch.labels.shape[0] >= 2)
        out = owned.parallel
          ? await owned.parallel.step(owned.buffers, batch.images, batch.labels, lr, distill)
          : trainStep(
              this.s.fm,
              this.s.head,
              this.margin,
              this.s.p,
              owned.buffers,
              batch.images,
              batch.labels,
              cfg,
              lr,
              distill,
            );
    } finally {
      tf.dispose([batch.images, batch.labels, ...(distill ? [distill.targets] : [])]);
    }
    this.state.position = batch.next;
    if (out === null) return;
    tf.dispose(owned.buffers);
    owned.buffers = out.buffers;
    const [loss, norm] = [(await out.loss.data())[0], (await out.norm.data())[0]];
    tf.dispose([out.loss, out.norm]);
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      const what = Number.isFinite(loss) ? `the gradient norm is ${norm}` : `the loss is ${loss}`;
      this.diverged(`${what} at step ${this.state.step + 1} (lr ${Number(lr.toPrecision(3))})`);
    }
    this.state.step++;
    await this.record(batch, loss, norm, lr);
  }

  /**
   * Stops a run whose loss, gradient or model output went NaN/Inf: its weights are not saved,
   * so the last good checkpoint stays the run's checkpoint.
   */
  private diverged(what: string): never {
    const kept = this.lastGood
      ? `the last good checkpoint is ${this.lastGood.dir} (step ${this.lastGood.step})`
      : 'no checkpoint was written';
    throw new ArcinvertError(`training diverged: ${what}; stopped, ${kept}; lower the learning rate`);
  }

  /** Logs a step to `train-log.jsonl` and reports it. */
  private async record(batch: Batch, loss: number, gradNorm: number, lr: number): Promise<void> {
    this.lastLoss = loss;
    this.epochLosses.push(loss);
    const t = this.s.now();
    const rec: StepRecord = {
      step: this.state.step,
      epoch: batch.epoch,
      batch: batch.batch,
      loss,
      lr,
      imagesPerSec: (batch.paths.length * 1000) / Math.max(1e-9, t - this.tick),
      time: this.elapsed(),
    };
    this.tick = t;
    await appendFile(this.s.logFile, `${JSON.stringify(rec)}\n`);
    const rate = (this.elapsed() - this.elapsedBefore) / (this.state.step - this.startStep);
    this.s.hooks.onStep?.({
      ...rec,
      gradNorm,
      totalSteps: this.totalSteps,
      stepsPerEpoch: this.s.loader.batchesPerEpoch,
      epochs: this.s.cfg.epochs,
      etaSeconds: rate * (this.totalSteps - this.state.step),
    });
  }

  /** The held-out pairs' scores and, when due (every `evalPairsEvery` epochs and after the last), the benchmark's. */
  private async scores(epoch: number): Promise<{ val: VerificationReport | null; bench: VerificationReport | null }> {
    const { cfg, fm, valPairs, opts } = this.s;
    const embedder = await opts.evalEmbedder?.(fm);
    const evalOpts = { flip: true, batchSize: cfg.evalBatchSize, embedder };
    try {
      const val =
        valPairs.length > 0 ? await evaluatePathPairs(fm, valPairs, foldCount(valPairs.length), evalOpts) : null;
      const benchDue = (epoch + 1) % cfg.evalPairsEvery === 0 || epoch + 1 === cfg.epochs;
      const bench =
        cfg.evalPairs && benchDue
          ? await evaluatePairs(fm, cfg.evalPairs.pairsFile, cfg.evalPairs.imagesDir, evalOpts)
          : null;
      return { val, bench };
    } finally {
      await embedder?.dispose();
    }
  }

  /**
   * Scores the epoch on the validation pairs (keeping the best in best/) and, every
   * `evalPairsEvery` epochs and after the last, on the benchmark.
   */
  async endEpoch(epoch: number): Promise<void> {
    const { cfg, fm, head, opts } = this.s;
    const { val, bench } = await this.scores(epoch);
    const state = this.state;
    const isBest = val !== null && (state.best === null || val.accuracy > state.best.accuracy);
    if (isBest) {
      state.best = { accuracy: val.accuracy, step: state.step, epoch };
      await saveBest(opts.outDir, fm, head, state.classNames, { ...state.best, val, bench });
    }
    const losses = this.epochLosses;
    const rec: EpochRecord = {
      epoch,
      epochs: cfg.epochs,
      step: state.step,
      trainLoss: losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length),
      val,
      bench,
      best: isBest,
    };
    await appendFile(path.join(opts.outDir, 'eval-log.jsonl'), `${JSON.stringify(rec)}\n`);
    this.s.hooks.onEpoch?.(rec);
    this.epochLosses = [];
    this.tick = this.s.now();
  }

  /**
   * Writes a checkpoint, unless the model no longer embeds the probe image to finite numbers
   * (`probeNonFinite`): such a checkpoint would be refused at load, so the run stops instead.
   */
  async checkpoint(): Promise<void> {
    const { opts, fm, head, p, owned } = this.s;
    const bad = probeNonFinite(fm.model, fm.meta);
    if (bad !== undefined) this.diverged(`the model embeds a probe image to ${bad} after step ${this.state.step}`);
    this.state.elapsedSeconds = this.elapsed();
    this.checkpointDir = await saveCheckpoint(
      opts.outDir,
      fm,
      head,
      { names: p.names, buffers: owned.buffers },
      { ...this.state },
    );
    this.lastGood = { dir: this.checkpointDir, step: this.state.step };
    this.lastCheckpoint = this.s.now();
    this.s.hooks.onMessage?.(`checkpoint step ${this.state.step} → ${this.checkpointDir}`);
  }

  /** Writes a checkpoint when the configured interval has passed. */
  async checkpointIfDue(): Promise<void> {
    if (this.s.now() - this.lastCheckpoint < this.s.cfg.checkpointEveryMinutes * 60_000) return;
    await this.checkpoint();
    this.tick = this.s.now();
  }

  result(aborted: boolean): TrainResult {
    const best = this.state.best;
    return {
      steps: this.state.step,
      aborted,
      checkpoint: this.checkpointDir,
      best: best ? { dir: path.join(this.s.opts.outDir, 'best'), accuracy: best.accuracy, epoch: best.epoch } : null,
      lastLoss: this.lastLoss,
      skipped: this.s.loader.skipped,
      seconds: this.elapsed(),
    };
  }
}

/** Steps until the schedule's end, `maxSteps` or `signal`; true when stopped by the signal. */
async function runSteps(session: Session, signal: AbortSignal | undefined): Promise<boolean> {
  let aborted = signal?.aborted ?? false;
  if (session.state.step >= session.totalSteps || aborted) return aborted;
  for await (const batch of session.batches()) {
    await session.step(batch);
    if (batch.next.batch === 0) await session.endEpoch(batch.epoch);
    aborted = signal?.aborted ?? false;
    if (aborted || session.state.step >= session.totalSteps) break;
    await session.checkpointIfDue();
    // Let the event loop run (Ctrl-C, UI redraws) between steps.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return aborted;
}

/** Trains (or resumes) a run; see the module comment. */
export async function train(opts: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const lock = await RunLock.acquire(opts.outDir, hooks.onMessage);
  const owned: Owned = { buffers: [], parallel: null };
  try {
    const resumed = opts.resumeFrom !== undefined ? await loadCheckpoint(opts.resumeFrom) : null;
    Object.assign(owned, { fm: resumed?.fm, head: resumed?.head, buffers: resumed?.buffers ?? [] });
    const session = await setUp(opts, hooks, resumed, owned);
    const aborted = await runSteps(session, hooks.signal);
    await session.checkpoint();
    return session.result(aborted);
  } finally {
    await owned.parallel?.dispose();
    owned.fm?.model.dispose();
    owned.head?.dispose();
    tf.dispose(owned.buffers);
    await lock.release();
  }
}
