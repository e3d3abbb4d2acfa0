#!/usr/bin/env node
// Writes an untrained MobileFaceNet (insightface layout, width 64, 112×112, 512-d, seed 42)
// to samples/models/random-mobilefacenet (not committed): the model docs/LEAKAGE.md's
// untrained-model demo used. Run after `npm run build`.
import * as tf from '@tensorflow/tfjs';
import { buildBackbone } from '../dist/model/build.js';
import { selectBackend } from '../dist/engine/backend.js';
import { saveFaceModel } from '../dist/model/store.js';

await selectBackend('wasm');
const fm = buildBackbone('mobilefacenet', { seed: 42 });
await saveFaceModel(fm, new URL('../samples/models/random-mobilefacenet', import.meta.url).pathname);
fm.model.dispose();
console.log(`saved ${fm.meta.backbone} (${tf.getBackend()})`);
