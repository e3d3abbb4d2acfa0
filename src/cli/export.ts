/**
 * `arcinvert export --model DIR --onnx FILE`: the model as an ONNX file in insightface's layout
 * (input [N, 3, H, W] normalised pixels, output the [N, D] embedding; `src/onnx/export.ts`),
 * checked by onnxruntime against tfjs on seeded noise and, with `--verify-images`, on faces
 * before anything is written.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../io/atomic.js';
import { listImages, readImageBatchSkipping } from '../io/image.js';
import { compareEmbeddings, noiseInputs, type Verification } from '../model/verification.js';
import { loadFaceModel } from '../model/store.js';
import type { FaceModel } from '../model/types.js';
import { exportOnnx } from '../onnx/export.js';
import { OnnxEmbedder } from '../onnx/runtime.js';
import { resolveModelDir } from '../train/checkpoint.js';
import type { CliContext } from './context.js';
import { backendOption, useBackend } from './options.js';

interface ExportFlags {
  model: string;
  onnx: string;
  overwrite: boolean;
  verifyImages?: string;
  backend: BackendPreference;
}

/** The least cosine between tfjs's and onnxruntime's embedding of one input that the export accepts. */
export const EXPORT_MIN_COSINE = 1 - 1e-5;

/** tfjs's and onnxruntime's raw embeddings of `inputs` compared. Does not dispose `inputs`. */
async function check(fm: FaceModel, ort: OnnxEmbedder, inputs: tf.Tensor4D, kind: Verification['kind']) {
  const ours = tf.tidy(() => fm.model.predict(inputs) as tf.Tensor2D);
  const oursData = (await ours.data()) as Float32Array;
  ours.dispose();
  return compareEmbeddings(oursData, await ort.forward(inputs, false), fm.meta.embeddingSize, kind);
}

/** Up to 16 faces of `dir` in the model's input. */
async function faces(dir: string, fm: FaceModel): Promise<tf.Tensor4D> {
  const files = (await listImages([dir])).slice(0, 16);
  const read = await readImageBatchSkipping(files, { size: fm.meta.inputSize, normalization: fm.meta.normalization });
  if (!read.images) throw new ArcinvertError(`--verify-images ${dir}: no readable image`);
  return read.images;
}

export function exportCommand(ctx: CliContext): Command {
  return new Command('export')
    .description('write a model as an ONNX file (insightface layout), checked against onnxruntime')
    .requiredOption('--model <dir>', 'model directory, or a training run (its best/ model)')
    .requiredOption('--onnx <file>', 'the .onnx file to write')
    .option('--overwrite', 'replace an existing file', false)
    .option('--verify-images <dir>', 'also compare the two runtimes on up to 16 faces of this folder')
    .addOption(backendOption())
    .action(async (flags: ExportFlags) => {
      if (!flags.onnx.endsWith('.onnx')) throw new ArcinvertError(`--onnx must name a .onnx file, got '${flags.onnx}'`);
      if (existsSync(flags.onnx) && !flags.overwrite)
        throw new ArcinvertError(`${flags.onnx} exists (use --overwrite to replace it)`);
      const dir = await resolveModelDir(flags.model);
      await useBackend(ctx, flags.backend);
      const fm = await loadFaceModel(dir);
      let ort: OnnxEmbedder | undefined;
      try {
        const bytes = exportOnnx(fm);
        ort = await OnnxEmbedder.create(fm, undefined, bytes);
        const checks: Verification[] = [];
        const noise = noiseInputs(8, fm.meta.inputSize, fm.meta.normalization);
        checks.push(await check(fm, ort, noise, 'noise'));
        noise.dispose();
        const imgs = flags.verifyImages !== undefined ? await faces(flags.verifyImages, fm) : null;
        if (imgs) {
          checks.push(await check(fm, ort, imgs, 'images'));
          imgs.dispose();
        }
        for (const c of checks) {
          ctx.err(
            `onnxruntime vs tfjs on ${c.inputs} ${c.kind}: min cosine ${c.minCosine.toFixed(7)}, max |diff| ${c.maxAbsDiff.toExponential(2)}`,
          );
          if (c.minCosine < EXPORT_MIN_COSINE)
            throw new ArcinvertError(
              `the export disagrees with the model (cosine ${c.minCosine.toFixed(6)} on ${c.kind}); nothing written`,
              1,
            );
        }
        await ensureDir(path.dirname(path.resolve(flags.onnx)));
        await writeFileAtomic(flags.onnx, bytes);
        ctx.out(
          `wrote ${flags.onnx} (${(bytes.length / 2 ** 20).toFixed(1)} MiB; input [N, 3, ${fm.meta.inputSize.join(', ')}] as (x − ${fm.meta.normalization.mean}) / ${fm.meta.normalization.std} of RGB, output [N, ${fm.meta.embeddingSize}])`,
        );
      } finally {
        await ort?.dispose();
        fm.model.dispose();
      }
    });
}
