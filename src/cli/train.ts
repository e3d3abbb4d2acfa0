/**
 * `arcinvert train --data DIR|--csv FILE --out DIR …`: trains an ArcFace / Sub-center ArcFace
 * model (insightface arcface_torch `train_v2.py`) with `train()` from `src/train/loop.ts`.
 * The resolved config is printed at the start and saved in the run directory; an Ink view is
 * shown on a terminal, plain lines otherwise; Ctrl-C writes a checkpoint and exits 130.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Command, Option } from 'commander';
import { BACKBONE_NAMES } from '../backbone/registry.js';
import type { BackboneConfig, BackboneName } from '../backbone/types.js';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { readPairsFile } from '../metrics/verification.js';
import { writeFileAtomic } from '../io/atomic.js';
import { findCheckpoint, readTrainState, type TrainState } from '../train/checkpoint.js';
import { DEFAULT_TRAIN_CONFIG, resolveTrainConfig, type TrainConfig, type TrainConfigInput } from '../train/config.js';
import { loadCsvManifest, loadImageFolder, type Dataset } from '../io/imageFolder.js';
import { resumedConfig, train, type ResumeOverrides, type TrainOptions, type TrainResult } from '../train/loop.js';
import { defaultWorkers, workerShare } from '../train/parallel.js';
import { resolveMarginConfig, type MarginPresetName } from '../arcface/margin.js';
import { mergeFlags, readConfigFile } from './config.js';
import type { CliContext } from './context.js';
import { kebabFlag } from './flags.js';
import { embedderFor, type EmbedRuntime } from '../onnx/runtime.js';
import { backendOption, finiteNumber, positiveInt, runtimeOption, useBackend } from './options.js';
import { formatDuration } from './ui/format.js';
import { plainTrainReporter, type TrainReporter } from './ui/trainPlain.js';

interface TrainFlags {
  data?: string;
  csv?: string;
  out?: string;
  config?: string;
  /** Undefined unless given (or its default when no `--config` can set it). */
  backbone?: BackboneName;
  inputSize?: number;
  width?: number;
  embeddingSize?: number;
  backboneConfig?: string;
  batchSize?: number;
  microBatch?: number;
  workers?: number;
  epochs?: number;
  lr?: number;
  warmupEpochs?: number;
  k?: number;
  margin?: MarginPresetName;
  maxClasses?: number;
  valFraction?: number;
  seed?: number;
  checkpointEvery?: number;
  maxSteps?: number;
  resume?: string;
  evalPairs?: string;
  evalImages?: string;
  evalEvery?: number;
  /** Undefined unless `--no-flip` is given (or true when no `--config` can set it). */
  flip?: boolean;
  distill?: string;
  distillWeight?: number;
  init?: string;
  backend: BackendPreference;
  runtime: EmbedRuntime;
}

/** λ of `--distill` when `--distill-weight` is not given. */
export const DEFAULT_DISTILL_WEIGHT = 64;

/** Flags that shape the model or the optimisation; they cannot change when resuming. */
const CONFIG_FLAGS = [
  'config',
  'backbone',
  'inputSize',
  'width',
  'embeddingSize',
  'backboneConfig',
  'batchSize',
  'microBatch',
  'lr',
  'warmupEpochs',
  'k',
  'margin',
  'maxClasses',
  'valFraction',
  'seed',
  'checkpointEvery',
  'evalPairs',
  'evalImages',
  'flip',
  'distill',
  'distillWeight',
  'init',
];

/** `train --config FILE`: any subset of the keys of `TrainConfig` (a run's config.json is one). */
const TRAIN_CONFIG_FILE = { flag: '--config', keys: Object.keys(DEFAULT_TRAIN_CONFIG), what: 'train config' };

/** `--backbone-config`'s JSON object. */
function parseBackboneConfigFlag(json: string | undefined): Record<string, unknown> {
  if (json === undefined) return {};
  let extra: unknown;
  try {
    extra = JSON.parse(json);
  } catch {
    throw new ArcinvertError(`--backbone-config must be a JSON object, got '${json}'`);
  }
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
    throw new ArcinvertError('--backbone-config must be a JSON object');
  return extra as Record<string, unknown>;
}

