/**
 * `arcinvert train --data DIR|--csv FILE --out DIR …`: trains an ArcFace / Sub-center ArcFace
 * model (insightface arcface_torch `train_v2.py`) with `train()` from `src/train/loop.ts`.
 * The resolved config is printed at the start and saved in the run directory; an Ink view is
 * shown on a terminal, plain lines otherwise; Ctrl-C writes a checkpoint and exits 130.
 */
import { existsSync, promises as fsp } from 'node:fs';
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
import { findCheckpoint, type TrainState } from '../train/checkpoint.js';
import { resolveTrainConfig, type TrainConfig, type TrainConfigInput } from '../train/config.js';
import { loadCsvManifest, loadImageFolder, type Dataset } from '../io/imageFolder.js';
import { train } from '../train/loop.js';
import { defaultWorkers, workerShare } from '../train/parallel.js';
import { resolveMarginConfig, type MarginPresetName } from '../arcface/margin.js';
import type { CliContext } from './context.js';
import { backendOption, finiteNumber, positiveInt, useBackend } from './options.js';
import { formatDuration } from './ui/format.js';
import { plainTrainReporter, type TrainReporter } from './ui/trainPlain.js';

interface TrainFlags {
  data?: string;
  csv?: string;
  out?: string;
  backbone: BackboneName;
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
  flip: boolean;
  distill?: string;
  distillWeight?: number;
  init?: string;
  backend: BackendPreference;
}

/** λ of `--distill` when `--distill-weight` is not given. */
export const DEFAULT_DISTILL_WEIGHT = 64;

