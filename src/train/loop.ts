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
import type { FaceModel } from '../model/types.js';
import { ArcinvertError } from '../errors.js';
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
import { loadCheckpoint, saveBest, saveCheckpoint, type TrainState } from './checkpoint.js';
import { scheduleSpec, type TrainConfig } from './config.js';
import { splitByIdentity, type Dataset } from '../io/imageFolder.js';
import { TeacherTargets } from './distill.js';
import { ArcFaceHead } from '../arcface/head.js';
import { loadInitialWeights } from './init.js';
import { BatchLoader, type SkippedImage } from './loader.js';
import { marginFunction } from '../arcface/margin.js';
import { ParallelTrainer } from './parallel.js';
import { learningRateAt } from './schedule.js';
import { sgdInit } from './sgd.js';
import { trainables, trainStep, type StepOut } from './step.js';

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
  /** Continue from this run directory or checkpoint; its config replaces `config`. */
  resumeFrom?: string;
  /** Stop after this many steps in total (for quick runs and tests). */
  maxSteps?: number;
  /**
   * Worker threads computing each step's gradients (default 1: in this thread). With W > 1
   * BatchNorm sees chunks of batchSize / W images; see `parallel.ts`. Not part of the config,
   * so a resumed run may use another count.
   */
  workers?: number;
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

