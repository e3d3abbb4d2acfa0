/**
 * `arcinvert embed --model DIR --images <dir|files…> --out emb.npy`: L2-normalised embeddings
 * of faces (photos are aligned first unless already 112×112, `--align`) as an N×D float32 .npy,
 * with the file order written beside it (`emb.jsonl` by default: one JSON string a line, see
 * src/io/listing.ts). Photos that cannot be used are skipped and listed (the many-images policy).
 */
import * as path from 'node:path';
import { Command } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import type { AlignMode } from '../align/align.js';
import { embedPrepared, type Embedder } from '../model/embed.js';
import { ensureDir, writeFileAtomic } from '../io/atomic.js';
import { listImages } from '../io/image.js';
import { encodeListing, listingPathFor } from '../io/listing.js';
import { loadFaceModel } from '../model/store.js';
import { writeNpy } from '../io/npy.js';
import type { EmbedRuntime } from '../onnx/runtime.js';
import type { CliContext } from './context.js';
import {
  alignOption,
  backendOption,
  positiveInt,
  preparePhotos,
  runtimeOption,
  useBackend,
  useEmbedder,
} from './options.js';

interface EmbedFlags {
  model: string;
  images: string[];
  out: string;
  labels?: string;
  flip: boolean;
  batchSize: number;
  align: AlignMode;
  backend: BackendPreference;
  runtime: EmbedRuntime;
}

/** `emb.npy` → `emb.jsonl`. */
export function defaultLabelsPath(out: string): string {
  return listingPathFor(out);
}

export function embedCommand(ctx: CliContext): Command {
  return new Command('embed')
    .description('embed aligned face images into an N×D float32 .npy (rows L2-normalised)')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--images <paths...>', 'image files and/or directories (searched recursively)')
    .requiredOption('--out <file.npy>', 'output .npy file')
    .option(
      '--labels <file>',
      'where to write the file order, one JSON string a line, relative to its folder (default: <out>.jsonl)',
    )
    .option('--flip', 'add the horizontally flipped image embedding before normalising (ArcFace eval practice)', false)
    .option('--batch-size <n>', 'images per forward pass', positiveInt('--batch-size'), 32)
    .addOption(alignOption())
    .addOption(backendOption())
    .addOption(runtimeOption())
    .action(async (flags: EmbedFlags) => {
      if (!flags.out.endsWith('.npy')) throw new ArcinvertError(`--out must name a .npy file, got '${flags.out}'`);
      const labels = flags.labels ?? defaultLabelsPath(flags.out);
      await useBackend(ctx, flags.backend);
      const fm = await loadFaceModel(flags.model);
      let embedder: Embedder | undefined;
      try {
        const photos = await preparePhotos(ctx, await listImages(flags.images), flags.align, fm.meta.inputSize);
        embedder = await useEmbedder(ctx, fm, flags.runtime);
        const files = photos.map((p) => p.source);
        const d = fm.meta.embeddingSize;
        const data = await embedPrepared(fm, photos, {
          flip: flags.flip,
          batchSize: flags.batchSize,
          embedder,
          onProgress: (done, total) => ctx.err(`embedded ${done}/${total}`),
        });
        await ensureDir(path.dirname(path.resolve(flags.out)));
        await writeNpy(flags.out, data, [files.length, d]);
        await writeFileAtomic(labels, encodeListing(labels, files));
        ctx.out(`wrote ${flags.out} (${files.length}×${d} float32) and ${labels}`);
      } finally {
        await embedder?.dispose();
        fm.model.dispose();
      }
    });
}
