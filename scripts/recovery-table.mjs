#!/usr/bin/env node
// How close each attacker gets to the true template before any inversion: for every scheme, the
// mean cosine between the embeddings recovered from protected templates and the true ones, with
// the stolen key, with the stolen key and a prior of face embeddings, and with a guessed key.
// Targets: the first photo of each of the first --limit identities under TARGETS (as
// `leakage --invert` picks them); the prior: --prior-n faces of PRIOR_FACES, evenly spaced.
// Usage: npm run build && node scripts/recovery-table.mjs MODEL TARGETS PRIOR_FACES
//          [--limit 100] [--prior-n 2000] [--scheme SPEC …] [--out table.json]
import { selectBackend } from '../dist/engine/backend.js';
import { listImages } from '../dist/io/image.js';
import { loadFaceModel } from '../dist/model/store.js';
import { targetsFromImages } from '../dist/invert/targets.js';
import { galleryFromDir } from '../dist/leakage/gallery.js';
import { fitEmbeddingPrior } from '../dist/protect/prior.js';
import { makeKey, parseSchemeSpec } from '../dist/protect/schemes.js';
import { attackTemplates } from '../dist/protect/system.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

const args = process.argv.slice(2);
const take = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  let j = i + 1;
  while (j < args.length && !args[j].startsWith('--')) j++;
  return args.splice(i, j - i).slice(1);
};
const limit = Number(take('--limit', ['100'])[0]);
const priorN = Number(take('--prior-n', ['2000'])[0]);
const out = take('--out', [null])[0];
const specs = take('--scheme', [
  'noise:sigma=1',
  'quantize:bits=2',
  'sign',
  'project:dim=256',
  'biohash:bits=256',
  'biohash:bits=64',
  'mlphash',
  'polyprotect:window=5:overlap=2',
]);
const [modelDir, targetsDir, priorDir] = args;
if (!modelDir || !targetsDir || !priorDir) {
  console.error(
    'usage: recovery-table.mjs MODEL TARGETS PRIOR_FACES [--limit 100] [--prior-n 2000] [--scheme …] [--out F]',
  );
  process.exit(2);
}
await selectBackend('wasm');
const fm = await loadFaceModel(modelDir);
const gallery = await galleryFromDir(targetsDir, limit);
const t = await targetsFromImages(
  fm,
  gallery.targets.map((i) => gallery.photos[i].file),
);
const files = (await listImages([priorDir])).sort();
const m = Math.min(priorN, files.length);
const pf = await targetsFromImages(
  fm,
  Array.from({ length: m }, (_, i) => files[Math.floor((i * files.length) / m)]),
);
const prior = fitEmbeddingPrior(pf.embeddings, pf.n, pf.dim);
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const rows = [];
for (const s of specs) {
  const spec = parseSchemeSpec(s);
  const key = makeKey(spec.scheme, t.dim, 0, spec.options, { data: t.embeddings, n: t.n });
  const cell = (scenario, options = {}) => {
    // The noise scheme's draws (a fixed seed; `leakage --protect` draws mixSeed(seed, 0x57013)).
    const a = attackTemplates(key, t.embeddings, t.n, scenario, 0x57013, options);
    return { cosine: mean(a.cosineToTrue), protectedSimilarity: mean(a.protectedSimilarity) };
  };
  rows.push({
    scheme: s,
    stolen: cell('key-stolen'),
    stolenWithPrior: spec.scheme === 'quantize' ? null : cell('key-stolen', { prior }),
    unknown: cell('key-unknown'),
  });
  const r = rows[rows.length - 1];
  console.error(
    `${s}: stolen ${r.stolen.cosine.toFixed(3)}, +prior ${r.stolenWithPrior?.cosine.toFixed(3) ?? '—'}, unknown ${r.unknown.cosine.toFixed(3)}`,
  );
}
fm.model.dispose();
const f = (c) => (c ? c.cosine.toFixed(3) : '—');
console.log(
  `${t.n} targets (${targetsDir}), prior from ${m} faces of ${priorDir}; mean cosine of the recovered to the true embedding:\n`,
);
console.log('| scheme | key stolen | key stolen + prior | key guessed |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.scheme} | ${f(r.stolen)} | ${f(r.stolenWithPrior)} | ${f(r.unknown)} |`);
if (out)
  await writeFileAtomic(
    out,
    `${JSON.stringify({ model: modelDir, targets: targetsDir, limit: t.n, prior: { faces: priorDir, n: m }, rows }, null, 2)}\n`,
  );
