/**
 * Data-parallel training (src/train/parallel.ts): W workers on a batch of B images give the
 * weights and BN moving statistics of one thread with microBatch = B / W; the main thread
 * keeps no tensors; worker failures become one-line ArcinvertErrors. The workers run the
 * compiled dist/train/trainWorker.js, refused when older than src/ (`npm test` builds first).
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../../src/model/types.js';
import { ArcinvertError } from '../../src/errors.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { loadImageFolder } from '../../src/io/imageFolder.js';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { BatchLoader } from '../../src/train/loader.js';
import { marginFunction } from '../../src/arcface/margin.js';
import { defaultWorkers, ParallelTrainer, workerShare } from '../../src/train/parallel.js';
import { sgdInit } from '../../src/train/sgd.js';
import { trainables, trainStep } from '../../src/train/step.js';
import { useWasm } from '../helpers/backend.js';
import { tinyMobileFaceNet } from '../helpers/tiny.js';
import { makeFaceFolder } from './faces.js';

let root: string;
let batches: { images: tf.Tensor4D; labels: tf.Tensor1D }[];
const STEPS = 3;
const cfg = resolveTrainConfig({
  batchSize: 8,
  microBatch: 4,
  k: 2,
  lr: 0.05,
  margin: { s: 16, m1: 1, m2: 0.2, m3: 0 },
});

beforeAll(async () => {
  await useWasm();
  root = await makeFaceFolder(4, 6, 32);
  const loader = new BatchLoader(await loadImageFolder(root), {
    batchSize: 8,
    imageSize: [32, 32],
    flip: true,
    seed: 5,
    prefetch: 1,
  });
  batches = [];
  for await (const b of loader.batches({ epoch: 0, batch: 0 }, 2)) {
    batches.push({ images: b.images, labels: b.labels });
    if (batches.length === STEPS) break;
  }
});
afterAll(async () => {
  batches.forEach((b) => tf.dispose([b.images, b.labels]));
  await fsp.rm(root, { recursive: true, force: true });
});

function setup(projectionDim = 0): {
  fm: FaceModel;
  head: ArcFaceHead;
  p: ReturnType<typeof trainables>;
  buffers: tf.Tensor[];
} {
  const fm = tinyMobileFaceNet(3);
  const head = new ArcFaceHead({ embeddingDim: fm.meta.embeddingSize, numClasses: 4, k: 2, seed: 9, projectionDim });
  const p = trainables(fm, head);
  return { fm, head, p, buffers: sgdInit(p.vars) };
}

/** Every weight of the model (trainable and BN moving statistics) and the head, as arrays. */
function snapshot(fm: FaceModel, head: ArcFaceHead): Float32Array[] {
  return [
    ...fm.model.weights.map((w) => w.read().dataSync() as Float32Array),
    ...head.trainableVariables.map((v) => v.dataSync() as Float32Array),
  ];
}

