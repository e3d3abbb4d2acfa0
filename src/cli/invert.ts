/**
 * `arcinvert invert`: reconstruct faces from a model's embeddings (see src/invert).
 * Parses flags into an `InvertConfig`, gathers targets, and hands them to the pipeline it
 * shares with `leakage --invert` (invertRun.ts: the library's `invert()`, serial or on worker
 * threads, with an Ink view on a TTY or plain / JSON lines otherwise, outputs written
 * all-or-nothing, `--out` checked and staged before any work: io/staging.ts). Ctrl-C finishes
 * the current step, writes the best images so far and exits 130; SIGTERM does the same and exits
 * 143; a second signal quits at once, leaving the previous `--out` untouched.
 */
import { Command, Option } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { listImages } from '../io/image.js';
import { loadFaceModel } from '../model/store.js';
import { DEFAULT_INVERT_CONFIG, resolveInvertConfig, type InvertConfig } from '../invert/config.js';
import { summarise } from '../invert/outputs.js';
import { describeDivergence } from '../invert/progress.js';
import { stageOutput } from '../io/staging.js';
import {
  randomTargets,
  targetsFromClasses,
  targetsFromImages,
  targetsFromNpy,
  type TargetSet,
} from '../invert/targets.js';
import type { ArcFaceHead } from '../arcface/head.js';
import { HEAD_BASENAME, loadHeadIfPresent } from '../model/directory.js';
import { mergeFlags, readConfigFile } from './config.js';
import type { CliContext } from './context.js';
import { checkEnsembleFlags, loadMembers, memberTargets, membersRecord, type LoadedMember } from './ensemble.js';
import type { FaceModel } from '../model/types.js';
import type { AlignMode } from '../align/align.js';
import {
  alignOption,
  backendOption,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  preparePhotos,
  useBackend,
} from './options.js';
import { invertInto, STOP_SIGNALS, workersOption, type InvertRun } from './invertRun.js';
import { parseShardFlag, resolveShard, type ShardFlag } from './shard.js';

interface InvertFlags {
  /** The attacked model, then the ensemble's other members. */
  model: string[];
  bridge?: string[];
  memberWeight: number;
  embedding?: string;
  listingRoot?: string;
  image?: string[];
  class?: number[];
  random?: number;
  out: string;
  overwrite: boolean;
  config?: string;
  seeds?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  identityLoss?: InvertConfig['identityLoss'];
  bnPrior: boolean;
  bnForm?: InvertConfig['bnForm'];
  bnReduction?: InvertConfig['bnReduction'];
  bnWeight?: number;
  prior?: InvertConfig['priorStats'];
  bnFirstLayer?: number;
  tvL1?: number;
  tvL2?: number;
  l2?: number;
  jitter?: number;
  flip: boolean;
  scaleJitter?: number;
  colourShift?: number;
  param?: InvertConfig['parametrisation'];
  colour?: InvertConfig['colour'];
  outputSize?: number;
  multiResolution?: boolean;
  seed?: number;
  snapshotEvery?: number;
  json?: boolean;
  align: AlignMode;
  workers: number;
  backend: BackendPreference;
  shard?: ShardFlag;
}

const INVERT_CONFIG_FILE = { flag: '--config', keys: Object.keys(DEFAULT_INVERT_CONFIG), what: 'invert config' };

