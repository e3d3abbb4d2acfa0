/**
 * Joins the outputs of a sharded inversion (`invert --shard i/n`, or the reconstructions of
 * `leakage --invert --shard i/n`) into one output: the images a single run writes, one
 * report.json and the sheet. The shards must be one run's — the same model, config, targets
 * (by fingerprint), backend and shard count —, every index from 0 to n − 1 exactly once, and
 * every image of the run exactly once (no shard diverged or stopped early); anything
 * else is refused with one line naming the problem, before anything is written.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Normalization } from '../backbone/types.js';
import { imageFileName, writeSheet, type ShardInfo } from './outputs.js';
import { shardBatches } from './plan.js';
import type { InvertedImage, RgbImage } from './types.js';

/** What merge reads of a shard's report.json. */
interface ShardReport {
  format: string;
  model: string;
  modelSha256?: string;
  diverged?: unknown;
  backbone: string;
  backend: string;
  config: Record<string, unknown>;
  startedAt: string;
  aborted: boolean;
  seconds: number;
  targetsSha256?: string;
  targets: Array<{ index: number; kind: string; source: string | null; class: number | null }>;
  images: Array<{ file: string; target: number; seed: number; bestCosine: number } & Record<string, unknown>>;
  shard?: ShardInfo;
  batchParts?: number;
  members?: Array<{ modelSha256?: string; weight?: number; targetsSha256?: string } & Record<string, unknown>>;
}

/** A shard directory: its report and the folder its images are in. */
export interface ShardOutput {
  dir: string;
  imagesDir: string;
  report: ShardReport;
}

/** Reads a shard: `dir/report.json` (invert), or `dir/reconstructions/report.json` (leakage --invert). */
export async function readShard(dir: string): Promise<ShardOutput> {
  for (const imagesDir of [dir, path.join(dir, 'reconstructions')]) {
    const file = path.join(imagesDir, 'report.json');
    const text = await fsp.readFile(file, 'utf8').catch(() => null);
    if (text === null) continue;
    let report: ShardReport;
    try {
      report = JSON.parse(text) as ShardReport;
    } catch {
      throw new ArcinvertError(`${file} is not valid JSON`);
    }
    if (report.format !== 'arcinvert-invert-report/1')
      throw new ArcinvertError(`${file} is not an arcinvert invert report (format ${JSON.stringify(report.format)})`);
    if (!report.shard)
      throw new ArcinvertError(`${dir} is not a shard: its report.json has no shard (run with --shard i/n)`);
    return { dir, imagesDir, report };
  }
  throw new ArcinvertError(`${dir} holds no report.json (nor reconstructions/report.json): not an inversion output`);
}

/** Checks that `shards` are all of one run and complete; returns them in index order. */
export function checkShards(shards: ShardOutput[]): ShardOutput[] {
  if (shards.length === 0) throw new ArcinvertError('no shards to merge');
  const [first] = shards;
  const same = (what: string, get: (r: ShardReport) => unknown): void => {
    const want = JSON.stringify(get(first.report));
    const other = shards.find((s) => JSON.stringify(get(s.report)) !== want);
    if (other)
      throw new ArcinvertError(`${other.dir} and ${first.dir} are not shards of one run: their ${what} differ`);
  };
  same('shard counts', (r) => r.shard!.count);
  same('models', (r) => r.modelSha256 ?? r.model);
  same('ensemble members', (r) => (r.members ?? []).map((m) => [m.modelSha256, m.weight, m.targetsSha256]));
  same('targets', (r) => r.targetsSha256 ?? r.targets);
  same('inversion configs', (r) => r.config);
  same('backends (images are identical only on one backend)', (r) => r.backend);
  same('batch plans', (r) => r.shard!.plannedBatches);
  same('batch parts (--workers with fewer batches than workers)', (r) => r.batchParts ?? 1);
  const count = first.report.shard!.count;
  const byIndex = new Map<number, ShardOutput>();
  for (const s of shards) {
    const i = s.report.shard!.index;
    const seen = byIndex.get(i);
    if (seen) throw new ArcinvertError(`shards overlap: ${seen.dir} and ${s.dir} are both shard ${i}/${count}`);
    byIndex.set(i, s);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0)
    throw new ArcinvertError(
      `missing shard(s) ${missing.join(', ')} of ${count}: every index 0–${count - 1} is needed`,
    );
  const ordered = Array.from({ length: count }, (_, i) => byIndex.get(i)!);
  checkComplete(ordered);
  return ordered;
}

