#!/usr/bin/env node
// Writes the untrained sample model samples/models/random-mobilefacenet (insightface
// MobileFaceNet layout, width 64, 112×112, 512-d, seed 42) so `info`/`embed` can be tried
// before a trained model exists. Run after `npm run build`.
import * as tf from '@tensorflow/tfjs';
import { buildBackbone } from '../dist/backbone/index.js';
import { selectBackend } from '../dist/engine/backend.js';
import { saveFaceModel } from '../dist/io/modelStore.js';

await selectBackend('wasm');
const fm = buildBackbone('mobilefacenet', { seed: 42 });
await saveFaceModel(fm, new URL('../samples/models/random-mobilefacenet', import.meta.url).pathname);
fm.model.dispose();
console.log(`saved ${fm.meta.backbone} (${tf.getBackend()})`);
