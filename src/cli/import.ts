/**
 * `arcinvert import --onnx model.onnx --out DIR`: an insightface ONNX face model as an
 * arcinvert model directory (`src/onnx/`), verified against onnxruntime on the same inputs
 * (aligned faces with `--verify-images`, else seeded noise) before anything is written; the
 * directory is staged and renamed into place, with `import.json` recording the source and the
 * verification.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { listImages, readImageBatch } from '../io/image.js';
import { writeImportRecord } from '../model/directory.js';
import { saveFaceModel } from '../model/store.js';
import type { FaceModel } from '../model/types.js';
import { stageOutput, type StagedOutput } from '../io/staging.js';
import {
  DEFAULT_ONNX_IMPORT,
  importOnnx,
  loadOnnxRuntime,
  noiseInputs,
  verifyWithOnnxRuntime,
  type Verification,
} from '../onnx/import.js';
import type { CliContext } from './context.js';
import { backendOption, finiteNumber, positiveInt, useBackend } from './options.js';

interface ImportFlags {
  onnx: string;
  out: string;
  mean: number;
  std: number;
  bgr: boolean;
  inputSize?: number;
  verify: boolean;
  verifyImages?: string[];
  verifyN: number;
  minCosine: number;
  overwrite: boolean;
  backend: BackendPreference;
}

/** Adds the flags of `arcinvert import` to `cmd`. */
function importOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--onnx <file>', 'the ONNX model (external data files beside it)')
    .requiredOption('--out <dir>', 'model directory to write (refused if not empty, unless --overwrite)')
    .option(
      '--mean <x>',
      'pixel mean the model expects, of 0–255',
      finiteNumber('--mean', () => true, 'a number'),
      DEFAULT_ONNX_IMPORT.normalization.mean,
    )
    .option(
      '--std <x>',
      'pixel std the model expects, of 0–255',
      finiteNumber('--std', (n) => n > 0, 'a positive number'),
      DEFAULT_ONNX_IMPORT.normalization.std,
    )
    .option('--bgr', 'the model takes BGR input (folded into the first conv; the import takes RGB)', false)
    .option('--input-size <px>', 'square input size when the graph leaves it symbolic', positiveInt('--input-size'))
    .option('--verify-images <paths...>', 'aligned faces to verify on (default: seeded noise)')
    .option('--verify-n <n>', 'inputs to verify on', positiveInt('--verify-n'), 8)
    .option(
      '--min-cosine <x>',
      'least cosine between the two runtimes, per input',
      finiteNumber('--min-cosine', (n) => n > 0 && n <= 1, 'in (0, 1]'),
      0.9999,
    )
    .option('--no-verify', 'skip the onnxruntime check')
    .option('--overwrite', 'replace a non-empty --out once the import is complete', false)
    .addOption(backendOption());
}

/** Compares the rebuilt model with onnxruntime on faces or seeded noise; throws below `--min-cosine`. */
async function verifyImport(ctx: CliContext, f: ImportFlags, fm: FaceModel): Promise<Verification> {
  const ort = await loadOnnxRuntime();
  if (!ort)
    throw new ArcinvertError('onnxruntime-node is not installed: install it to verify the import, or pass --no-verify');
  const normalization = fm.meta.normalization;
  let inputs: tf.Tensor4D;
  let kind: Verification['kind'] = 'noise';
  if (f.verifyImages) {
    const files = (await listImages(f.verifyImages)).slice(0, f.verifyN);
    if (files.length === 0) throw new ArcinvertError('no images found for --verify-images');
    inputs = await readImageBatch(files, { size: fm.meta.inputSize, normalization });
    kind = 'images';
  } else inputs = noiseInputs(f.verifyN, fm.meta.inputSize, normalization);
  let verification: Verification;
  try {
    verification = await verifyWithOnnxRuntime(ort, f.onnx, fm, inputs, kind);
  } finally {
    inputs.dispose();
  }
  ctx.err(
    `onnxruntime agrees on ${verification.inputs} ${kind === 'images' ? 'faces' : 'noise inputs'}: cosine min ${verification.minCosine.toFixed(7)}, mean ${verification.meanCosine.toFixed(7)}; max |Δ| ${verification.maxAbsDiff.toExponential(2)}`,
  );
  if (verification.minCosine < f.minCosine) {
    throw new ArcinvertError(
      `the import differs from onnxruntime: cosine ${verification.minCosine.toFixed(6)} < ${f.minCosine} (nothing written)`,
    );
  }
  return verification;
}

/** The action: check --out, rebuild, describe, verify, then write the model directory all at once. */
async function runImport(ctx: CliContext, f: ImportFlags): Promise<void> {
  // --out is checked before the (long) conversion; staged beside it until the import is verified.
  const inputs = [
    { key: 'onnx', path: f.onnx },
    ...(f.verifyImages ?? []).map((p) => ({ key: 'verifyImages', path: p })),
  ];
  let staged: StagedOutput | null = await stageOutput(f.out, f.overwrite, { inputs, log: ctx.err });
  let imported: Awaited<ReturnType<typeof importOnnx>> | undefined;
  try {
    await useBackend(ctx, f.backend);
    imported = await importOnnx(f.onnx, {
      normalization: { mean: f.mean, std: f.std },
      bgr: f.bgr,
      inputSize: f.inputSize ? [f.inputSize, f.inputSize] : undefined,
    });
    const { fm, info } = imported;
    const normalization = fm.meta.normalization;
    ctx.err(
      `${f.onnx}: ${info.structure}, opset ${info.opset}, ${fm.model.countParams()} parameters, ${info.batchNorms} BatchNorm layers kept, ${info.foldedConvs} convs with a folded bias; input ${fm.meta.inputSize.join('×')}, ${fm.meta.embeddingSize}-d, (x − ${normalization.mean}) / ${normalization.std}${info.normalizationFromGraph ? ' (from the graph)' : ''}`,
    );
    const verification = f.verify ? await verifyImport(ctx, f, fm) : null;
    await saveFaceModel(fm, staged.staging);
    await writeImportRecord(staged.staging, { ...info, normalization, verification });
    await staged.commit();
    staged = null;
    ctx.out(
      `wrote ${f.out}: ${info.structure} from ${path.basename(f.onnx)}${verification ? `, cosine ≥ ${verification.minCosine.toFixed(6)} against onnxruntime` : ' (not verified)'}`,
    );
  } finally {
    await staged?.abandon();
    imported?.fm.model.dispose();
  }
}

export function importCommand(ctx: CliContext): Command {
  return importOptions(
    new Command('import').description(
      'import an insightface ONNX face model (IResNet, MobileFaceNet) as an arcinvert model, verified against onnxruntime',
    ),
  ).action((f: ImportFlags) => runImport(ctx, f));
}
