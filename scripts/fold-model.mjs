#!/usr/bin/env node
// Folds every conv → BatchNorm pair of a saved arcinvert model into one biased conv, as
// deployment exports (torch.onnx.export) do, and saves the result: a test subject for the
// calibrated prior (docs/IMPORT.md). Prints the largest embedding difference on 4 noise inputs.
// Usage: npm run build && node scripts/fold-model.mjs <modelDir> <outDir>
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { foldBatchNorms } from '../dist/backbone/fold.js';
import { loadFaceModel, saveFaceModel } from '../dist/model/store.js';

const [src, out] = process.argv.slice(2);
if (!out) throw new Error('usage: fold-model.mjs <modelDir> <outDir>');
await tf.setBackend('wasm');
const fm = await loadFaceModel(src);
const { model, folded } = foldBatchNorms(fm.model);
const x = tf.randomUniform([4, ...fm.meta.inputSize, 3], -1, 1, 'float32', 1);
const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(fm.model.predict(x), model.predict(x)))).dataSync()[0]);
await saveFaceModel({ model, meta: fm.meta }, out);
const left = model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
console.log(
  `${out}: ${folded} BatchNorm layers folded into convs, ${left} left; max |Δ embedding| ${diff.toExponential(2)}`,
);
