/**
 * One worker of data-parallel training (parallel.ts): selects its own backend, rebuilds the
 * model from the artifacts it was started with and a head of the same shape, then, for each
 * chunk the main thread sends, loads the current weights from the shared buffer, runs forward
 * (training mode) and backward, and sends back the gradient and the BN statistics of each piece.
 *
 * The BN statistics are read off the layers' moving statistics: with momentum 0 and moving
 * statistics reset to 0 before each piece, tfjs-layers' update `m − (m − s)·1` leaves exactly
 * the batch statistic s. The main thread then applies the real moving average.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../engine/backend.js';
import { ArcFaceHead } from '../arcface/head.js';
import { marginFunction } from '../arcface/margin.js';
import type { FromTrainWorker, ToTrainWorker, TrainWorkerInit } from './parallel.js';
import { batchGradients, trainables } from './step.js';

const port = parentPort!;
const init = workerData as TrainWorkerInit;
const send = (m: FromTrainWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

try {
  await selectBackend(init.backend);
  const model = await tf.loadLayersModel(tf.io.fromMemory(init.artifacts));
  const fm = { model, meta: init.meta };
  const head = new ArcFaceHead(init.head);
  const p = trainables(fm, head);
  if (p.names.join('\n') !== init.names.join('\n'))
    throw new Error('the rebuilt model has other trainable weights than the main thread’s');
  const bn = init.bn.map((name) => model.getLayer(name));
  // Momentum 0 turns the moving update into a copy of the batch statistics (see the header).
  for (const layer of bn) (layer as unknown as { momentum: number }).momentum = 0;
  const statSize = bn.reduce((n, l) => n + l.nonTrainableWeights.reduce((m, v) => m + v.shape[0]!, 0), 0);
  const weights = new Float32Array(init.weights);
  const margin = marginFunction(init.config.margin);

  const resetStats = (): void =>
    tf.tidy(() => bn.forEach((l) => l.nonTrainableWeights.forEach((v) => v.write(tf.zeros(v.shape as number[])))));
  const step = (m: Extract<ToTrainWorker, { type: 'step' }>): void => {
    let off = 0;
    for (const v of p.vars) {
      tf.tidy(() => v.assign(tf.tensor(weights.subarray(off, off + v.size), v.shape, 'float32')));
      off += v.size;
    }
    const n = m.shape[0];
    const chunk = init.config.microBatch > 0 ? Math.min(init.config.microBatch, n) : n;
    const pieces = Math.ceil(n / chunk);
    const stats = new Float32Array(pieces * statSize);
    let at = 0;
    const readStats = (): void => {
      for (const l of bn) {
        for (const v of l.nonTrainableWeights) {
          const s = v.read().dataSync() as Float32Array;
          stats.set(s, at);
          at += s.length;
        }
      }
      resetStats();
    };
    resetStats();
    const x = tf.tensor4d(m.images, m.shape, 'float32');
    const y = tf.tensor1d(m.labels, 'int32');
    const distill = m.distill
      ? { targets: tf.tensor2d(m.distill.targets, [n, m.distill.dim]), weight: m.distill.weight }
      : undefined;
    const { loss, grads } = batchGradients({
      fm,
      head,
      margin,
      vars: p.vars,
      images: x,
      labels: y,
      chunk,
      total: m.total,
      afterChunk: readStats,
      distill,
    });
    if (distill) distill.targets.dispose();
    const flat = new Float32Array(weights.length);
    off = 0;
    for (const g of grads) {
      flat.set(g.dataSync(), off);
      off += g.size;
    }
    const value = loss.dataSync()[0];
    tf.dispose([x, y, loss, ...grads]);
    send({ type: 'grads', loss: value, grads: flat, bn: stats, pieces }, [flat.buffer, stats.buffer]);
  };

  port.on('message', (m: ToTrainWorker) => {
    if (m.type === 'stop') {
      model.dispose();
      head.dispose();
      port.close();
      return;
    }
    try {
      step(m);
    } catch (e) {
      send({ type: 'error', message: message(e) });
    }
  });
  send({ type: 'ready' });
} catch (e) {
  send({ type: 'error', message: message(e) });
}