/** Flags override the `--config` file, which overrides the defaults. */
async function configFromFlags(f: InvertFlags): Promise<InvertConfig> {
  const fromFile = f.config ? await readConfigFile<InvertConfig>(f.config, INVERT_CONFIG_FILE) : {};
  const flags: Partial<InvertConfig> = {
    seeds: f.seeds,
    steps: f.steps,
    batchSize: f.batchSize,
    lr: f.lr,
    identityLoss: f.identityLoss,
    bnForm: f.bnForm,
    bnReduction: f.bnReduction,
    bnWeight: f.bnWeight,
    priorStats: f.prior,
    bnFirstLayerWeight: f.bnFirstLayer,
    tvL1Weight: f.tvL1,
    tvL2Weight: f.tvL2,
    l2Weight: f.l2,
    jitter: f.jitter,
    scaleJitter: f.scaleJitter,
    colourShift: f.colourShift,
    parametrisation: f.param,
    colour: f.colour,
    outputSize: f.outputSize,
    multiResolution: f.multiResolution,
    seed: f.seed,
    snapshotEvery: f.snapshotEvery,
  };
  if (!f.bnPrior) flags.bnPrior = false;
  if (!f.flip) flags.flip = false;
  return resolveInvertConfig(mergeFlags(fromFile, flags));
}

/** Flag combinations that cannot work, checked before anything is loaded. */
function checkFlags(f: InvertFlags, config: InvertConfig): void {
  const given = [f.embedding, f.image, f.class, f.random].filter((v) => v !== undefined).length;
  if (given !== 1)
    throw new ArcinvertError('give exactly one target source: --embedding, --image, --class or --random');
  if (config.identityLoss === 'arcface' && f.class === undefined)
    throw new ArcinvertError('--identity-loss arcface needs class targets (--class)');
  if (f.model.length > 1 && f.class !== undefined)
    throw new ArcinvertError(
      "--class targets are the first model's classes: an ensemble (several --model) inverts --embedding, --image or --random targets",
    );
  checkEnsembleFlags(f.model, f.bridge, f.image === undefined);
  if (f.memberWeight !== 1 && f.model.length === 1)
    throw new ArcinvertError('--member-weight weighs the further --model of an ensemble: give more than one --model');
}

/**
 * The targets, and for `--image` a function that embeds the same photos with another model
 * (an ensemble member's targets).
 */
async function gatherTargets(
  ctx: CliContext,
  f: InvertFlags,
  fm: Awaited<ReturnType<typeof loadFaceModel>>,
  head: ArcFaceHead | undefined,
  seed: number,
): Promise<{ targets: TargetSet; embedPhotos?: (other: FaceModel) => Promise<Float32Array> }> {
  if (f.embedding) {
    const t = await targetsFromNpy(f.embedding, fm.meta.embeddingSize, { listingRoot: f.listingRoot });
    for (const note of t.notes ?? []) ctx.err(`skipped ${note}`);
    return { targets: t };
  }
  if (f.image) {
    const photos = await preparePhotos(ctx, await listImages(f.image), f.align, fm.meta.inputSize);
    return {
      targets: await targetsFromImages(fm, photos),
      embedPhotos: async (other) => (await targetsFromImages(other, photos)).embeddings,
    };
  }
  if (f.class) {
    if (!head)
      throw new ArcinvertError(
        `--class needs the model's classifier (${HEAD_BASENAME}.json/.bin in the model directory), which ${f.model[0]} lacks`,
      );
    return { targets: targetsFromClasses(head, f.class) };
  }
  return { targets: randomTargets(f.random as number, fm.meta.embeddingSize, seed) };
}

/** Adds the flags of `arcinvert invert` to `cmd`. */
function invertOptions(cmd: Command): Command {
  const int = (flag: string) => positiveInt(flag);
  return objectiveOptions(
    targetOptions(cmd)
      .requiredOption('--out <dir>', 'output directory (refused if not empty, unless --overwrite)')
      .option('--overwrite', 'replace a non-empty --out once the new output is complete', false)
      .option('--config <file.json>', 'inversion config (JSON, any subset of the keys); flags override it')
      .option('--seeds <n>', 'starting noises per target', int('--seeds'))
      .option('--steps <n>', 'Adam steps per batch', int('--steps'))
      .option('--batch-size <n>', 'images optimised together', int('--batch-size'))
      .option('--lr <x>', 'Adam learning rate', nonNegativeNumber('--lr')),
  )
    .option('--seed <n>', 'random seed', nonNegativeInt('--seed'))
    .option(
      '--snapshot-every <k>',
      'write the current images every k steps to <out>/snapshots',
      nonNegativeInt('--snapshot-every'),
    )
    .addOption(workersOption())
    .option(
      '--shard <i/n>',
      "only the i-th (0-based) of n slices of the targets' batches, with the images a single run gives them (arcinvert merge joins the shards); auto/n reads the index from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)",
      parseShardFlag,
    )
    .option('--json', 'progress as JSON lines (when not on a TTY)')
    .addOption(backendOption());
}

