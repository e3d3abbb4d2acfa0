/**
 * `arcinvert eval --model DIR --pairs FILE --images DIR`: LFW-protocol verification of a
 * face model (insightface `eval/verification.py`: flip TTA, 10-fold accuracy with the best
 * threshold of the other folds) plus TAR at FAR 1e-2 / 1e-3, as a table or one JSON object.
 */
import { Command } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { evaluatePairs, type VerificationReport } from '../eval/index.js';
import type { Embedder } from '../model/embed.js';
import { loadFaceModel } from '../model/store.js';
import { resolveModelDir } from '../train/checkpoint.js';
import type { EmbedRuntime } from '../onnx/runtime.js';
import type { CliContext } from './context.js';
import { backendOption, positiveInt, runtimeOption, useBackend, useEmbedder } from './options.js';

interface EvalFlags {
  model: string;
  pairs: string;
  images: string;
  flip: boolean;
  json?: boolean;
  batchSize: number;
  backend: BackendPreference;
  runtime: EmbedRuntime;
}

/** The human-readable report, one line per entry. */
export function formatReport(r: VerificationReport, modelDir: string): string[] {
  const tar = (name: string, t: VerificationReport['tarAtFar1e2']) =>
    `${name.padEnd(14)}${t.tar.toFixed(4)}  (FAR ${t.far.toFixed(4)}, cos > ${t.threshold.toFixed(4)})`;
  return [
    `${'model'.padEnd(14)}${modelDir}`,
    `${'pairs'.padEnd(14)}${r.pairs} (${r.folds.length} folds), ${r.images} images`,
    `${'accuracy'.padEnd(14)}${r.accuracy.toFixed(4)} ± ${r.std.toFixed(4)}`,
    `${'threshold'.padEnd(14)}${r.threshold.toFixed(4)} (mean best cosine threshold)`,
    tar('TAR@FAR=1e-2', r.tarAtFar1e2),
    tar('TAR@FAR=1e-3', r.tarAtFar1e3),
    ...(r.skippedPairs > 0
      ? [`${'skipped'.padEnd(14)}${r.skippedPairs} pairs (${r.skippedImages.length} unreadable images)`]
      : []),
    'fold  accuracy  threshold',
    ...r.folds.map(
      (f, i) =>
        `${String(i + 1).padStart(4)}  ${f.accuracy.toFixed(4).padStart(8)}  ${f.threshold.toFixed(3).padStart(9)}`,
    ),
  ];
}

export function evalCommand(ctx: CliContext): Command {
  return new Command('eval')
    .description('verification accuracy on an LFW-format pairs file (10-fold, flip TTA) and TAR@FAR')
    .requiredOption('--model <dir>', 'model directory, or a training run (its best/ model)')
    .requiredOption(
      '--pairs <file>',
      'pairs file: header "<folds> <pairsPerFold>", then name n1 n2 / name1 n1 name2 n2',
    )
    .requiredOption('--images <dir>', 'folder of <Name>/<Name>_NNNN.jpg images')
    .option('--no-flip', 'do not add the flipped image embedding')
    .option('--json', 'print one JSON object instead of a table')
    .option('--batch-size <n>', 'images per forward pass', positiveInt('--batch-size'), 32)
    .addOption(backendOption())
    .addOption(runtimeOption())
    .action(async (flags: EvalFlags) => {
      const dir = await resolveModelDir(flags.model);
      await useBackend(ctx, flags.backend);
      const fm = await loadFaceModel(dir);
      let report: VerificationReport;
      let embedder: Embedder | undefined;
      try {
        embedder = await useEmbedder(ctx, fm, flags.runtime);
        let shown = 0;
        report = await evaluatePairs(fm, flags.pairs, flags.images, {
          flip: flags.flip,
          batchSize: flags.batchSize,
          embedder,
          onProgress: (done, total) => {
            if (done === total || done - shown >= 1000) {
              shown = done;
              ctx.err(`embedded ${done}/${total}`);
            }
          },
        });
      } finally {
        await embedder?.dispose();
        fm.model.dispose();
      }
      const runtime = embedder?.runtime ?? 'tfjs';
      if (flags.json) ctx.out(JSON.stringify({ model: dir, flip: flags.flip, runtime, ...report }));
      else for (const line of formatReport(report, dir)) ctx.out(line);
    });
}
