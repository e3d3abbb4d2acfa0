#!/usr/bin/env node
// The ensemble distillation target: the concatenation of several teachers' targets (each made by
// scripts/teacher-embeddings.mjs: centred on the data set's mean and L2-normalised), so each
// teacher weighs the same, renormalised to unit length (÷ √teachers). The teachers' listings
// (<file>.txt) must be the same images in the same order; OUT.txt is that listing.
// scripts/teacher-ensemble-lfw.mjs measures the same construction on LFW.
//
// --pca D keeps the ensemble's D principal directions (eigenvectors of its covariance over the
// set): each target becomes Uᵀ·e, renormalised, which keeps every target's cosines to the others
// as far as D dimensions can; the variance kept and the mean cosine between each target and its
// projection back (U·Uᵀ·e) are printed. --float16 stores the result as '<f2' (half the bytes;
// `train --distill` reads it as float32). Together they make a target file small enough to
// commit next to a resumable training run (18,194 × 512 float16 = 18.6 MB).
// Usage: npm run build && node scripts/teacher-ensemble.mjs OUT.npy A.npy B.npy [C.npy…] [--pca D] [--float16]
import * as fsp from 'node:fs/promises';
import { readNpy, writeNpy } from '../dist/io/npy.js';
import { writeFileAtomic } from '../dist/io/atomic.js';
import { l2NormalizeRowsInPlace } from '../dist/arcface/normalize.js';
import { symmetricEigen } from '../dist/util/eigen.js';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args.splice(i, name === '--pca' ? 2 : 1).at(-1);
};
const pca = flag('--pca');
const float16 = flag('--float16') !== undefined;
const [out, ...teachers] = args;
if (
  !out?.endsWith('.npy') ||
  teachers.length < 2 ||
  (pca !== undefined && !(Number.isInteger(Number(pca)) && Number(pca) >= 1))
)
  throw new Error('usage: teacher-ensemble.mjs OUT.npy A.npy B.npy [C.npy…] [--pca D] [--float16]');
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
const [targets, width] = pca === undefined ? [e, dim] : [principal(e, n, dim, Number(pca)), Number(pca)];
await writeNpy(out, targets, [n, width], float16 ? 'float16' : 'float32');
await writeFileAtomic(listingOf(out), listing);
console.log(
  `${out}: ${n} × ${width} (${teachers.length} teachers: ${dims.join(' + ')}${pca ? `, PCA of ${dim}` : ''})`,
);

/** Rows of `e` (n × dim) projected on the d leading eigenvectors of their covariance, renormalised. */
function principal(e, n, dim, d) {
  if (d > dim) throw new Error(`--pca ${d} exceeds the ensemble's ${dim} dimensions`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += e[i * dim + k] / n;
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < dim; k++) row[k] = e[i * dim + k] - mean[k];
    for (let a = 0; a < dim; a++) {
      const ra = row[a] / n;
      for (let b = a; b < dim; b++) cov[a * dim + b] += ra * row[b];
    }
  }
  let trace = 0;
  for (let a = 0; a < dim; a++) {
    trace += cov[a * dim + a];
    for (let b = a + 1; b < dim; b++) cov[b * dim + a] = cov[a * dim + b];
  }
  const t0 = Date.now();
  const { values, vectors } = symmetricEigen(cov, dim, { tol: 1e-24 * trace * trace });
  const kept = values.slice(0, d).reduce((s, v) => s + v, 0) / trace;
  const p = new Float32Array(n * d);
  let cos = 0;
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += vectors[k * dim + j] * e[i * dim + k];
      p[i * d + j] = s;
      sq += s * s;
    }
    cos += Math.sqrt(sq) / n; // |Uᵀe| = cos(e, U·Uᵀ·e) for a unit e
  }
  l2NormalizeRowsInPlace(p, d);
  console.log(
    `PCA ${dim} → ${d}: ${(100 * kept).toFixed(1)} % of the variance kept, mean cos(target, projection) ${cos.toFixed(4)} (eigen ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
  );
  return p;
}
