/**
 * samples/models/mobilefacenet-w64-112px-degraded, shipped beside the default: it loads as the
 * default's architecture with calibrated statistics, its LFW evaluation is the one its card
 * quotes, and its lineage marks the default and both teachers as not independent judges of it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { BnTaps } from '../../src/bnprior/taps.js';
import { graphLineage, modelDirLineage, relation } from '../../src/model/lineage.js';
import { loadFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';

const MODEL = path.resolve('samples/models/mobilefacenet-w64-112px-degraded');
const DEFAULT = path.resolve('samples/models/default');

beforeAll(async () => {
  await useWasm();
});

test('MobileFaceNet 112×112, 512-d, 50 BatchNorm layers with calibrated statistics; LFW 94.87 % on 6,000 pairs', async () => {
  const fm = await loadFaceModel(MODEL);
  expect([fm.meta.backbone, fm.meta.inputSize, fm.meta.embeddingSize]).toEqual(['mobilefacenet', [112, 112], 512]);
  const taps = new BnTaps(fm.model);
  expect(taps.layers).toHaveLength(50);
  expect(fm.calibration?.layers.map((l) => l.name)).toEqual(taps.layers.map((l) => l.name));
  const evalLfw = JSON.parse(await fsp.readFile(path.join(MODEL, 'eval-lfw.json'), 'utf8'));
  expect([evalLfw.model, evalLfw.pairs, evalLfw.flip]).toEqual(['samples/models/mobilefacenet-w64-112px-degraded', 6000, true]);
  expect(evalLfw.accuracy).toBeCloseTo(0.94867, 5); // 5,692 of 6,000 over the folds (MODEL_CARD.md)
  fm.model.dispose();
});

test('the default (its ancestor) and faceres judge it as related, not as independent', async () => {
  const fm = await loadFaceModel(MODEL);
  const def = await loadFaceModel(DEFAULT);
  const mine = await modelDirLineage(MODEL, fm.meta);
  const theirs = await modelDirLineage(DEFAULT, def.meta);
  expect(relation(theirs, mine)).toEqual({ kind: 'related', why: 'the attacked model was warm-started from default' });
  expect(relation(graphLineage('/hm/models/faceres.json', 'x'), mine).kind).toBe('related');
  expect(relation(graphLineage('/hm/models/dlib.json', 'x'), mine)).toEqual({ kind: 'independent' });
  fm.model.dispose();
  def.model.dispose();
});
