/**
 * `arcinvert bridge fit --from A --to B --images DIR --out BRIDGE`: embeds the same aligned faces
 * with two models and fits the linear map from A's embedding space to B's (`src/bridge/`), the
 * ridge chosen on held-out identities; writes BRIDGE/bridge.json (what it maps, the held-out
 * agreement) and bridge.bin, staged like every output directory.
 *
 * `arcinvert bridge apply --bridge BRIDGE --embedding a.npy --out b.npy`: maps A's templates into
 * B's space (unit rows), with a listing beside `b.npy` naming the same photos as `a.npy`'s, so
 * `invert --model B --embedding b.npy` shows the targets and `leakage` can judge the result.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { fitWithHeldOut, applyBridge, type Rows } from '../bridge/fit.js';
import { loadBridge, saveBridge, type BridgeEnd, type BridgeRecord } from '../bridge/store.js';
import { readRaster } from '../align/raster.js';
import type { RasterImage } from '../align/warp.js';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { requireUsableImages, type ImageSkip } from '../io/image.js';
import { loadImageFolder } from '../io/imageFolder.js';
import { encodeListing, listingPathFor, readListingFor } from '../io/listing.js';
import { readEmbeddings, writeNpy } from '../io/npy.js';
import { stageOutput } from '../io/staging.js';
import { modelJudge } from '../judge/model.js';
import { modelDirLineage } from '../model/lineage.js';
import { loadFaceModel } from '../model/store.js';
import type { FaceModel } from '../model/types.js';
import { Mulberry32, mixSeed, shuffleInPlace } from '../util/random.js';
import type { CliContext } from './context.js';
import { backendOption, finiteNumber, nonNegativeInt, positiveInt, reportSkipped, useBackend } from './options.js';

interface FitFlags {
  from: string;
  to: string;
  images: string;
  n: number;
  valFraction: number;
  seed: number;
  out: string;
  overwrite: boolean;
  backend: BackendPreference;
}

interface ApplyFlags {
  bridge: string;
  embedding: string;
  out: string;
}

/** Images read and embedded at a time. */
const CHUNK = 64;

/** `n` faces of the ImageFolder `dir` (seeded), each with its identity; held-out identities chosen by `valFraction`. */
async function chooseFaces(f: FitFlags): Promise<{ files: string[]; val: boolean[]; identities: number }> {
  const ds = await loadImageFolder(f.images);
  const rng = new Mulberry32(mixSeed(f.seed, 0xb41d));
  const ids = shuffleInPlace(
    ds.classNames.map((_, i) => i),
    rng,
  );
  const nVal = Math.max(1, Math.round(f.valFraction * ids.length));
  if (nVal >= ids.length) throw new ArcinvertError(`--val-fraction ${f.valFraction} leaves no identity to fit on`);
  const valIds = new Set(ids.slice(0, nVal));
  const items = shuffleInPlace([...ds.items], rng).slice(0, f.n);
  const nHeld = items.filter((it) => valIds.has(it.label)).length;
  if (nHeld === 0 || nHeld === items.length)
    throw new ArcinvertError(
      `the ${items.length} sampled faces leave ${nHeld === 0 ? 'no held-out' : 'no fitting'} face: raise --n or change --val-fraction`,
    );
  return {
    files: items.map((it) => it.path),
    val: items.map((it) => valIds.has(it.label)),
    identities: new Set(items.filter((it) => valIds.has(it.label)).map((it) => it.label)).size,
  };
}

/** Embeds `files` with both models, image by image read once; unreadable images are skipped and listed. */
async function embedBoth(
  ctx: CliContext,
  files: readonly string[],
  models: readonly [FaceModel, FaceModel],
): Promise<{ a: Rows; b: Rows; kept: number[] }> {
  const judges = models.map((fm) => modelJudge(fm));
  const parts: Float32Array[][] = [[], []];
  const kept: number[] = [];
  const skipped: ImageSkip[] = [];
  for (let start = 0; start < files.length; start += CHUNK) {
    const rasters: RasterImage[] = [];
    for (let i = start; i < Math.min(files.length, start + CHUNK); i++) {
      try {
        rasters.push(await readRaster(files[i]));
        kept.push(i);
      } catch (err) {
        if (!(err instanceof ArcinvertError)) throw err;
        const s = { source: files[i], reason: err.message };
        skipped.push(s);
        reportSkipped(ctx, [s]);
      }
    }
    for (let m = 0; m < 2; m++) if (rasters.length > 0) parts[m].push(await judges[m].embed(rasters));
    ctx.err(`embedded ${Math.min(files.length, start + CHUNK)}/${files.length} faces with both models`);
  }
  requireUsableImages(kept, skipped, files.length);
  const join = (ps: Float32Array[], dim: number): Rows => {
    const data = new Float32Array(kept.length * dim);
    let o = 0;
    for (const p of ps) {
      data.set(p, o);
      o += p.length;
    }
    return { data, n: kept.length, dim };
  };
  return { a: join(parts[0], judges[0].dim), b: join(parts[1], judges[1].dim), kept };
}

async function endOf(dir: string, fm: FaceModel): Promise<BridgeEnd> {
  const l = await modelDirLineage(dir, fm.meta);
  return { model: dir, family: l.family, fingerprints: l.fingerprints, dim: fm.meta.embeddingSize };
}