/** Trains (or resumes) a run; see the module comment. */
export async function train(opts: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const now = opts.now ?? (() => performance.now());
  const say = hooks.onMessage ?? (() => undefined);
  const resumed = opts.resumeFrom !== undefined ? await loadCheckpoint(opts.resumeFrom) : null;
  const cfg = resumed?.state.config ?? opts.config;
  let fm: FaceModel | undefined = resumed?.fm;
  let head: ArcFaceHead | undefined = resumed?.head;
  let buffers: tf.Tensor[] = resumed?.buffers ?? [];
  let parallel: ParallelTrainer | null = null;
  try {
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
    const headConfig = {
      numClasses: trainSet.classNames.length,
      k: cfg.k,
      seed: mixSeed(cfg.seed, 0x4ead),
      projectionDim: teacher?.dim ?? 0,
    };
    if (!fm) {
      fm = buildBackbone(cfg.backbone, { seed: cfg.seed, ...cfg.backboneConfig });
      if (cfg.init !== null) {
        const init = await loadInitialWeights(cfg.init, fm, {
          classNames: trainSet.classNames,
          k: cfg.k,
          projectionDim: headConfig.projectionDim,
        });
        head = new ArcFaceHead(
          { embeddingDim: fm.meta.embeddingSize, ...headConfig },
          init.centres ?? undefined,
          init.projection ?? undefined,
        );
        say(`warm start: ${init.summary}`);
      }
    }
    head ??= new ArcFaceHead({ embeddingDim: fm.meta.embeddingSize, ...headConfig });
    if (
      head.config.numClasses !== trainSet.classNames.length ||
      head.config.embeddingDim !== fm.meta.embeddingSize ||
      head.config.projectionDim !== (teacher?.dim ?? 0)
    ) {
      throw new ArcinvertError('the checkpoint head does not match the model or the data');
    }
    const p = trainables(fm, head);
    if (resumed && resumed.paramNames.join('\n') !== p.names.join('\n'))
      throw new ArcinvertError('the checkpoint optimiser state does not match its model');
    if (!resumed) buffers = sgdInit(p.vars);
    const loader = new BatchLoader(trainSet, {
      batchSize: cfg.batchSize,
      imageSize: fm.meta.inputSize,
      flip: cfg.flip,
      seed: cfg.seed,
      prefetch: cfg.prefetch,
    });
    const perEpoch = loader.batchesPerEpoch;
    const spec = scheduleSpec(cfg, perEpoch);
    const totalSteps = Math.min(spec.totalSteps, opts.maxSteps ?? Infinity);
    if (cfg.evalPairs) {
      await readPairsFile(cfg.evalPairs.pairsFile, 'the benchmark pairs file');
    }
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
    await ensureDir(opts.outDir);
    await writeFileAtomic(path.join(opts.outDir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
    const logFile = path.join(opts.outDir, 'train-log.jsonl');
    if (resumed) await truncateLog(logFile, state.step);
    if ((opts.workers ?? 1) > 1) {
      parallel = await ParallelTrainer.start(fm, head, p, cfg, { workers: opts.workers! });
      say(`${opts.workers} training workers, ${parallel.share} images each per step`);
    }
    say(
      `training ${trainSet.classNames.length} identities (${trainSet.items.length} images), validating on ${valSet.classNames.length} (${valPairs.length} pairs); ${perEpoch} steps per epoch`,
    );

    const margin = marginFunction(cfg.margin);
    const sessionStart = now();
    const elapsedBefore = state.elapsedSeconds;
    const startStep = state.step;
    const elapsed = (): number => elapsedBefore + (now() - sessionStart) / 1000;
    let lastCkpt = now();
    let checkpointDir = '';
    const checkpoint = async (): Promise<void> => {
      state.elapsedSeconds = elapsed();
      checkpointDir = await saveCheckpoint(opts.outDir, fm!, head!, { names: p.names, buffers }, { ...state });
      lastCkpt = now();
      say(`checkpoint step ${state.step} → ${checkpointDir}`);
    };
    const epochEnd = async (epoch: number, losses: number[]): Promise<void> => {
      const evalOpts = { flip: true, batchSize: cfg.evalBatchSize };
      const val =
        valPairs.length > 0 ? await evaluatePathPairs(fm!, valPairs, foldCount(valPairs.length), evalOpts) : null;
      const bench = cfg.evalPairs
        ? await evaluatePairs(fm!, cfg.evalPairs.pairsFile, cfg.evalPairs.imagesDir, evalOpts)
        : null;
      const isBest = val !== null && (state.best === null || val.accuracy > state.best.accuracy);
      if (isBest) {
        state.best = { accuracy: val.accuracy, step: state.step, epoch };
        await saveBest(opts.outDir, fm!, head!, state.classNames, { ...state.best, val, bench });
      }
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
      hooks.onEpoch?.(rec);
    };

    let lastLoss = NaN;
    let epochLosses: number[] = [];
    let tick = now();
    let aborted = hooks.signal?.aborted ?? false;
    if (state.step < totalSteps && !aborted) {
      for await (const batch of loader.batches(state.position, cfg.epochs)) {
        const lr = learningRateAt(spec, state.step);
        let out: StepOut | null = null;
        const distill =
          teacher && cfg.distill ? { targets: teacher.batch(batch.paths), weight: cfg.distill.weight } : undefined;
        try {
          if (batch.labels.shape[0] >= 2)
            out = parallel
              ? await parallel.step(buffers, batch.images, batch.labels, lr, distill)
              : trainStep(fm, head, margin, p, buffers, batch.images, batch.labels, cfg, lr, distill);
        } finally {
          tf.dispose([batch.images, batch.labels, ...(distill ? [distill.targets] : [])]);
        }
        state.position = batch.next;
        if (out !== null) {
          tf.dispose(buffers);
          buffers = out.buffers;
          const [loss, norm] = [(await out.loss.data())[0], (await out.norm.data())[0]];
          tf.dispose([out.loss, out.norm]);
          state.step++;
          lastLoss = loss;
          epochLosses.push(loss);
          const t = now();
          const rec: StepRecord = {
            step: state.step,
            epoch: batch.epoch,
            batch: batch.batch,
            loss,
            lr,
            imagesPerSec: (batch.paths.length * 1000) / Math.max(1e-9, t - tick),
            time: elapsed(),
          };
          tick = t;
          await appendFile(logFile, `${JSON.stringify(rec)}\n`);
          const rate = (elapsed() - elapsedBefore) / (state.step - startStep);
          hooks.onStep?.({
            ...rec,
            gradNorm: norm,
            totalSteps,
            stepsPerEpoch: perEpoch,
            epochs: cfg.epochs,
            etaSeconds: rate * (totalSteps - state.step),
          });
        }
        if (batch.next.batch === 0) {
          await epochEnd(batch.epoch, epochLosses);
          epochLosses = [];
          tick = now();
        }
        aborted = hooks.signal?.aborted ?? false;
        if (aborted || state.step >= totalSteps) break;
        if (now() - lastCkpt >= cfg.checkpointEveryMinutes * 60_000) {
          await checkpoint();
          tick = now();
        }
        // Let the event loop run (Ctrl-C, UI redraws) between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await checkpoint();
    const best = state.best
      ? { dir: path.join(opts.outDir, 'best'), accuracy: state.best.accuracy, epoch: state.best.epoch }
      : null;
    return {
      steps: state.step,
      aborted,
      checkpoint: checkpointDir,
      best,
      lastLoss,
      skipped: loader.skipped,
      seconds: elapsed(),
    };
  } finally {
    await parallel?.dispose();
    fm?.model.dispose();
    head?.dispose();
    tf.dispose(buffers);
  }
}
