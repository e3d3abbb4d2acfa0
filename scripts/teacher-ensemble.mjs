#!/usr/bin/env node
// The ensemble distillation target: the concatenation of several teachers' targets (each made by
// scripts/teacher-embeddings.mjs: centred on the data set's mean and L2-normalised), so each
// teacher weighs the same, renormalised to unit length (÷ √teachers). The teachers' listings
// (<file>.txt) must be the same images in the same order; OUT.txt is that listing.
// scripts/teacher-ensemble-lfw.mjs measures the same construction on LFW.
// Usage: npm run build && node scripts/teacher-ensemble.mjs OUT.npy A.npy B.npy [C.npy…]
import * as fsp from 'node:fs/promises';
import { readNpy, writeNpy } from '../dist/io/npy.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

const [out, ...teachers] = process.argv.slice(2);
if (!out?.endsWith('.npy') || teachers.length < 2)
  throw new Error('usage: teacher-ensemble.mjs OUT.npy A.npy B.npy [C.npy…]');
const listingOf = (f) => f.replace(/\.npy$/, '.txt');
const listing = await fsp.readFile(listingOf(teachers[0]), 'utf8');
for (const t of teachers.slice(1))
  if ((await fsp.readFile(listingOf(t), 'utf8')) !== listing)
    throw new Error(`${listingOf(t)} does not list the images of ${listingOf(teachers[0])} in the same order`);
const arrays = await Promise.all(teachers.map((t) => readNpy(t)));
const n = arrays[0].shape[0];
const dims = arrays.map((a) => a.shape[1]);
const dim = dims.reduce((a, b) => a + b);
const e = new Float32Array(n * dim);
const w = 1 / Math.sqrt(teachers.length);
for (let i = 0; i < n; i++) {
  let at = i * dim;
  arrays.forEach((a, t) => {
    for (let k = 0; k < dims[t]; k++) e[at + k] = a.data[i * dims[t] + k] * w;
    at += dims[t];
  });
}
await writeNpy(out, e, [n, dim]);
await writeFileAtomic(listingOf(out), listing);
console.log(`${out}: ${n} × ${dim} (${teachers.length} teachers: ${dims.join(' + ')})`);
