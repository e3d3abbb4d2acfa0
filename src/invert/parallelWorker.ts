/**
 * One worker of `invertParallel` (parallel.ts): selects its own backend, rebuilds the model
 * from the artifacts it was started with, then inverts the batches the main thread hands it,
 * one at a time, until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../engine/backend.js';
import { PartExchange } from './exchange.js';
import { invertSerial } from './loop.js';
import type { FromWorker, ToWorker, WorkerInit } from './parallel.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const send = (m: FromWorker): void => port.postMessage(m);
const controller = new AbortController();

try {
  await selectBackend(init.backend);
  const model = await tf.loadLayersModel(tf.io.fromMemory(init.artifacts));
  const fm = { model, meta: init.meta, calibration: init.calibration };
  const members = await Promise.all(
    init.members.map(async (m) => ({
      fm: { model: await tf.loadLayersModel(tf.io.fromMemory(m.artifacts)), meta: m.meta, calibration: m.calibration },
      targets: m.targets,
      weight: m.weight,
    })),
  );
  port.on('message', (m: ToWorker) => {
    if (m.type === 'abort') controller.abort();
    else if (m.type === 'stop') {
      model.dispose();
      for (const m of members) m.fm.model.dispose();
      port.close();
    } else {
      invertSerial(fm, init.targets, init.config, {
        signal: controller.signal,
        members,
        onProgress: (progress) => send({ type: 'progress', progress }),
        batches: [m.batch],
        split: m.part && { exchange: new PartExchange(m.part.buffer, m.part.index, m.part.parts, m.part.length) },
      })
        .then((r) =>
          send({ type: 'batch', batch: m.batch, images: r.images, aborted: r.aborted, diverged: r.diverged }),
        )
        .catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
    }
  });
  send({ type: 'ready' });
} catch (e) {
  send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
