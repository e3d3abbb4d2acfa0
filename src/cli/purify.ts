/**
 * `arcinvert purify --model DIR --data DIR --out clean.csv`: Sub-center ArcFace data cleaning
 * (Deng et al., ECCV 2020, Sec. 3.2): drops images farther than `--angle` degrees from their
 * identity's dominant sub-centre. Writes the clean manifest (path,identity; paths relative to
 * its folder, so `arcinvert train --csv clean.csv` reads it), `<name>.dropped.csv` and
 * `<name>.summary.csv` (per identity: dominant sub-centre, kept, dropped), all computed first
 * and then written atomically.
 */
import path from 'node:path';
import { Command } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../io/atomic.js';
import { loadTrainedModel } from '../train/checkpoint.js';
import { loadCsvManifest, loadImageFolder } from '../io/imageFolder.js';
import { purifyDataset, type PurifiedItem } from '../train/purify.js';
import type { CliContext } from './context.js';
import { backendOption, positiveInt, useBackend } from './options.js';

interface PurifyFlags {
  model: string;
  data?: string;
  csv?: string;
  out: string;
  angle: number;
  batchSize: number;
  backend: BackendPreference;
}

/** A CSV field, quoted when it needs to be. */
function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function manifest(items: PurifiedItem[], base: string, withAngle: boolean): string {
  const rows = items.map((it) =>
    [path.relative(base, it.path), it.identity, ...(withAngle ? [it.angleDeg.toFixed(2)] : [])].map(csvField).join(','),
  );
  return `${['path,identity' + (withAngle ? ',angle_deg' : ''), ...rows].join('\n')}\n`;
}

export function purifyCommand(ctx: CliContext): Command {
  return new Command('purify')
    .description("drop images far from their identity's dominant sub-centre (Sub-center ArcFace cleaning)")
    .requiredOption('--model <dir>', 'model trained with --k > 1 (a run directory or its best/)')
    .option('--data <dir>', 'ImageFolder to clean: <dir>/<identity>/<image>')
    .option('--csv <file>', 'manifest to clean (path,identity; paths relative to its folder)')
    .requiredOption('--out <file.csv>', 'clean manifest to write')
    .option(
      '--angle <degrees>',
      'largest kept angle to the dominant sub-centre',
      (v) => {
        const n = Number(v);
        if (!(n > 0 && n <= 180)) throw new ArcinvertError(`--angle must be in (0, 180] degrees, got '${v}'`);
        return n;
      },
      75,
    )
    .option('--batch-size <n>', 'images per forward pass', positiveInt('--batch-size'), 32)
    .addOption(backendOption())
    .action(async (flags: PurifyFlags) => {
      if ((flags.data === undefined) === (flags.csv === undefined))
        throw new ArcinvertError('give the images with --data DIR or --csv FILE (one of them)');
      if (!flags.out.endsWith('.csv')) throw new ArcinvertError(`--out must name a .csv file, got '${flags.out}'`);
      const data =
        flags.data !== undefined
          ? await loadImageFolder(flags.data)
          : await loadCsvManifest(flags.csv!, path.dirname(flags.csv!));
      await useBackend(ctx, flags.backend);
      const trained = await loadTrainedModel(flags.model);
      let result;
      try {
        if (trained.head.config.k < 2)
          throw new ArcinvertError(
            `${trained.dir} was trained with k = 1; purification needs sub-centres (train with --k 3)`,
          );
        result = await purifyDataset(trained, data, {
          angleDeg: flags.angle,
          batchSize: flags.batchSize,
          onProgress: (done, total) => {
            if (done === total || done % (flags.batchSize * 20) === 0) ctx.err(`embedded ${done}/${total}`);
          },
        });
      } finally {
        trained.fm.model.dispose();
        trained.head.dispose();
      }
      const out = path.resolve(flags.out);
      const base = path.dirname(out);
      const stem = out.slice(0, -'.csv'.length);
      const summary = [
        'identity,dominant_subcenter,kept,dropped',
        ...result.classes.map((c) => `${csvField(c.identity)},${c.dominant},${c.kept},${c.dropped}`),
      ];
      await ensureDir(base);
      await writeFileAtomic(`${stem}.dropped.csv`, manifest(result.dropped, base, true));
      await writeFileAtomic(`${stem}.summary.csv`, `${summary.join('\n')}\n`);
      await writeFileAtomic(out, manifest(result.kept, base, false));
      const total = result.kept.length + result.dropped.length;
      ctx.out(
        `kept ${result.kept.length} of ${total} images (${result.dropped.length} dropped at > ${flags.angle}°) over ${result.classes.length} identities → ${out}`,
      );
      ctx.out(`dropped list: ${stem}.dropped.csv; per-identity summary: ${stem}.summary.csv`);
      if (result.unknownIdentities.length > 0)
        ctx.out(
          `left out ${result.unknownIdentities.length} identities the model was not trained on (e.g. ${result.unknownIdentities[0]})`,
        );
      if (result.unreadable.length > 0)
        ctx.out(`left out ${result.unreadable.length} unreadable images (e.g. ${result.unreadable[0]})`);
    });
}