/** The models and the targets of `arcinvert invert`. */
function targetOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      '--model <dirs...>',
      "model directory; several: an ensemble, one image satisfying each model's identity loss and BN prior (the first is the attacked one: its targets, its cosine)",
    )
    .option(
      '--bridge <dirs...>',
      'with several --model and --embedding or --random targets: a bridge from the first model to each further one, in order (arcinvert bridge fit)',
    )
    .option(
      '--member-weight <x>',
      "weight of each further --model's identity and prior terms (the first model's are 1)",
      nonNegativeNumber('--member-weight'),
      1,
    )
    .option('--embedding <file.npy>', 'target embeddings: 1-D (one) or N×D (N targets)')
    .option(
      '--listing-root <dir>',
      "with --embedding: the folder the photos in its listing (<file>.jsonl or .txt) may be read from (default: the listing's folder)",
    )
    .option(
      '--image <paths...>',
      'face photos (files or directories), aligned unless already 112×112 (--align), embedded with the model',
    )
    .addOption(alignOption())
    .option('--class <ids...>', "class ids of the model's classifier (closed set)", (v: string, acc: number[] = []) => [
      ...acc,
      nonNegativeInt('--class')(v),
    ])
    .option('--random <n>', 'n random identities', positiveInt('--random'));
}

/** The objective's and the image's flags of `arcinvert invert`. */
function objectiveOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--identity-loss <name>', 'identity loss').choices(['cosine', 'l2', 'arcface']))
    .option('--no-bn-prior', 'disable the BatchNorm-statistics prior (ablation)')
    .addOption(new Option('--bn-form <form>', 'BN prior distance').choices(['arcface', 'deepinversion']))
    .addOption(new Option('--bn-reduction <r>', 'BN prior reduction over channels').choices(['sum', 'mean']))
    .option('--bn-weight <x>', 'BN prior weight λ', nonNegativeNumber('--bn-weight'))
    .addOption(
      new Option(
        '--prior <stats>',
        "statistics the BN prior pulls towards: the layers' running ones (bn), those stored by 'arcinvert calibrate' (calibrated), or running where present and calibrated elsewhere (both); default bn",
      ).choices(['bn', 'calibrated', 'both']),
    )
    .option('--bn-first-layer <x>', "multiplier of the first BN layer's term", nonNegativeNumber('--bn-first-layer'))
    .option('--tv-l1 <x>', 'total variation (L1) weight', nonNegativeNumber('--tv-l1'))
    .option('--tv-l2 <x>', 'total variation (L2) weight', nonNegativeNumber('--tv-l2'))
    .option('--l2 <x>', 'pixel L2 weight', nonNegativeNumber('--l2'))
    .option('--jitter <px>', 'random roll jitter in pixels', nonNegativeInt('--jitter'))
    .option('--no-flip', 'no random horizontal flips')
    .option(
      '--scale-jitter <s>',
      'random zoom each step, scale in [1 − s, 1 + s] (0: off)',
      nonNegativeNumber('--scale-jitter'),
    )
    .option(
      '--colour-shift <s>',
      'random colour shift each step: per channel x·e^u + v, u and v in [−s, s] (0: off)',
      nonNegativeNumber('--colour-shift'),
    )
    .addOption(
      new Option(
        '--param <p>',
        'what the optimiser moves: a 1/f-scaled cosine spectrum (fourier, default), or the pixels (pixel; try --lr 0.25)',
      ).choices(['pixel', 'fourier']),
    )
    .addOption(
      new Option(
        '--colour <space>',
        "colour space optimised: real faces' decorrelated channels (default), or rgb",
      ).choices(['rgb', 'decorrelated']),
    )
    .option(
      '--output-size <px>',
      "least height of the images optimised and written, shrunk to the model's input for the network (default 128; 0 or a size at most the input's: the input size)",
      nonNegativeInt('--output-size'),
    )
    .option(
      '--multi-resolution',
      'with --param pixel --colour rgb: optimise at half resolution for the first half of the steps',
    )
    .option('--no-multi-resolution', 'optimise at full resolution from the start (default)');
}

