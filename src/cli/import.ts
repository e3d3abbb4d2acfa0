/**
 * `arcinvert import --onnx model.onnx --out DIR`: an insightface ONNX face model as an
 * arcinvert model directory (`src/onnx/`), verified against onnxruntime on the same inputs
 * (aligned faces with `--verify-images`, else seeded noise) before anything is written; the
 * directory is staged and renamed into place, with `import.json` recording the source and the
 * verification. `arcinvert import --tfjs model.json --out DIR` does the same for a tfjs graph
 * model (`src/tfjs/`), verified against `tf.GraphModel`.
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
import { noiseInputs, type Verification } from '../model/verification.js';
import { DEFAULT_ONNX_IMPORT, importOnnx, loadOnnxRuntime, verifyWithOnnxRuntime } from '../onnx/import.js';
import { importTfjs, verifyWithGraphModel } from '../tfjs/import.js';
import type { CliContext } from './context.js';
import { backendOption, finiteNumber, positiveInt, useBackend } from './options.js';

interface ImportFlags {
  onnx?: string;
  tfjs?: string;
  output?: string;
  out: string;
  mean?: number;
  std?: number;
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
    .option('--onnx <file>', 'an ONNX model (external data files beside it)')
    .option('--tfjs <file>', "a tfjs graph model's model.json (its weight shards beside it)")
    .option('--output <name>', 'tfjs: the output node that is the embedding (default: the one that looks like one)')
    .requiredOption('--out <dir>', 'model directory to write (refused if not empty, unless --overwrite)')
    .option(
      '--mean <x>',
      `pixel mean the model expects, of 0–255 (ONNX default ${DEFAULT_ONNX_IMPORT.normalization.mean}; tfjs: read from the graph or known models)`,
      finiteNumber('--mean', () => true, 'a number'),
    )
    .option(
      '--std <x>',
      `pixel std the model expects, of 0–255 (ONNX default ${DEFAULT_ONNX_IMPORT.normalization.std})`,
      finiteNumber('--std', (n) => n > 0, 'a positive number'),
    )
    .option('--bgr', 'the model takes BGR input (folded into the first conv; the import takes RGB)', false)
    .option('--input-size <px>', 'square input size when the graph leaves it symbolic', positiveInt('--input-size'))
    .option('--verify-images <paths...>', 'aligned faces to verify on (default: seeded noise)')
    .option('--verify-n <n>', 'inputs to verify on', positiveInt('--verify-n'), 8)
    .option(
      '--min-cosine <x>',
      'least cosine between the import and the original runtime, per input',
      finiteNumber('--min-cosine', (n) => n > 0 && n <= 1, 'in (0, 1]'),
      0.9999,
    )
    .option('--no-verify', 'skip the check against onnxruntime / tf.GraphModel')
    .option('--overwrite', 'replace a non-empty --out once the import is complete', false)
    .addOption(backendOption());
}

/** Runs the original on the inputs and compares; `runtime` names it in messages. */
interface Reference {
  runtime: string;
  compare(inputs: tf.Tensor4D, kind: Verification['kind']): Promise<Verification>;
}

/** Compares the rebuilt model with the original on faces or seeded noise; throws below `--min-cosine`. */
async function verifyImport(ctx: CliContext, f: ImportFlags, fm: FaceModel, ref: Reference): Promise<Verification> {
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
    verification = await ref.compare(inputs, kind);
  } finally {
    inputs.dispose();
  }
  ctx.err(
    `${ref.runtime} agrees on ${verification.inputs} ${kind === 'images' ? 'faces' : 'noise inputs'}: cosine min ${verification.minCosine.toFixed(7)}, mean ${verification.meanCosine.toFixed(7)}; max |Δ| ${verification.maxAbsDiff.toExponential(2)}`,
  );
  if (verification.minCosine < f.minCosine) {
    throw new ArcinvertError(
      `the import differs from ${ref.runtime}: cosine ${verification.minCosine.toFixed(6)} < ${f.minCosine} (nothing written)`,
    );
  }
  return verification;
}

/** A rebuilt model, what `import.json` records, a line describing it, the original to verify against. */
interface Imported {
  fm: FaceModel;
  record: object;
  /** What was imported, for the last line (`mobilefacenet`, `256-d tfjs graph model`). */
  label: string;
  summary: string;
  reference: Reference | null;
  dispose(): void;
}

