/**
 * Lineage of face networks (`src/model/lineage.ts`): fingerprints, family and teachers read from
 * a model directory, and the relation a leakage report draws from them.
 */
import { promises as fsp } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as os from 'node:os';
import * as path from 'node:path';
import { graphLineage, modelDirLineage, relation, type Lineage } from '../../src/model/lineage.js';
import { saveFaceModel } from '../../src/model/store.js';
import type { TfjsImportInfo } from '../../src/model/types.js';
import { tinyMobileFaceNet } from '../helpers/tiny.js';

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-lineage-'));
});
afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

test("a training run's best/ reads the teachers of every config beside it and in the run folder", async () => {
  const run = path.join(tmp, 'run');
  const best = path.join(run, 'best');
  const fm = tinyMobileFaceNet(3);
  await saveFaceModel(fm, best);
  await fsp.writeFile(path.join(run, 'config.json'), JSON.stringify({ distill: { targets: '/t/faceres.npy' } }));
  await fsp.writeFile(
    path.join(best, 'phase1-config.json'),
    JSON.stringify({ distill: { targets: 'mobileface.npy' } }),
  );
  await fsp.writeFile(path.join(best, 'other.json'), JSON.stringify({ distill: { targets: 'ignored.npy' } }));
  await fsp.writeFile(path.join(best, 'broken-config.json'), '{');
  const l = await modelDirLineage(best, fm.meta);
  expect(l.family).toBe('run'); // a run's best/ is named after its run
  expect(l.teachers).toEqual(['faceres', 'mobileface']);
  expect(l.fingerprints).toHaveLength(1);
  expect(l.fingerprints[0]).toMatch(/^weights:weights-[0-9a-f]{12}\.bin$/);
  fm.model.dispose();
});

test('teachers.json names the teachers behind a combined distillation target', async () => {
  const dir = path.join(tmp, 'ens');
  const fm = tinyMobileFaceNet(5);
  await saveFaceModel(fm, dir);
  await fsp.writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({ distill: { targets: '/t/ensemble-pca512.npy' } }),
  );
  await fsp.writeFile(path.join(dir, 'teachers.json'), JSON.stringify({ teachers: ['mobileface', 'faceres', 7] }));
  const l = await modelDirLineage(dir, fm.meta);
  expect(l.teachers).toEqual(['ensemble-pca512', 'faceres', 'mobileface']); // the non-string entry is ignored
  expect(relation(graphLineage('/hm/models/faceres.json', 'cd34'), l)).toEqual({
    kind: 'related',
    why: 'the attacked model was distilled from faceres',
  });
  fm.model.dispose();
});

test('an imported model is its source: family from the file name, fingerprint from its hash', async () => {
  const fm = tinyMobileFaceNet(4);
  const dir = path.join(tmp, 'imp');
  await saveFaceModel(fm, dir);
  const meta = {
    ...fm.meta,
    backbone: 'tfjs' as const,
    config: { source: '/m/faceres.json', sha256: 'ab12' } as TfjsImportInfo,
  };
  const l = await modelDirLineage(dir, meta);
  expect(l.family).toBe('faceres');
  expect(l.fingerprints.slice(1)).toEqual(['sha256:ab12']);
  expect(relation(graphLineage('/hm/models/faceres.json', 'ab12'), l)).toEqual({
    kind: 'same',
    why: 'same weights (sha256:ab12…)',
  });
  fm.model.dispose();
});

test('relation: same weights, distilled either way, independent', () => {
  const a: Lineage = { family: 'default', fingerprints: ['weights:w1'], teachers: ['faceres', 'mobileface'] };
  const faceres = graphLineage('faceres.json', 'f');
  const dlib: Lineage = { family: 'dlib', fingerprints: ['builtin:dlib'], teachers: [] };
  const student: Lineage = { family: 'student', fingerprints: ['weights:w2'], teachers: ['default'] };
  expect(relation(faceres, a)).toEqual({ kind: 'related', why: 'the attacked model was distilled from faceres' });
  expect(relation(student, a)).toEqual({ kind: 'related', why: 'student was distilled from the attacked model' });
  expect(relation(dlib, a)).toEqual({ kind: 'independent' });
  expect(relation({ ...dlib, fingerprints: ['weights:w1'] }, a).kind).toBe('same');
});

test("teachers.json's ancestors: a model warm-started from another is related to it both ways", async () => {
  const dir = path.join(tmp, 'mobilefacenet-w64-112px-degraded');
  const fm = tinyMobileFaceNet(6);
  await saveFaceModel(fm, dir);
  // the config's init path is not read: the directory it names may have been renamed since
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify({ init: '/somewhere/else' }));
  await fsp.writeFile(
    path.join(dir, 'teachers.json'),
    JSON.stringify({ teachers: ['faceres'], ancestors: ['default', 'mobilefacenet-w64-64px', null] }),
  );
  const l = await modelDirLineage(dir, fm.meta);
  expect(l.ancestors).toEqual(['default', 'mobilefacenet-w64-64px']);
  const def: Lineage = { family: 'default', fingerprints: ['weights:w1'], teachers: ['faceres'], ancestors: [] };
  expect(relation(def, l)).toEqual({ kind: 'related', why: 'the attacked model was warm-started from default' });
  expect(relation(l, def)).toEqual({
    kind: 'related',
    why: 'mobilefacenet-w64-112px-degraded was warm-started from the attacked model',
  });
  // without a teachers.json there are none, and a model without ancestors (a judge) is independent
  const bare = path.join(tmp, 'bare');
  await saveFaceModel(fm, bare);
  expect((await modelDirLineage(bare, fm.meta)).ancestors).toEqual([]);
  expect(relation(graphLineage('/hm/models/dlib.json', 'd'), l)).toEqual({ kind: 'independent' });
  fm.model.dispose();
});
