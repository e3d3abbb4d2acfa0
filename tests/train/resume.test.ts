import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import type { TrainConfig } from '../../src/train/config.js';
import { loadImageFolder, type Dataset } from '../../src/io/imageFolder.js';
import { train, type EpochRecord, type StepProgress, type StepRecord } from '../../src/train/loop.js';
import { makeFaceFolder, TINY_TRAIN_CONFIG } from './faces.js';

let root: string;
let tmp: string;
let data: Dataset;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await makeFaceFolder(8, 4, 16); // 8 identities × 4 images; 2 held out → 24 training images
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-train-'));
  data = await loadImageFolder(root);
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** 6 steps per epoch (24 images / 4), 2 epochs. */
const config: TrainConfig = TINY_TRAIN_CONFIG;

async function readLog(dir: string): Promise<StepRecord[]> {
  const text = await fsp.readFile(path.join(dir, 'train-log.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepRecord);
}

/** Every weight of a checkpoint (model incl. BN moving statistics, head, momentum) as arrays. */
async function snapshot(dir: string): Promise<Float32Array[]> {
  const c = await loadCheckpoint(dir);
  const out = [...c.fm.model.getWeights(), c.head.weight, ...c.buffers].map((t) => t.dataSync() as Float32Array);
  c.fm.model.dispose();
  c.head.dispose();
  tf.dispose(c.buffers);
  return out;
}

test('8 steps straight equal 4 steps + checkpoint + resume + 4 steps, bit for bit', async () => {
  const before = tf.memory().numTensors;
  const straight = path.join(tmp, 'straight');
  const steps: StepProgress[] = [];
  const epochs: EpochRecord[] = [];
  const a = await train(
    { config, data, outDir: straight, maxSteps: 8 },
    { onStep: (s) => steps.push(s), onEpoch: (e) => epochs.push(e) },
  );
  expect(tf.memory().numTensors).toBe(before);
  expect(a.steps).toBe(8);
  expect(steps.map((s) => [s.epoch, s.batch])).toEqual([
    [0, 0],
    [0, 1],
    [0, 2],
    [0, 3],
    [0, 4],
    [0, 5],
    [1, 0],
    [1, 1],
  ]);
  expect(steps[0].totalSteps).toBe(8);
  expect(steps[0].stepsPerEpoch).toBe(6);
  expect(steps.every((s) => Number.isFinite(s.loss) && s.imagesPerSec > 0)).toBe(true);
  // LR: warmup 3 steps (0.5 epoch) then poly over 12 − 3 steps.
  expect(steps[0].lr).toBeCloseTo(0.05 / 3, 10);
  expect(steps[3].lr).toBeCloseTo(0.05, 10);
  expect(steps[4].lr).toBeCloseTo(0.05 * (1 - 1 / 9) ** 2, 10);
  // One epoch end: validation on the 2 held-out identities, saved as best/.
  expect(epochs).toHaveLength(1);
  expect(epochs[0].val?.pairs).toBe(8);
  expect(epochs[0].best).toBe(true);
  expect(existsSync(path.join(straight, 'best', 'model.json'))).toBe(true);

  const split = path.join(tmp, 'split');
  const b1 = await train({ config, data, outDir: split, maxSteps: 4 });
  expect(b1.steps).toBe(4);
  const mid = await loadCheckpoint(split);
  expect(mid.state.step).toBe(4);
  expect(mid.state.position).toEqual({ epoch: 0, batch: 4 });
  expect(mid.state.classNames).toHaveLength(6);
  expect(mid.state.config).toEqual(config);
  mid.fm.model.dispose();
  mid.head.dispose();
  tf.dispose(mid.buffers);
  // Resume with a different config on purpose: the checkpoint's config must win.
  const etas: number[] = [];
  const b2 = await train(
    { config: { ...config, lr: 1 }, data, outDir: split, resumeFrom: split, maxSteps: 8 },
    { onStep: (s) => etas.push(s.etaSeconds) },
  );
  // ETA from this session's pace: 3 steps left after the first resumed step, none after the last.
  expect(etas).toHaveLength(4);
  expect(etas[0]).toBeGreaterThan(0);
  expect(etas[0]).toBeLessThan(3 * 60);
  expect(etas[3]).toBe(0);
  expect(b2.steps).toBe(8);
  expect(tf.memory().numTensors).toBe(before);

  const [wa, wb] = [await snapshot(straight), await snapshot(split)];
  expect(wb.length).toBe(wa.length);
  wa.forEach((arr, i) => expect(Array.from(wb[i])).toEqual(Array.from(arr)));
  const [la, lb] = [await readLog(straight), await readLog(split)];
  expect(lb.map((r) => [r.step, r.loss, r.lr])).toEqual(la.map((r) => [r.step, r.loss, r.lr]));
  // One checkpoint kept, pointed to by checkpoint.json.
  expect(await fsp.readdir(path.join(split, 'checkpoints'))).toEqual(['step-00000008']);
});
