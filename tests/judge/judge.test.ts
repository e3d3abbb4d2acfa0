/**
 * Judges: the crop geometry (pure), the dlib ResNet judge from face-api's shipped weights
 * (unit vectors, same person closer than different people on LFW crops, no leaked tensors),
 * and the attacked model wrapped as a judge.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readRaster } from '../../src/align/raster.js';
import type { RasterImage } from '../../src/align/warp.js';
import { embedBatch } from '../../src/model/embed.js';
import { judgeCropTransform, validateJudgeCrop, cropForJudge } from '../../src/judge/crop.js';
import { DLIB_JUDGE_CROP, loadDlibJudge } from '../../src/judge/dlib.js';
import { l2NormalizeRowsInPlace, unitRowCosine } from '../../src/arcface/normalize.js';
import { modelJudge } from '../../src/judge/model.js';
import type { Judge } from '../../src/judge/types.js';
import { useWasm } from '../helpers/backend.js';
import { tinyMobileFaceNet } from '../helpers/tiny.js';

const LFW = path.resolve(process.cwd(), '../shared/data/lfw');
const withData = existsSync(LFW) ? it : it.skip;
if (!existsSync(LFW)) console.warn(`skipping LFW judge tests: ${LFW} not found`);

const gradient = (size: number): RasterImage => ({
  width: size,
  height: size,
  channels: 3,
  data: Uint8Array.from({ length: size * size * 3 }, (_, k) => (k * 7) % 256),
});

beforeAll(useWasm);

describe('judge crop', () => {
  it('sends the centre to the middle of the input and scales about it', () => {
    const m = judgeCropTransform({ size: 150, scale: 1.5, center: [56, 70] });
    expect(m).toEqual([1.5, 0, 74.5 - 84, 0, 1.5, 74.5 - 105]);
    expect(() => validateJudgeCrop({ size: 4, scale: 1, center: [0, 0] })).toThrow(/size/);
    expect(() => validateJudgeCrop({ size: 150, scale: 0, center: [0, 0] })).toThrow(/scale/);
  });

  it('crops a 112×112 face (resizing other sizes first)', async () => {
    const chip = await cropForJudge(gradient(112), { size: 112, scale: 1, center: [55.5, 55.5] });
    expect(Array.from(chip.data)).toEqual(Array.from(gradient(112).data));
    const small = await cropForJudge(gradient(32), DLIB_JUDGE_CROP);
    expect([small.width, small.height, small.channels]).toEqual([150, 150, 3]);
  });

  it('l2NormalizeRowsInPlace makes unit rows', () => {
    expect(Array.from(l2NormalizeRowsInPlace(Float32Array.from([3, 4, 0, 0, 0, 2]), 3))).toEqual(
      Array.from(Float32Array.from([0.6, 0.8, 0, 0, 0, 1])),
    );
  });
});

describe('dlib ResNet judge', () => {
  let judge: Judge;
  beforeAll(async () => {
    judge = await loadDlibJudge();
  });
  afterAll(() => judge.dispose());

  it('gives unit 128-d vectors without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const e = await judge.embed([gradient(112), gradient(96)]);
    expect(tf.memory().numTensors).toBe(before);
    expect(e.length).toBe(256);
    for (let i = 0; i < 2; i++) expect(unitRowCosine(e, i, e, i, 128)).toBeCloseTo(1, 5);
  });

  withData('scores the same person above different people on LFW crops', async () => {
    const f = (name: string, n: number) => path.join(LFW, name, `${name}_${String(n).padStart(4, '0')}.jpg`);
    const files = [f('Aaron_Peirsol', 1), f('Aaron_Peirsol', 3), f('Aaron_Sorkin', 1), f('Aaron_Sorkin', 2)];
    const e = await judge.embed(await Promise.all(files.map(readRaster)));
    const same = [unitRowCosine(e, 0, e, 1, 128), unitRowCosine(e, 2, e, 3, 128)];
    const diff = [
      unitRowCosine(e, 0, e, 2, 128),
      unitRowCosine(e, 0, e, 3, 128),
      unitRowCosine(e, 1, e, 2, 128),
      unitRowCosine(e, 1, e, 3, 128),
    ];
    expect(Math.min(...same)).toBeGreaterThan(Math.max(...diff));
  });
});

describe('modelJudge', () => {
  it('embeds like embedBatch on the resized, normalised crops', async () => {
    const fm = tinyMobileFaceNet(3);
    const judge = modelJudge(fm);
    const crop = gradient(32);
    const before = tf.memory().numTensors;
    const e = await judge.embed([crop]);
    expect(tf.memory().numTensors).toBe(before);
    const ref = tf.tidy(() => {
      const x = tf.tensor4d(
        Float32Array.from(crop.data, (v) => (v - 127.5) / 127.5),
        [1, 32, 32, 3],
      );
      return embedBatch(fm.model, x, false).dataSync();
    });
    expect(judge.dim).toBe(16);
    Array.from(e).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
    fm.model.dispose();
  });
});
