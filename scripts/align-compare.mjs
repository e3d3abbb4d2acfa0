#!/usr/bin/env node
// Draws the photos where arcinvert's 5 points and the dlib reference disagree most: for each, the
// face region (brightened ×k when dark), reference points red, arcinvert's calibrated points green.
// Input: the JSON written by `node scripts/align-eval.mjs --json FILE`.
// Usage: npm run build && node scripts/align-compare.mjs FILE out.png [N=4]
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { applyTemplateOffsets, FACEAPI_TO_DLIB_OFFSETS_112 } from '../dist/align/calibration.js';
import { writeFileAtomic } from '../dist/io/atomic.js';

const [file, out, n = '4'] = process.argv.slice(2);
if (!out?.endsWith('.png')) throw new Error('usage: align-compare.mjs align-eval.json out.png [N]');
const { results } = JSON.parse(readFileSync(file, 'utf8'));
const worst = results
  .filter((r) => r.detected)
  .sort((a, b) => b.calibratedError - a.calibratedError)
  .slice(0, Number(n));
const TILE = 360;
const tiles = [];
for (const r of worst) {
  const ours = applyTemplateOffsets(r.found, FACEAPI_TO_DLIB_OFFSETS_112);
  const all = [...ours, ...r.reference];
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const iod = Math.hypot(r.reference[1][0] - r.reference[0][0], r.reference[1][1] - r.reference[0][1]);
  const meta = await sharp(r.file).metadata();
  const pad = 0.6 * iod;
  const left = Math.max(0, Math.floor(Math.min(...xs) - pad));
  const top = Math.max(0, Math.floor(Math.min(...ys) - pad));
  const side = Math.min(
    meta.width - left,
    meta.height - top,
    Math.ceil(Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) + 2 * pad),
  );
  const s = TILE / side;
  const { data } = await sharp(r.file)
    .extract({ left, top, width: side, height: side })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  const gain = Math.min(4, Math.max(1, 110 / mean));
  const dot = (pts, col) =>
    pts
      .map(
        ([x, y]) =>
          `<circle cx="${((x - left) * s).toFixed(1)}" cy="${((y - top) * s).toFixed(1)}" r="5" fill="${col}" stroke="black"/>`,
      )
      .join('');
  const name = r.file.split('/').pop();
  const label = `${name.length > 34 ? name.slice(0, 33) + '…' : name}: ${(r.calibratedError * 100).toFixed(1)}%${gain > 1.05 ? ` (×${gain.toFixed(1)})` : ''}`;
  const svg = `<svg width="${TILE}" height="${TILE + 24}" xmlns="http://www.w3.org/2000/svg"><rect y="${TILE}" width="${TILE}" height="24" fill="white"/>${dot(r.reference, 'red')}${dot(ours, 'lime')}<text x="4" y="${TILE + 17}" font-family="sans-serif" font-size="14">${label}</text></svg>`;
  tiles.push(
    await sharp(r.file)
      .extract({ left, top, width: side, height: side })
      .linear(gain, 0)
      .resize(TILE, TILE)
      .extend({ bottom: 24, background: 'white' })
      .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
      .png()
      .toBuffer(),
  );
}
const sheet = await sharp({
  create: { width: TILE * tiles.length, height: TILE + 24, channels: 3, background: 'white' },
})
  .composite(tiles.map((t, i) => ({ input: t, left: i * TILE, top: 0 })))
  .png()
  .toBuffer();
await writeFileAtomic(out, sheet);
console.log(
  `${out}: ${worst.map((r) => `${r.file.split('/').pop()} ${(r.calibratedError * 100).toFixed(1)}%`).join(', ')}`,
);