/** The distillation the flags ask for: a teacher (`--distill`), or a new weight for the file's. */
function distillFromFlags(f: TrainFlags, fromFile: TrainConfigInput): TrainConfigInput['distill'] {
  if (f.distill !== undefined)
    return { targets: path.resolve(f.distill), weight: f.distillWeight ?? DEFAULT_DISTILL_WEIGHT };
  if (f.distillWeight === undefined) return undefined;
  if (!fromFile.distill) throw new ArcinvertError('--distill-weight needs --distill');
  return { ...fromFile.distill, weight: f.distillWeight };
}

/**
 * Builds the training config from the flags merged over `fromFile` (a `--config` file), all
 * validated by `resolveTrainConfig`.
 */
export function configFromFlags(f: TrainFlags, fromFile: TrainConfigInput = {}): TrainConfig {
  const extra = parseBackboneConfigFlag(f.backboneConfig);
  const backbone = f.backbone ?? fromFile.backbone ?? DEFAULT_TRAIN_CONFIG.backbone;
  if (f.width !== undefined && backbone !== 'mobilefacenet')
    throw new ArcinvertError('--width applies to mobilefacenet only');
  if ((f.evalPairs === undefined) !== (f.evalImages === undefined))
    throw new ArcinvertError('--eval-pairs and --eval-images go together');
  const backboneConfig: Partial<BackboneConfig> = {
    ...fromFile.backboneConfig,
    ...extra,
    ...(f.inputSize !== undefined ? { inputSize: [f.inputSize, f.inputSize] as [number, number] } : {}),
    ...(f.width !== undefined ? { width: f.width } : {}),
    ...(f.embeddingSize !== undefined ? { embeddingSize: f.embeddingSize } : {}),
  };
  const flags: TrainConfigInput = {
    backbone: f.backbone,
    flip: f.flip,
    margin: f.margin !== undefined ? resolveMarginConfig(f.margin) : undefined,
    batchSize: f.batchSize,
    microBatch: f.microBatch,
    epochs: f.epochs,
    lr: f.lr,
    warmupEpochs: f.warmupEpochs,
    k: f.k,
    maxClasses: f.maxClasses,
    valFraction: f.valFraction,
    seed: f.seed,
    checkpointEveryMinutes: f.checkpointEvery,
    evalPairs:
      f.evalPairs !== undefined
        ? { pairsFile: path.resolve(f.evalPairs), imagesDir: path.resolve(f.evalImages!) }
        : undefined,
    evalPairsEvery: f.evalEvery,
    init: f.init !== undefined ? path.resolve(f.init) : undefined,
    distill: distillFromFlags(f, fromFile),
  };
  return resolveTrainConfig({ ...mergeFlags(fromFile, flags), backboneConfig });
}

/** Reads the training images named by --data / --csv (or the checkpoint's source). */
async function loadData(source: NonNullable<TrainState['source']>): Promise<Dataset> {
  return source.kind === 'folder'
    ? loadImageFolder(source.path)
    : loadCsvManifest(source.path, path.dirname(source.path));
}

/** Fails early, before any training, if the benchmark pairs cannot be used. */
async function checkEvalPairs(cfg: TrainConfig): Promise<void> {
  if (cfg.evalPairs === null) return;
  await readPairsFile(cfg.evalPairs.pairsFile, 'evalPairs');
  if (!existsSync(cfg.evalPairs.imagesDir))
    throw new ArcinvertError(`--eval-images ${cfg.evalPairs.imagesDir} does not exist`);
}

/** Where the data, the model and the schedule come from. */
function dataOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'ImageFolder of aligned faces: <dir>/<identity>/<image>')
    .option('--csv <file>', 'manifest with path,identity columns (paths relative to its folder)')
    .option('--out <dir>', 'run directory: checkpoints, logs, best/ (default with --resume: the resumed run)')
    .option(
      '--config <file.json>',
      "training config (JSON, any subset of the keys, e.g. a run's config.json); flags override it",
    )
    .option('--max-steps <n>', 'stop after this many steps in total (checkpointed)', positiveInt('--max-steps'))
    .option('--resume <dir>', 'continue a run from its last checkpoint')
    .option('--eval-pairs <file>', 'LFW-format pairs evaluated at each epoch end (reported only)')
    .option('--eval-images <dir>', 'image folder of --eval-pairs')
    .option(
      '--eval-every <epochs>',
      'score --eval-pairs every N epochs and after the last (default 1); also with --resume, as it leaves the weights alone',
      positiveInt('--eval-every'),
    )
    .option(
      '--init <modelDir>',
      'start from the weights of a saved model (backbone; class centres too when its identities match): a new run, not a resume',
    )
    .option(
      '--distill <teacher.npy>',
      "distil from a teacher's embeddings of the training images (N×T .npy + .txt image list; scripts/teacher-embeddings.mjs)",
    )
    .option(
      '--distill-weight <λ>',
      `weight of the distillation term (default ${DEFAULT_DISTILL_WEIGHT})`,
      finiteNumber('--distill-weight', (n) => n > 0, 'a positive number'),
    )
    .addOption(backendOption())
    .addOption(evalRuntimeOption());
}