/** Flags that shape the model or the optimisation; they cannot change when resuming. */
const CONFIG_FLAGS = [
  'backbone',
  'inputSize',
  'width',
  'embeddingSize',
  'backboneConfig',
  'batchSize',
  'microBatch',
  'epochs',
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

/** Builds the training config from the flags (everything validated by `resolveTrainConfig`). */
export function configFromFlags(f: TrainFlags): TrainConfig {
  let extra: Record<string, unknown> = {};
  if (f.backboneConfig !== undefined) {
    try {
      extra = JSON.parse(f.backboneConfig) as Record<string, unknown>;
    } catch {
      throw new ArcinvertError(`--backbone-config must be a JSON object, got '${f.backboneConfig}'`);
    }
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
      throw new ArcinvertError('--backbone-config must be a JSON object');
  }
  if (f.width !== undefined && f.backbone !== 'mobilefacenet')
    throw new ArcinvertError('--width applies to mobilefacenet only');
  if ((f.evalPairs === undefined) !== (f.evalImages === undefined))
    throw new ArcinvertError('--eval-pairs and --eval-images go together');
  if (f.distillWeight !== undefined && f.distill === undefined)
    throw new ArcinvertError('--distill-weight needs --distill');
  const backboneConfig: Partial<BackboneConfig> = {
    ...extra,
    ...(f.inputSize !== undefined ? { inputSize: [f.inputSize, f.inputSize] as [number, number] } : {}),
    ...(f.width !== undefined ? { width: f.width } : {}),
    ...(f.embeddingSize !== undefined ? { embeddingSize: f.embeddingSize } : {}),
  };
  const input: TrainConfigInput = {
    backbone: f.backbone,
    backboneConfig,
    flip: f.flip,
    ...(f.margin !== undefined ? { margin: resolveMarginConfig(f.margin) } : {}),
    ...(f.batchSize !== undefined ? { batchSize: f.batchSize } : {}),
    ...(f.microBatch !== undefined ? { microBatch: f.microBatch } : {}),
    ...(f.epochs !== undefined ? { epochs: f.epochs } : {}),
    ...(f.lr !== undefined ? { lr: f.lr } : {}),
    ...(f.warmupEpochs !== undefined ? { warmupEpochs: f.warmupEpochs } : {}),
    ...(f.k !== undefined ? { k: f.k } : {}),
    ...(f.maxClasses !== undefined ? { maxClasses: f.maxClasses } : {}),
    ...(f.valFraction !== undefined ? { valFraction: f.valFraction } : {}),
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
    ...(f.checkpointEvery !== undefined ? { checkpointEveryMinutes: f.checkpointEvery } : {}),
    ...(f.evalPairs !== undefined
      ? { evalPairs: { pairsFile: path.resolve(f.evalPairs), imagesDir: path.resolve(f.evalImages!) } }
      : {}),
    ...(f.init !== undefined ? { init: path.resolve(f.init) } : {}),
    ...(f.distill !== undefined
      ? { distill: { targets: path.resolve(f.distill), weight: f.distillWeight ?? DEFAULT_DISTILL_WEIGHT } }
      : {}),
  };
  return resolveTrainConfig(input);
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
  await readPairsFile(cfg.evalPairs.pairsFile, '--eval-pairs');
  if (!existsSync(cfg.evalPairs.imagesDir))
    throw new ArcinvertError(`--eval-images ${cfg.evalPairs.imagesDir} does not exist`);
}

export function trainCommand(ctx: CliContext): Command {
  const cmd = new Command('train')
    .description('train an ArcFace (sub-center) face-recognition model; Ctrl-C writes a checkpoint')
    .option('--data <dir>', 'ImageFolder of aligned faces: <dir>/<identity>/<image>')
    .option('--csv <file>', 'manifest with path,identity columns (paths relative to its folder)')
    .option('--out <dir>', 'run directory: checkpoints, logs, best/ (default with --resume: the resumed run)')
    .addOption(new Option('--backbone <name>', 'backbone').choices(BACKBONE_NAMES).default('mobilefacenet'))
    .option('--input-size <px>', 'square input size, a multiple of 16 (default 112)', positiveInt('--input-size'))
    .option('--width <n>', 'MobileFaceNet base width (default 64)', positiveInt('--width'))
    .option('--embedding-size <n>', 'embedding dimension (default 512)', positiveInt('--embedding-size'))
    .option('--backbone-config <json>', 'other backbone overrides as JSON, e.g. \'{"blocks":[1,2,2,1]}\'')
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
    .option('--epochs <n>', 'epochs (default 20)', positiveInt('--epochs'))
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
    .option('--k <n>', 'sub-centres per identity (default 3; 1 = plain ArcFace)', positiveInt('--k'))
    .addOption(
      new Option('--margin <preset>', 'margin preset (default arcface, s 64 m 0.5)').choices([
        'arcface',
        'cosface',
        'sphereface',
      ]),
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
    .option('--max-steps <n>', 'stop after this many steps in total (checkpointed)', positiveInt('--max-steps'))
    .option('--resume <dir>', 'continue a run from its last checkpoint')
    .option('--eval-pairs <file>', 'LFW-format pairs evaluated at each epoch end (reported only)')
    .option('--eval-images <dir>', 'image folder of --eval-pairs')
    .option('--no-flip', 'no random horizontal flips')
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
    .addOption(backendOption());
  return cmd.action(async (flags: TrainFlags) => {
    let cfg: TrainConfig;
    let source: NonNullable<TrainState['source']>;
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
        throw new ArcinvertError(
          `--resume continues with the run's own config; drop --${changed[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
        );
      const state = JSON.parse(
        await fsp.readFile(path.join(await findCheckpoint(flags.resume), 'state.json'), 'utf8'),
      ) as TrainState;
      cfg = resolveTrainConfig(state.config);
      const recorded = given ?? state.source;
      if (recorded === null) throw new ArcinvertError('the checkpoint does not record its data; give --data or --csv');
      source = recorded;
    } else {
      if (given === null) throw new ArcinvertError('give the training images with --data DIR or --csv FILE');
      if (flags.out === undefined) throw new ArcinvertError('give the run directory with --out DIR');
      if (existsSync(path.join(flags.out, 'checkpoint.json')))
        throw new ArcinvertError(
          `${flags.out} already holds a training run; continue it with --resume ${flags.out} or choose another --out`,
        );
      cfg = configFromFlags(flags);
      source = given;
    }
    const outDir = path.resolve(flags.out ?? flags.resume!);
    await checkEvalPairs(cfg);
    const workers = flags.workers ?? defaultWorkers(cfg, availableParallelism());
    workerShare(cfg, workers);
    await useBackend(ctx, flags.backend);
    ctx.err(`config: ${JSON.stringify(cfg)}`);
    ctx.err(`workers: ${workers}`);
    const data = await loadData(source);

    const title = `train ${cfg.backbone} → ${outDir}`;
    const reporter: TrainReporter = ctx.interactive
      ? await (await import('./ui/trainMount.js')).mountTrainView(title)
      : plainTrainReporter((l) => ctx.err(l));
    if (!ctx.interactive) ctx.err(title);
    const controller = new AbortController();
    const onSigint = (): void => {
      reporter.message('interrupted: finishing the step and writing a checkpoint (Ctrl-C again quits at once)…');
      controller.abort();
    };
    process.once('SIGINT', onSigint);
    let result;
    try {
      result = await train(
        { config: cfg, data, source, outDir, resumeFrom: flags.resume, maxSteps: flags.maxSteps, workers },
        {
          onStep: (p) => reporter.step(p),
          onEpoch: (e) => reporter.epoch(e),
          onMessage: (m) => reporter.message(m),
          signal: controller.signal,
        },
      );
    } catch (err) {
      // tfjs-backend-wasm aborts (no exception it can recover from) when its heap, at most 4 GB, is full.
      if (err instanceof Error && /^Aborted\(/.test(err.message) && tf.getBackend() === 'wasm') {
        throw new ArcinvertError(
          `the wasm backend ran out of memory (4 GB heap) at --batch-size ${cfg.batchSize}; add --micro-batch 8 or lower --batch-size / --input-size`,
        );
      }
      throw err;
    } finally {
      process.removeListener('SIGINT', onSigint);
      reporter.unmount();
    }
    if (result.skipped.length > 0) {
      await writeFileAtomic(
        path.join(outDir, 'skipped.txt'),
        result.skipped.map((s) => `${s.path}\t${s.reason}`).join('\n') + '\n',
      );
      ctx.out(`skipped ${result.skipped.length} unreadable image(s), listed in ${path.join(outDir, 'skipped.txt')}`);
    }
    ctx.out(
      `trained ${result.steps} steps (${formatDuration(result.seconds)}), last loss ${result.lastLoss.toFixed(4)}`,
    );
    ctx.out(`checkpoint: ${result.checkpoint}`);
    if (result.best)
      ctx.out(
        `best: epoch ${result.best.epoch + 1}, validation accuracy ${result.best.accuracy.toFixed(4)} → ${result.best.dir}`,
      );
    if (result.aborted)
      throw new ArcinvertError(`interrupted at step ${result.steps}; continue with --resume ${outDir}`, 130);
  });
}
