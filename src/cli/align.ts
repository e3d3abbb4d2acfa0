/**
 * `arcinvert align <images|dirs…> --out DIR`: ArcFace-aligned 112×112 PNG crops of the
 * largest face in each photo (see src/align). A photo from a directory keeps its path relative
 * to that directory, a photo named directly its base name; the extension becomes `.png`.
 * `align.json` beside the crops lists each photo's 5 points, transform and box, and the
 * photos skipped (no face, undecodable). Exits 2 when no photo had a face.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { alignImages } from '../align/align.js';
import { resolveAlignConfig } from '../align/config.js';
import { faceApiVersion } from '../align/faceapi.js';
import { rasterToPng } from '../align/raster.js';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../io/atomic.js';
import { listImages } from '../io/image.js';
import type { CliContext } from './context.js';
import { backendOption, finiteNumber, nonNegativeInt, reportSkipped, requireAligned, useBackend } from './options.js';

interface AlignFlags {
  out: string;
  minConfidence?: number;
  refine?: number;
  calibrate: boolean;
  lowLightRetry: boolean;
  backend: BackendPreference;
}

/** Each photo under the arguments with its output name (relative, `.png`). */
export async function alignOutputNames(inputs: readonly string[]): Promise<Array<{ source: string; name: string }>> {
  const out: Array<{ source: string; name: string }> = [];
  const taken = new Map<string, string>();
  for (const arg of inputs) {
    const isDir = (await fsp.stat(arg).catch(() => undefined))?.isDirectory() ?? false;
    for (const source of await listImages([arg])) {
      const rel = isDir ? path.relative(arg, source) : path.basename(source);
      const name = path.join(path.dirname(rel), `${path.basename(rel, path.extname(rel))}.png`);
      const clash = taken.get(name);
      if (clash === source) continue;
      if (clash)
        throw new ArcinvertError(`${source} and ${clash} would both be written as ${name}; align them separately`);
      taken.set(name, source);
      out.push({ source, name });
    }
  }
  return out;
}

const probability = (flag: string): ((v: string) => number) =>
  finiteNumber(flag, (n) => n >= 0 && n <= 1, 'a number in [0, 1]');

export function alignCommand(ctx: CliContext): Command {
  return new Command('align')
    .description('detect the largest face in each photo and write its ArcFace-aligned 112×112 crop (PNG)')
    .argument('<images...>', 'photos and/or directories (searched recursively)')
    .requiredOption('--out <dir>', 'output directory for the crops and align.json')
    .option('--min-confidence <p>', 'face detector score threshold (default 0.5)', probability('--min-confidence'))
    .option('--refine <n>', 'landmark refinement passes (default 2)', nonNegativeInt('--refine'))
    .option('--no-calibrate', "keep face-api's own landmark convention (no shift to dlib's)")
    .option('--no-low-light-retry', 'no second detector on a contrast-equalised copy when none is found')
    .addOption(backendOption())
    .action(async (inputs: string[], f: AlignFlags) => {
      const config = resolveAlignConfig({
        ...(f.minConfidence !== undefined ? { minConfidence: f.minConfidence } : {}),
        ...(f.refine !== undefined ? { refineIterations: f.refine } : {}),
        calibrate: f.calibrate,
        lowLightRetry: f.lowLightRetry,
      });
      const jobs = await alignOutputNames(inputs);
      const backend = await useBackend(ctx, f.backend);
      const nameOf = new Map(jobs.map((j) => [j.source, j.name]));
      const report = await alignImages(
        jobs.map((j) => j.source),
        {
          config,
          onProgress: (done, total, source) => ctx.err(`align ${done}/${total} ${source}`),
        },
      );
      reportSkipped(ctx, report.skipped);
      requireAligned(report.aligned, report.skipped, jobs.length);
      await ensureDir(f.out);
      for (const a of report.aligned) {
        const file = path.join(f.out, nameOf.get(a.source)!);
        await ensureDir(path.dirname(file));
        await writeFileAtomic(file, await rasterToPng(a.image));
      }
      const manifest = {
        format: 'arcinvert-align/1',
        detector: `@vladmandic/face-api ${faceApiVersion()} (SSD-MobileNet v1, 68-point landmarks)`,
        backend,
        config,
        aligned: report.aligned.map((a) => ({
          source: a.source,
          file: nameOf.get(a.source),
          points5: a.points5,
          transform: a.transform,
          box: a.box,
          faces: a.faces,
          lowLight: a.lowLight,
        })),
        skipped: report.skipped,
      };
      await writeFileAtomic(path.join(f.out, 'align.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      ctx.out(
        `aligned ${report.aligned.length} of ${jobs.length} photo(s) into ${f.out}${report.skipped.length ? ` (${report.skipped.length} skipped)` : ''}`,
      );
    });
}