/** The backbone and the margin head. */
function modelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backbone <name>', 'backbone').choices(BACKBONE_NAMES).default('mobilefacenet'))
    .option('--input-size <px>', 'square input size, a multiple of 16 (default 112)', positiveInt('--input-size'))
    .option('--width <n>', 'MobileFaceNet base width (default 64)', positiveInt('--width'))
    .option('--embedding-size <n>', 'embedding dimension (default 512)', positiveInt('--embedding-size'))
    .option('--backbone-config <json>', 'other backbone overrides as JSON, e.g. \'{"blocks":[1,2,2,1]}\'')
    .option('--k <n>', 'sub-centres per identity (default 3; 1 = plain ArcFace)', positiveInt('--k'))
    .addOption(
      new Option('--margin <preset>', 'margin preset (default arcface, s 64 m 0.5)').choices([
        'arcface',
        'cosface',
        'sphereface',
      ]),
    );
}

/** Batches, workers, the schedule and the split. */
function optimisationOptions(cmd: Command): Command {
  return cmd
    .option('--batch-size <n>', 'images per step (default 32)', positiveInt('--batch-size'))
    .option(
      '--micro-batch <n>',
      'accumulate gradients over chunks of n images (less memory; BN per chunk)',
      positiveInt('--micro-batch'),
    )
    .option(
      '--workers <n>',
      'worker threads sharing each batch, BN per share of batch-size / n (default: the cores, lowered to a divisor of --batch-size)',
      positiveInt('--workers'),
    )
    .option(
      '--epochs <n>',
      'epochs (default 20); with --resume, a new end for the run (its learning-rate schedule changes from here on)',
      positiveInt('--epochs'),
    )
    .option(
      '--lr <x>',
      'peak SGD learning rate (default 0.1)',
      finiteNumber('--lr', (n) => n > 0, 'a positive number'),
    )
    .option(
      '--warmup-epochs <x>',
      'linear LR warmup in epochs (default 0)',
      finiteNumber('--warmup-epochs', (n) => n >= 0, 'a number ≥ 0'),
    )
    .option(
      '--max-classes <n>',
      'use only the first N identities (sorted), for quick runs',
      positiveInt('--max-classes'),
    )
    .option(
      '--val-fraction <x>',
      'identities held out to choose the best checkpoint (default 0.1)',
      finiteNumber('--val-fraction', (n) => n >= 0 && n < 1, 'in [0, 1)'),
    )
    .option(
      '--seed <n>',
      'seed of weights, split, order and flips (default 0)',
      finiteNumber('--seed', Number.isInteger, 'an integer'),
    )
    .option(
      '--checkpoint-every <minutes>',
      'checkpoint interval (default 10)',
      finiteNumber('--checkpoint-every', (n) => n > 0, 'a positive number'),
    )
    .option('--no-flip', 'no random horizontal flips');
}

