// The one photo degradation the measurement and training scripts share, so that what
// scripts/degraded-copies.mjs trains on is what scripts/degraded-heldout.mjs measures.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';

/**
 * Writes `file` (unless it exists): the photo `src` shrunk to small × small px (losslessly kept),
 * resized back to 112 × 112 and saved as JPEG at `quality`; staged as `file.part`, then renamed.
 */
export async function writeDegraded(src, file, small, quality) {
  if (existsSync(file)) return;
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const shrunk = await sharp(src).resize(small, small).png().toBuffer();
  await sharp(shrunk).resize(112, 112).jpeg({ quality }).toFile(`${file}.part`);
  await fsp.rename(`${file}.part`, file);
}

/**
 * Degraded copies of `files` (photos under the data folder `data`) in a folder under `tmp` named
 * after the settings and the data folder, made once and kept for the next run; their paths, in
 * the order of `files`.
 */
export async function degradedCopies(data, files, small, quality, tmp) {
  const dataTag = createHash('sha256').update(data).digest('hex').slice(0, 8);
  const dir = path.join(tmp, `arcinvert-degraded-${small}px-q${quality}-${dataTag}`);
  const copies = files.map((f) => path.join(dir, path.relative(data, f)).replace(/\.\w+$/, '.jpg'));
  for (const [i, f] of files.entries()) await writeDegraded(f, copies[i], small, quality);
  return copies;
}
