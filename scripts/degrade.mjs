// The one photo degradation the measurement and training scripts share, so that what
// scripts/degraded-copies.mjs trains on is what scripts/degraded-heldout.mjs measures.
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
