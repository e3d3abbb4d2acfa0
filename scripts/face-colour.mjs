#!/usr/bin/env node
// The colour statistics shipped as FACE_COLOUR in src/invert/colour.ts: mean RGB and RGB
// covariance of the pixels of N aligned training faces (one in every k of the ImageFolder's
// sorted listing, k = floor(images / N)), with the mixing matrix the decorrelated colour space uses.
// Usage: npm run build && node scripts/face-colour.mjs [imageFolder=../shared/data/train] [N=2000]
import { colourMixing, faceColourStatistics, symmetricEigen3 } from '../dist/invert/colour.js';
import { loadImageFolder } from '../dist/io/imageFolder.js';

const [folder = '../shared/data/train', n = '2000'] = process.argv.slice(2);
const ds = await loadImageFolder(folder);
const k = Math.max(1, Math.floor(ds.items.length / Number(n)));
const files = ds.items
  .filter((_, i) => i % k === 0)
  .slice(0, Number(n))
  .map((it) => it.path);
const stats = await faceColourStatistics(files);
const round = (v) => Number(v.toPrecision(6));
const { values } = symmetricEigen3(stats.covariance);
console.log(
  JSON.stringify({
    images: files.length,
    every: k,
    mean: stats.mean.map(round),
    covariance: stats.covariance.map(round),
  }),
);
console.log('eigenvalues', values.map(round), 'luminance share', round(values[0] / values.reduce((a, b) => a + b)));
console.log('mixing', colourMixing(stats).map(round));