/** The config and the data of the run: the checkpoint's when resuming, else the flags' over `--config`. */
async function planRun(
  cmd: Command,
  flags: TrainFlags,
): Promise<{
  cfg: TrainConfig;
  source: NonNullable<TrainState['source']>;
  outDir: string;
  workers?: number;
  overrides?: ResumeOverrides;
}> {
  if (flags.data !== undefined && flags.csv !== undefined) throw new ArcinvertError('give --data or --csv, not both');
  const given =
    flags.data !== undefined
      ? { kind: 'folder' as const, path: path.resolve(flags.data) }
      : flags.csv !== undefined
        ? { kind: 'csv' as const, path: path.resolve(flags.csv) }
        : null;
  if (flags.resume !== undefined) {
    const changed = CONFIG_FLAGS.filter((k) => cmd.getOptionValueSource(k) === 'cli');
    if (changed.length > 0)
      throw new ArcinvertError(`--resume continues with the run's own config; drop ${kebabFlag(changed[0])}`);
    const state = await readTrainState(await findCheckpoint(flags.resume));
    const source = given ?? state.source;
    if (source === null) throw new ArcinvertError('the checkpoint does not record its data; give --data or --csv');
    // What a resume may change (`ResumeOverrides`): the run's length and how often LFW is scored.
    // Only what differs from the run's config counts as a change (a script may pass the same values on every resume).
    const overrides: ResumeOverrides = {
      ...(flags.epochs !== undefined && flags.epochs !== state.config.epochs ? { epochs: flags.epochs } : {}),
      ...(flags.evalEvery !== undefined && flags.evalEvery !== state.config.evalPairsEvery
        ? { evalPairsEvery: flags.evalEvery }
        : {}),
    };
    return {
      cfg: resumedConfig(state, overrides),
      overrides,
      source,
      outDir: path.resolve(flags.out ?? flags.resume),
      workers: state.workers,
    };
  }
  if (given === null) throw new ArcinvertError('give the training images with --data DIR or --csv FILE');
  if (flags.out === undefined) throw new ArcinvertError('give the run directory with --out DIR');
  if (existsSync(path.join(flags.out, 'checkpoint.json')))
    throw new ArcinvertError(
      `${flags.out} already holds a training run; continue it with --resume ${flags.out} or choose another --out`,
    );
  const fromFile = flags.config ? await readConfigFile<TrainConfigInput>(flags.config, TRAIN_CONFIG_FILE) : {};
  // Commander's defaults of --backbone and --no-flip must not override the file.
  const explicit = { ...flags };
  if (cmd.getOptionValueSource('backbone') !== 'cli') explicit.backbone = undefined;
  if (cmd.getOptionValueSource('flip') !== 'cli') explicit.flip = undefined;
  return { cfg: configFromFlags(explicit, fromFile), source: given, outDir: path.resolve(flags.out) };
}

/** The signals that ask training to checkpoint and stop, and the exit status each gives (128 + its number). */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/** `--runtime` for the held-out and benchmark scores (the training steps always run on tfjs). */
function evalRuntimeOption(): Option {
  const o = runtimeOption();
  o.description =
    'what runs the forward passes of the held-out and benchmark scores: onnxruntime (auto: where installed), or tfjs';
  return o;
}

/** `TrainOptions.evalEmbedder` for `--runtime`: says once which runtime scores the epochs. */
function evalEmbedderFor(ctx: CliContext, runtime: EmbedRuntime): TrainOptions['evalEmbedder'] {
  let said = false;
  return async (fm) => {
    const { embedder, why } = await embedderFor(fm, runtime);
    if (!said) ctx.err(`scores on: ${embedder ? 'onnxruntime' : `tfjs${why ? ` (${why})` : ''}`}`);
    said = true;
    return embedder;
  };
}

/**
 * Runs `train()` with the Ink view or plain lines; Ctrl-C or SIGTERM (what schedulers send before
 * killing a job) asks it to checkpoint and stop (a second signal kills the process at once: the
 * last checkpoint written stays, as after SIGKILL). Returns the signal that stopped it, if any.
 */
