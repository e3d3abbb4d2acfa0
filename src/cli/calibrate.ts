/**
 * `arcinvert calibrate --model DIR --images <dir|files…> [--n 2000]`: measures the input
 * statistics of the model's BatchNorm layers, and the outputs of convs that feed no BatchNorm
 * (a folded one, or none: `BnTaps.folded`), on real aligned faces and stores them beside the
 * model (`calibration.json`), for `invert --prior calibrated|both`. Prints, per layer, how far
 * the measured statistics are from the layers' running statistics.
 */
import * as path from 'node:path';
import { Command } from 'commander';
import { BnTaps } from '../bnprior/taps.js';
import { calibrateStatistics, compareWithRunning, type LayerAgreement } from '../bnprior/calibrate.js';
import { saveCalibration } from '../model/directory.js';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { listImages, readImageBatchSkipping, requireUsableImages, type ImageSkip } from '../io/image.js';
import { loadFaceModel } from '../model/store.js';
import { Mulberry32, shuffleInPlace } from '../util/random.js';
import type { CliContext } from './context.js';
import { backendOption, positiveInt, reportSkipped, useBackend } from './options.js';

interface CalibrateFlags {
  model: string;
  images: string[];
  n: number;
  batchSize: number;
  seed: number;
  report?: string;
  backend: BackendPreference;
}

/** Median of `values`. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function calibrateCommand(ctx: CliContext): Command {
  return new Command('calibrate')
    .description(
      "measure the model's BatchNorm input statistics on real aligned faces and store them with the model (for invert --prior calibrated)",
    )
    .requiredOption('--model <dir>', 'model directory (calibration.json is written there)')
    .requiredOption('--images <paths...>', 'aligned face images and/or directories (searched recursively)')
    .option('--n <count>', 'images to use, a seeded random subset when there are more', positiveInt('--n'), 2000)
    .option('--batch-size <n>', 'images per forward pass', positiveInt('--batch-size'), 32)
    .option('--seed <n>', 'seed of the subset', positiveInt('--seed'), 1)
    .option('--report <file.json>', 'also write the per-layer comparison with the running statistics')
    .addOption(backendOption())
    .action(async (flags: CalibrateFlags) => {
      await useBackend(ctx, flags.backend);
      const files = await listImages(flags.images);
      if (files.length === 0) throw new ArcinvertError('no images found for --images');
      const chosen =
        files.length > flags.n
          ? shuffleInPlace([...files], new Mulberry32(flags.seed))
              .slice(0, flags.n)
              .sort()
          : files;
      const fm = await loadFaceModel(flags.model);
      try {
        const taps = new BnTaps(fm.model);
        if (taps.statLayers.length === 0)
          throw new ArcinvertError(`${flags.model} has no BatchNorm layers or convolutions to calibrate`);
        const opts = { size: fm.meta.inputSize, normalization: fm.meta.normalization };
        // Unreadable images are skipped and listed (the many-images policy); none left is an error.
        const skipped: ImageSkip[] = [];
        let used = 0;
        async function* batches() {
          for (let i = 0; i < chosen.length; i += flags.batchSize) {
            const read = await readImageBatchSkipping(chosen.slice(i, i + flags.batchSize), opts);
            reportSkipped(ctx, read.skipped);
            skipped.push(...read.skipped);
            used += read.ok.length;
            if (read.images) yield read.images;
          }
          if (used === 0) requireUsableImages([], skipped, chosen.length);
        }
        const cal = await calibrateStatistics(
          taps,
          batches(),
          `${chosen.length} images from ${flags.images.join(', ')}`,
          (n) => ctx.err(`calibrated on ${n}/${chosen.length} images`),
        );
        const agreement: LayerAgreement[] = await compareWithRunning(cal, taps);
        await saveCalibration(flags.model, cal);
        if (flags.report)
          await writeFileAtomic(
            flags.report,
            `${JSON.stringify({ images: cal.images, layers: agreement }, null, 2)}\n`,
          );
        const shifts = agreement.map((a) => a.meanShift);
        const rels = agreement.map((a) => a.varianceRelError);
        ctx.out(
          `${path.join(flags.model, 'calibration.json')}: ${cal.layers.length} layers (${taps.layers.length} BatchNorm inputs, ${taps.folded.length} outputs of convs without a BatchNorm), ${cal.images} images`,
        );
        if (agreement.length > 0)
          ctx.out(
            `vs running statistics: mean shift / σ median ${median(shifts).toFixed(3)} (max ${Math.max(...shifts).toFixed(3)}), variance relative error median ${median(rels).toFixed(3)} (max ${Math.max(...rels).toFixed(3)})`,
          );
      } finally {
        fm.model.dispose();
      }
    });
}