/**
 * Every shard holds its planned batches and, together, they hold each target × seed exactly
 * once with the file name `invert` gives it; a shard that diverged or stopped early is refused.
 */
function checkComplete(shards: ShardOutput[]): void {
  const { plannedBatches: planned, count } = shards[0].report.shard!;
  for (const s of shards) {
    const { index, batches } = s.report.shard!;
    if (JSON.stringify(batches) !== JSON.stringify(shardBatches(planned, index, count)))
      throw new ArcinvertError(`${s.dir}: shard ${index}/${count} lists batches other than its share of the plan`);
    if (s.report.diverged || s.report.aborted)
      throw new ArcinvertError(
        `${s.dir}: shard ${index}/${count} ${s.report.diverged ? 'diverged' : 'was stopped early'}; run it again before merging`,
      );
  }
  const seeds = Number(shards[0].report.config.seeds);
  const seen = new Set<string>();
  for (const s of shards)
    for (const im of s.report.images) {
      if (im.file !== imageFileName(im.target, im.seed))
        throw new ArcinvertError(`${s.dir}: report.json lists '${im.file}' for target ${im.target}, seed ${im.seed}`);
      if (seen.has(im.file)) throw new ArcinvertError(`shards overlap: ${im.file} is in more than one`);
      seen.add(im.file);
    }
  const expected = shards[0].report.targets.length * seeds;
  if (seen.size !== expected)
    throw new ArcinvertError(`the shards hold ${seen.size} of the run's ${expected} images (targets × seeds)`);
}

async function readRgb(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

/**
 * Writes the merged output into `dir` (a staging directory): the shards' images, report.json
 * (the images of every shard in target order, `shards` saying where each came from) and the
 * sheet. Returns the number of images.
 */
export async function writeMerged(dir: string, shards: ShardOutput[], normalization: Normalization): Promise<number> {
  const images: Array<ShardReport['images'][number]> = [];
  for (const s of shards)
    for (const im of s.report.images) {
      const from = path.join(s.imagesDir, im.file);
      await fsp.copyFile(from, path.join(dir, im.file)).catch((err: NodeJS.ErrnoException) => {
        throw new ArcinvertError(
          `cannot read ${from}, listed in ${path.join(s.imagesDir, 'report.json')}: ${err.code}`,
        );
      });
      images.push(im);
    }
  images.sort((a, b) => a.target - b.target || a.seed - b.seed);
  const reports = shards.map((s) => s.report);
  const { shard: _shard, ...first } = reports[0];
  const cos = images.map((im) => im.bestCosine);
  const report = {
    ...first,
    startedAt: reports.map((r) => r.startedAt).sort()[0],
    aborted: reports.some((r) => r.aborted),
    seconds: reports.reduce((a, r) => a + r.seconds, 0),
    shards: shards.map((s) => ({
      dir: s.dir,
      ...s.report.shard!,
      backend: s.report.backend,
      startedAt: s.report.startedAt,
      seconds: s.report.seconds,
      aborted: s.report.aborted,
    })),
    images,
    summary: {
      images: cos.length,
      meanBestCosine: cos.reduce((a, b) => a + b, 0) / Math.max(1, cos.length),
      minBestCosine: Math.min(...cos),
      maxBestCosine: Math.max(...cos),
    },
  };
  const inverted: Array<Pick<InvertedImage, 'target' | 'seed' | 'bestCosine' | 'image'>> = [];
  for (const im of images)
    inverted.push({
      target: im.target,
      seed: im.seed,
      bestCosine: im.bestCosine,
      image: await readRgb(path.join(dir, im.file)),
    });
  const sources = first.targets.map((t) => t.source ?? undefined);
  await writeSheet(path.join(dir, 'sheet.png'), { images: inverted as InvertedImage[] }, { sources }, normalization);
  await writeFileAtomic(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return images.length;
}
