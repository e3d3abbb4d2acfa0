/**
 * `arcinvert merge --out DIR SHARD_DIR…`: joins the outputs of a sharded inversion (`invert
 * --shard i/n`, or `leakage --invert --shard i/n`) into one directory with the images a single run writes
 * (`src/invert/merge.ts`), staged like every output. Overlapping, missing or foreign shards are
 * refused before anything is written.
 */
import { Command } from 'commander';
import { DEFAULT_NORMALIZATION } from '../io/image.js';
import { stageOutput } from '../io/staging.js';
import { checkShards, readShard, writeMerged } from '../invert/merge.js';
import { BACKEND_PREFERENCES, type BackendPreference } from '../engine/backend.js';
import type { CliContext } from './context.js';
import { useBackend } from './options.js';

interface MergeFlags {
  out: string;
  overwrite: boolean;
}

async function runMerge(ctx: CliContext, dirs: string[], f: MergeFlags): Promise<void> {
  const shards = checkShards(await Promise.all(dirs.map(readShard)));
  const staged = await stageOutput(f.out, f.overwrite, {
    inputs: dirs.map((d) => ({ key: 'shard', path: d })),
    log: ctx.err,
  });
  let n: number;
  try {
    await sheetBackend(ctx, shards[0].report.backend);
    n = await writeMerged(staged.staging, shards, DEFAULT_NORMALIZATION);
    await staged.commit();
  } catch (err) {
    await staged.abandon();
    throw err;
  }
  const aborted = shards.filter((s) => s.report.aborted).map((s) => s.report.shard!.index);
  ctx.out(`merged ${shards.length} shards, ${n} image(s), into ${f.out}`);
  if (aborted.length > 0)
    ctx.err(`shard(s) ${aborted.join(', ')} stopped early (a signal): their best images so far are in`);
}

/**
 * The sheet is drawn with tensors: on the shards' backend (they share one) when this machine has
 * it, else the default one (the sheet only composes the images).
 */
async function sheetBackend(ctx: CliContext, shardBackend: string): Promise<void> {
  const family = shardBackend.split(' ')[0] as BackendPreference;
  if (BACKEND_PREFERENCES.includes(family) && family !== 'auto') {
    try {
      await useBackend(ctx, family);
      return;
    } catch {
      ctx.err(`the shards' backend (${shardBackend}) is not available here: drawing the sheet with the default one`);
    }
  }
  await useBackend(ctx, 'auto');
}

export function mergeCommand(ctx: CliContext): Command {
  return new Command('merge')
    .description("join a sharded inversion's outputs (invert --shard i/n) into one output directory")
    .argument('<shard-dirs...>', "each shard's --out (invert) or --out (leakage --invert: its reconstructions)")
    .requiredOption('--out <dir>', 'output directory (refused if not empty, unless --overwrite)')
    .option('--overwrite', 'replace a non-empty --out once the merged output is complete', false)
    .action((dirs: string[], f: MergeFlags) => runMerge(ctx, dirs, f));
}