/** What `invert` reads: with `--overwrite`, an `--out` holding one of them is refused. */
function inputsOf(f: InvertFlags): Array<{ key: string; path: string | undefined }> {
  return [
    ...f.model.map((m) => ({ key: 'model', path: m })),
    ...(f.bridge ?? []).map((b) => ({ key: 'bridge', path: b })),
    { key: 'embedding', path: f.embedding },
    { key: 'config', path: f.config },
    ...(f.image ?? []).map((p) => ({ key: 'image', path: p })),
  ];
}

/**
 * The action: flags → config, `--out` staged (before any work, so a bad one fails at once),
 * targets, then the shared pipeline (invertRun.ts), the commit, and the summary line.
 */
async function runInvert(ctx: CliContext, f: InvertFlags): Promise<void> {
  const config = await configFromFlags(f);
  checkFlags(f, config);
  const shard = f.shard ? resolveShard(f.shard) : undefined;
  const staged = await stageOutput(f.out, f.overwrite, { inputs: inputsOf(f), log: ctx.err });
  let run: InvertRun;
  try {
    const backend = await useBackend(ctx, f.backend);
    const fm = await loadFaceModel(f.model[0]);
    const head = await loadHeadIfPresent(f.model[0]);
    let members: LoadedMember[] = [];
    try {
      members = await loadMembers({ dir: f.model[0], fm }, f.model.slice(1), f.bridge, f.memberWeight);
      const { targets, embedPhotos } = await gatherTargets(ctx, f, fm, head, config.seed);
      const list = await memberTargets(members, targets, embedPhotos);
      run = await invertInto(ctx, {
        fm,
        head,
        targets,
        config,
        backend,
        model: f.model[0],
        members: members.length > 0 ? { list, record: membersRecord(members) } : undefined,
        dir: staged.staging,
        staged,
        workers: f.workers,
        workerBackend: f.backend,
        json: f.json,
        title: `arcinvert invert → ${f.out}`,
        shard,
      });
    } finally {
      head?.dispose();
      fm.model.dispose();
      for (const m of members) m.fm.model.dispose();
    }
    await staged.commit();
  } catch (err) {
    await staged.abandon();
    throw err;
  }
  const { result, signal } = run;
  const s = summarise(result);
  ctx.out(
    `wrote ${s.images} image(s), sheet.png and report.json to ${f.out}: best cosine mean ${s.meanBestCosine.toFixed(3)} (min ${s.minBestCosine.toFixed(3)}, max ${s.maxBestCosine.toFixed(3)}) in ${result.seconds.toFixed(1)} s`,
  );
  if (signal) throw new ArcinvertError(`interrupted (${signal}): wrote the best images so far`, STOP_SIGNALS[signal]);
  if (result.diverged)
    throw new ArcinvertError(
      `inversion diverged: ${describeDivergence(result.diverged)}; stopped, wrote the best finite images so far to ${f.out}; lower --lr or the loss weights`,
    );
}

export function invertCommand(ctx: CliContext): Command {
  return invertOptions(
    new Command('invert').description(
      'reconstruct faces from embeddings of a model (BN-statistics prior, no generator)',
    ),
  ).action((f: InvertFlags) => runInvert(ctx, f));
}