// With micro-batches inside the workers the gradient sum is (g0 + g1) + (g2 + g3) rather than
// ((g0 + g1) + g2) + g3; the tiny ArcFace model amplifies that rounding to ~1e-4 within three
// steps, so that case is compared after one step.
test.each([
  { workerMicro: 0, serialMicro: 4, steps: STEPS, teacher: 0 },
  { workerMicro: 2, serialMicro: 2, steps: 1, teacher: 0 },
  { workerMicro: 0, serialMicro: 4, steps: STEPS, teacher: 6 },
])(
  '2 workers (microBatch $workerMicro) on batches of 8 give the weights of microBatch $serialMicro in one thread ($steps steps, teacher dim $teacher)',
  async ({ workerMicro, serialMicro, steps, teacher }) => {
    // Distillation targets: fixed random teacher embeddings, one [8, T] block per batch.
    const targets = batches.map(
      (_, i) => tf.randomNormal([8, Math.max(teacher, 1)], 0, 1, 'float32', 100 + i) as tf.Tensor2D,
    );
    const distillOf = (i: number): { targets: tf.Tensor2D; weight: number } | undefined =>
      teacher > 0 ? { targets: targets[i], weight: 4 } : undefined;
    const serial = setup(teacher);
    const margin = marginFunction(cfg.margin);
    for (const [i, b] of batches.slice(0, steps).entries()) {
      const out = trainStep(
        serial.fm,
        serial.head,
        margin,
        serial.p,
        serial.buffers,
        b.images,
        b.labels,
        { ...cfg, microBatch: serialMicro },
        0.05,
        distillOf(i),
      );
      tf.dispose([...serial.buffers, out.loss, out.norm]);
      serial.buffers = out.buffers;
    }

    const par = setup(teacher);
    const trainer = await ParallelTrainer.start(
      par.fm,
      par.head,
      par.p,
      { ...cfg, microBatch: workerMicro },
      { workers: 2 },
    );
    const before = tf.memory().numTensors;
    try {
      for (const [i, b] of batches.slice(0, steps).entries()) {
        const out = await trainer.step(par.buffers, b.images, b.labels, 0.05, distillOf(i));
        expect(Number.isFinite((await out.loss.data())[0])).toBe(true);
        tf.dispose([...par.buffers, out.loss, out.norm]);
        par.buffers = out.buffers;
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await trainer.dispose();
    }

    const [a, b] = [snapshot(serial.fm, serial.head), snapshot(par.fm, par.head)];
    const fresh = setup(teacher);
    const start = snapshot(fresh.fm, fresh.head);
    let moved = 0;
    a.forEach((x, i) => {
      const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      const diff = x.reduce((m, v, j) => Math.max(m, Math.abs(v - b[i][j])), 0);
      expect(diff / scale).toBeLessThanOrEqual(1e-5);
      if (x.some((v, j) => v !== start[i][j])) moved++;
    });
    // Trainable weights and moving statistics all changed: the comparison is not vacuous.
    expect(moved).toBe(a.length);
    for (const s of [serial, par, fresh]) {
      s.fm.model.dispose();
      s.head.dispose();
      tf.dispose(s.buffers);
    }
    tf.dispose(targets);
  },
);

test('the batch must split evenly; the default worker count divides it', () => {
  expect(() => workerShare({ batchSize: 10, microBatch: 0 }, 4)).toThrow(
    /^batchSize 10 is not a multiple of workers 4$/,
  );
  expect(() => workerShare({ batchSize: 8, microBatch: 8 }, 2)).toThrow(/^microBatch 8 exceeds/);
  expect(workerShare({ batchSize: 8, microBatch: 2 }, 2)).toBe(4);
  expect(defaultWorkers({ batchSize: 32, microBatch: 0 }, 3)).toBe(2);
  expect(defaultWorkers({ batchSize: 32, microBatch: 0 }, 1)).toBe(1);
});

test('a worker error is a one-line ArcinvertError', async () => {
  const s = setup();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-worker-'));
  const script = path.join(dir, 'broken.mjs');
  await fsp.writeFile(script, "throw new Error('boom\\n    at somewhere');\n");
  try {
    const err = await ParallelTrainer.start(s.fm, s.head, s.p, cfg, {
      workers: 2,
      workerScript: new URL(`file://${script}`),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toMatch(/^training worker \d: boom$/);
    // A real worker whose model does not match what it is told.
    const wrong = { ...s.p, names: [...s.p.names.slice(1), 'x'] };
    const err2 = await ParallelTrainer.start(s.fm, s.head, wrong, cfg, { workers: 2 }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(ArcinvertError);
    expect((err2 as Error).message).toMatch(/^training worker \d: the rebuilt model has other trainable weights/);
    expect((err2 as Error).message).not.toContain('\n');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
    s.fm.model.dispose();
    s.head.dispose();
    tf.dispose(s.buffers);
  }
});