async function runFit(ctx: CliContext, f: FitFlags): Promise<void> {
  const staged = await stageOutput(f.out, f.overwrite, {
    inputs: [
      { key: 'from', path: f.from },
      { key: 'to', path: f.to },
      { key: 'images', path: f.images },
    ],
    log: ctx.err,
  });
  const loaded: FaceModel[] = [];
  try {
    await useBackend(ctx, f.backend);
    const chosen = await chooseFaces(f);
    loaded.push(await loadFaceModel(f.from));
    loaded.push(await loadFaceModel(f.to));
    const [ma, mb] = loaded;
    const { a, b, kept } = await embedBoth(ctx, chosen.files, [ma, mb]);
    const train = kept.map((_, k) => k).filter((k) => !chosen.val[kept[k]]);
    const val = kept.map((_, k) => k).filter((k) => chosen.val[kept[k]]);
    const fit = fitWithHeldOut(a, b, train, val);
    const record: BridgeRecord = {
      format: 'arcinvert-bridge/1',
      from: await endOf(f.from, ma),
      to: await endOf(f.to, mb),
      ridge: fit.bridge.ridge,
      images: a.n,
      heldOut: { ...fit.heldOut, identities: chosen.identities },
      tried: fit.tried,
      source: f.images,
    };
    await saveBridge(staged.staging, record, fit.bridge);
    await staged.commit();
    const h = fit.heldOut;
    ctx.out(
      `${f.out}: ${record.from.family} (${a.dim}-d) → ${record.to.family} (${b.dim}-d), ridge ${fit.bridge.ridge}; held-out cosine (predicted vs ${record.to.family}'s own embedding, ${h.pairs} faces of ${chosen.identities} identities not fitted on): mean ${h.mean.toFixed(3)}, median ${h.median.toFixed(3)}, 5th percentile ${h.p05.toFixed(3)}`,
    );
  } catch (err) {
    await staged.abandon();
    throw err;
  } finally {
    for (const fm of loaded) fm.model.dispose();
  }
}

/** The photos `file`'s listing names, as paths usable from here (undefined without a listing). */
async function listedSources(file: string, rows: number): Promise<string[] | undefined> {
  const listing = await readListingFor(file, rows);
  if (!listing) return undefined;
  const base = listing.format === 'jsonl' ? path.dirname(listing.file) : process.cwd();
  return listing.entries.map((e) => path.resolve(base, e));
}

async function runApply(ctx: CliContext, f: ApplyFlags): Promise<void> {
  if (!f.out.endsWith('.npy')) throw new ArcinvertError(`--out must name a .npy file, got ${f.out}`);
  const { record, bridge } = await loadBridge(f.bridge);
  const e = await readEmbeddings(f.embedding);
  if (e.dim !== bridge.from)
    throw new ArcinvertError(
      `${f.embedding} holds ${e.dim}-d rows; the bridge maps ${record.from.family}'s ${bridge.from}-d embeddings`,
    );
  const sources = await listedSources(f.embedding, e.n);
  const mapped = applyBridge(bridge, { data: e.data, n: e.n, dim: e.dim });
  const listing = listingPathFor(f.out);
  const message = `wrote ${f.out} (${mapped.n}×${mapped.dim}, ${record.to.family}'s space)${sources ? ` and ${listing}` : ''}; the bridge's held-out agreement (estimated before its final fit): mean cosine ${record.heldOut.mean.toFixed(3)}`;
  // A listing left beside --out by an earlier run would pair these rows with other photos.
  for (const old of [listing, listing.replace(/\.jsonl$/, '.txt')]) await fsp.rm(old, { force: true });
  if (sources) await writeFileAtomic(listing, encodeListing(listing, sources));
  await writeNpy(f.out, mapped.data, [mapped.n, mapped.dim]);
  ctx.out(message);
}

export function bridgeCommand(ctx: CliContext): Command {
  const fit = new Command('fit')
    .description("fit a linear map from one model's embeddings to another's on the same faces")
    .requiredOption('--from <dir>', 'the model whose templates are mapped (e.g. the attacked model)')
    .requiredOption('--to <dir>', 'the model they are mapped to (e.g. an inversion member)')
    .requiredOption('--images <dir>', 'aligned faces in identity folders (e.g. ../shared/data/train)')
    .option('--n <count>', 'faces to fit on (a seeded sample)', positiveInt('--n'), 4000)
    .option(
      '--val-fraction <x>',
      'identities held out to choose the ridge and report the agreement',
      finiteNumber('--val-fraction', (x) => x > 0 && x < 1, 'in (0, 1)'),
      0.1,
    )
    .option('--seed <n>', 'seed of the sample and the split', nonNegativeInt('--seed'), 0)
    .requiredOption(
      '--out <dir>',
      'bridge directory (bridge.json + bridge.bin; refused if not empty, unless --overwrite)',
    )
    .option('--overwrite', 'replace a non-empty --out once the new bridge is complete', false)
    .addOption(backendOption())
    .action((f: FitFlags) => runFit(ctx, f));
  const apply = new Command('apply')
    .description("map templates of the bridge's first model into its second model's space")
    .requiredOption('--bridge <dir>', "an 'arcinvert bridge fit' output")
    .requiredOption('--embedding <file.npy>', "N×D_from embeddings (with embed's .jsonl listing, kept)")
    .requiredOption('--out <file.npy>', 'N×D_to unit rows, and a listing of the same photos beside it')
    .action((f: ApplyFlags) => runApply(ctx, f));
  return new Command('bridge')
    .description("linear maps between face models' embedding spaces (a template of one model as a target for another)")
    .addCommand(fit)
    .addCommand(apply);
}