async function importFromOnnx(f: ImportFlags, file: string): Promise<Imported> {
  const { fm, info } = await importOnnx(file, {
    normalization: {
      mean: f.mean ?? DEFAULT_ONNX_IMPORT.normalization.mean,
      std: f.std ?? DEFAULT_ONNX_IMPORT.normalization.std,
    },
    bgr: f.bgr,
    inputSize: f.inputSize ? [f.inputSize, f.inputSize] : undefined,
  });
  const n = fm.meta.normalization;
  const ort = f.verify ? await loadOnnxRuntime() : null;
  if (f.verify && !ort) {
    fm.model.dispose();
    throw new ArcinvertError('onnxruntime-node is not installed: install it to verify the import, or pass --no-verify');
  }
  return {
    fm,
    record: info,
    label: info.structure,
    summary: `${file}: ${info.structure}, opset ${info.opset}, ${fm.model.countParams()} parameters, ${info.batchNorms} BatchNorm layers kept, ${info.foldedConvs} convs with a folded bias; input ${fm.meta.inputSize.join('×')}, ${fm.meta.embeddingSize}-d, (x − ${n.mean}) / ${n.std}${info.normalizationFromGraph ? ' (from the graph)' : ''}`,
    reference: ort
      ? { runtime: 'onnxruntime', compare: (x, kind) => verifyWithOnnxRuntime(ort, file, fm, x, kind) }
      : null,
    dispose: () => fm.model.dispose(),
  };
}

async function importFromTfjs(f: ImportFlags, file: string): Promise<Imported> {
  const given = f.mean !== undefined || f.std !== undefined;
  if (given && (f.mean === undefined || f.std === undefined))
    throw new ArcinvertError('--mean and --std go together for --tfjs (what the graph model takes)');
  const { fm, info, reference } = await importTfjs(file, {
    normalization: given ? { mean: f.mean as number, std: f.std as number } : undefined,
    bgr: f.bgr,
    inputSize: f.inputSize ? [f.inputSize, f.inputSize] : undefined,
    output: f.output,
  });
  const n = fm.meta.normalization;
  const gi = info.graphInput;
  return {
    fm,
    record: info,
    label: `${fm.meta.embeddingSize}-d tfjs graph model`,
    summary: `${file}: output '${info.output}', ${Object.values(info.convertedOps).reduce((a, b) => a + b, 0)} nodes rebuilt as ${fm.model.layers.length} layers, ${fm.model.countParams()} parameters, ${info.batchNorms} BatchNorm layers, ${info.foldedConvs} convs with a folded bias (prior taps); input ${fm.meta.inputSize.join('×')}, ${fm.meta.embeddingSize}-d, (x − ${n.mean}) / ${n.std} (graph takes (x − ${gi.mean}) / ${gi.std}, from ${gi.from}${info.normalizationFromGraph ? ', then scales it itself' : ''})`,
    reference: f.verify
      ? { runtime: 'tf.GraphModel', compare: (x, kind) => verifyWithGraphModel(reference, fm, x, kind) }
      : null,
    dispose: () => {
      fm.model.dispose();
      reference.dispose();
    },
  };
}

/** The action: check --out, rebuild, describe, verify, then write the model directory all at once. */
async function runImport(ctx: CliContext, f: ImportFlags): Promise<void> {
  if ((f.onnx === undefined) === (f.tfjs === undefined))
    throw new ArcinvertError('give one model to import: --onnx FILE or --tfjs model.json');
  if (f.output !== undefined && f.tfjs === undefined) throw new ArcinvertError('--output applies to --tfjs only');
  const source = (f.onnx ?? f.tfjs) as string;
  // --out is checked before the (long) conversion; staged beside it until the import is verified.
  const inputs = [
    { key: f.onnx !== undefined ? 'onnx' : 'tfjs', path: source },
    ...(f.verifyImages ?? []).map((p) => ({ key: 'verifyImages', path: p })),
  ];
  let staged: StagedOutput | null = await stageOutput(f.out, f.overwrite, { inputs, log: ctx.err });
  let imp: Imported | undefined;
  try {
    await useBackend(ctx, f.backend);
    imp = f.onnx !== undefined ? await importFromOnnx(f, f.onnx) : await importFromTfjs(f, source);
    const { fm } = imp;
    ctx.err(imp.summary);
    const verification = imp.reference ? await verifyImport(ctx, f, fm, imp.reference) : null;
    await saveFaceModel(fm, staged.staging);
    await writeImportRecord(staged.staging, { ...imp.record, normalization: fm.meta.normalization, verification });
    await staged.commit();
    staged = null;
    ctx.out(
      `wrote ${f.out}: ${imp.label} from ${path.basename(source)}${verification && imp.reference ? `, cosine ≥ ${verification.minCosine.toFixed(6)} against ${imp.reference.runtime}` : ' (not verified)'}`,
    );
  } finally {
    await staged?.abandon();
    imp?.dispose();
  }
}

export function importCommand(ctx: CliContext): Command {
  return importOptions(
    new Command('import').description(
      'import a face model — insightface ONNX (IResNet, MobileFaceNet) or a tfjs graph model (e.g. human-models faceres, mobileface) — as an arcinvert model, verified against its own runtime',
    ),
  ).action((f: ImportFlags) => runImport(ctx, f));
}