async function runTraining(
  ctx: CliContext,
  options: TrainOptions,
): Promise<TrainResult & { signal?: keyof typeof STOP_SIGNALS }> {
  const cfg = options.config;
  const title = `train ${cfg.backbone} → ${options.outDir}`;
  const reporter: TrainReporter = ctx.interactive
    ? await (await import('./ui/trainMount.js')).mountTrainView(title)
    : plainTrainReporter((l) => ctx.err(l));
  if (!ctx.interactive) ctx.err(title);
  const controller = new AbortController();
  let signal: keyof typeof STOP_SIGNALS | undefined;
  const handlers = (Object.keys(STOP_SIGNALS) as Array<keyof typeof STOP_SIGNALS>).map((s) => {
    const handler = (): void => {
      for (const [t, h] of handlers) process.removeListener(t, h);
      signal = s;
      reporter.message(
        `interrupted (${s}): finishing the step and writing a checkpoint (a second signal quits at once)…`,
      );
      controller.abort();
    };
    return [s, handler] as const;
  });
  for (const [s, h] of handlers) process.once(s, h);
  try {
    const result = await train(options, {
      onStep: (p) => reporter.step(p),
      onEpoch: (e) => reporter.epoch(e),
      onMessage: (m) => reporter.message(m),
      signal: controller.signal,
    });
    return { ...result, signal: result.aborted ? signal : undefined };
  } catch (err) {
    // tfjs-backend-wasm aborts (no exception it can recover from) when its heap, at most 4 GB, is full.
    if (err instanceof Error && /^Aborted\(/.test(err.message) && tf.getBackend() === 'wasm') {
      throw new ArcinvertError(
        `the wasm backend ran out of memory (4 GB heap) at --batch-size ${cfg.batchSize}; add --micro-batch 8 or lower --batch-size / --input-size`,
      );
    }
    throw err;
  } finally {
    for (const [s, h] of handlers) process.removeListener(s, h);
    reporter.unmount();
  }
}

/** The result lines; an interrupted run exits 130 with how to continue it. */
async function reportResult(
  ctx: CliContext,
  result: TrainResult & { signal?: keyof typeof STOP_SIGNALS },
  outDir: string,
): Promise<void> {
  if (result.skipped.length > 0) {
    await writeFileAtomic(
      path.join(outDir, 'skipped.txt'),
      result.skipped.map((s) => `${s.path}\t${s.reason}`).join('\n') + '\n',
    );
    ctx.out(`skipped ${result.skipped.length} unreadable image(s), listed in ${path.join(outDir, 'skipped.txt')}`);
  }
  ctx.out(`trained ${result.steps} steps (${formatDuration(result.seconds)}), last loss ${result.lastLoss.toFixed(4)}`);
  ctx.out(`checkpoint: ${result.checkpoint}`);
  if (result.best)
    ctx.out(
      `best: epoch ${result.best.epoch + 1}, validation accuracy ${result.best.accuracy.toFixed(4)} → ${result.best.dir}`,
    );
  if (result.aborted)
    throw new ArcinvertError(
      `interrupted at step ${result.steps}; continue with --resume ${outDir}`,
      STOP_SIGNALS[result.signal ?? 'SIGINT'],
    );
}

export function trainCommand(ctx: CliContext): Command {
  const cmd = new Command('train').description(
    'train an ArcFace (sub-center) face-recognition model; Ctrl-C writes a checkpoint',
  );
  optimisationOptions(modelOptions(dataOptions(cmd)));
  return cmd.action(async (flags: TrainFlags) => {
    const { cfg, source, outDir, workers: saved, overrides } = await planRun(cmd, flags);
    if (flags.evalEvery !== undefined && cfg.evalPairs === null)
      throw new ArcinvertError(
        '--eval-every says how often --eval-pairs is scored: give --eval-pairs and --eval-images',
      );
    await checkEvalPairs(cfg);
    // A resumed run keeps its worker count (the gradient sums' order), unless --workers says otherwise.
    const workers = flags.workers ?? saved ?? defaultWorkers(cfg, availableParallelism());
    workerShare(cfg, workers);
    await useBackend(ctx, flags.backend);
    ctx.err(`config: ${JSON.stringify(cfg)}`);
    ctx.err(`workers: ${workers}`);
    if (saved !== undefined && workers !== saved)
      ctx.err(`the run trained on ${saved} worker(s): with ${workers}, the weights differ from an uninterrupted run`);
    if (overrides?.epochs !== undefined)
      ctx.err(
        `the run now ends after ${overrides.epochs} epoch(s): its learning-rate schedule changes from here on, so the weights differ from an uninterrupted run`,
      );
    const data = await loadData(source);
    const result = await runTraining(ctx, {
      config: cfg,
      data,
      source,
      outDir,
      resumeFrom: flags.resume,
      resumeOverrides: overrides,
      maxSteps: flags.maxSteps,
      workers,
      evalEmbedder: evalEmbedderFor(ctx, flags.runtime),
    });
    await reportResult(ctx, result, outDir);
  });
}
