/**
 * The data of a leakage experiment: genuine photos with identities (identity = the photo's
 * folder, as LFW's `<Name>/<Name>_NNNN.jpg`), which of them are the targets whose templates
 * were inverted, the reconstructions of each target, and the impostor pairs that set the
 * thresholds.
 *
 * Reconstructions come from an `arcinvert invert` output directory: its `report.json`
 * (`targets[i].source` = the photo of target i, `images[k].file` / `.target` / `.seed`)
 * names each PNG (`t{target}_s{seed}.png`) and the photo it was inverted from.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ArcinvertError, ConfigError } from '../errors.js';
import { lfwImagePath, readPairsFile } from '../metrics/verification.js';
import { listImages } from '../io/image.js';
import { readTextChecked } from '../io/atomic.js';
import { readRaster } from '../align/raster.js';
import type { RasterImage } from '../align/warp.js';

/** A genuine photo. */
export interface Photo {
  file: string;
  identity: string;
}

/** Genuine photos and the targets among them. */
export interface Gallery {
  photos: Photo[];
  /** Per target, the index in `photos` of the photo whose template was inverted. */
  targets: number[];
}

/** One reconstruction: its PNG and which target / seed it belongs to. */
export interface ReconstructionRef {
  file: string;
  target: number;
  seed: number;
}

/** The identity of a photo: the name of its folder. */
export function identityOf(file: string): string {
  return path.basename(path.dirname(path.resolve(file)));
}

/**
 * Targets from a folder of identity folders: the identities with at least `minImages`
 * photos, in sorted order, the first `limit` of them; each identity's first photo is its
 * target and all its photos are in the gallery.
 */
export async function galleryFromDir(dir: string, limit: number, minImages = 2): Promise<Gallery> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => {
    throw new ConfigError(['targets'], (k) => `cannot read ${k('targets')} ${dir}`);
  });
  const names = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const gallery: Gallery = { photos: [], targets: [] };
  for (const name of names) {
    if (gallery.targets.length >= limit) break;
    const files = await listImages([path.join(dir, name)]).catch(() => [] as string[]);
    if (files.length < minImages) continue;
    gallery.targets.push(gallery.photos.length);
    gallery.photos.push(...files.map((file) => ({ file, identity: name })));
  }
  if (gallery.targets.length === 0)
    throw new ArcinvertError(`no identity folder in ${dir} has ${minImages} or more photos`);
  return gallery;
}

/**
 * The gallery around given target photos: every photo in each target's folder (its
 * identity's other photos are the type-II probes).
 */
export async function galleryForSources(sources: readonly string[]): Promise<Gallery> {
  const gallery: Gallery = { photos: [], targets: [] };
  const indexOf = new Map<string, number>();
  for (const src of sources) {
    const abs = path.resolve(src);
    if (!indexOf.has(abs)) {
      const files = await listImages([path.dirname(abs)]);
      for (const f of files.map((x) => path.resolve(x))) {
        if (indexOf.has(f)) continue;
        indexOf.set(f, gallery.photos.length);
        gallery.photos.push({ file: f, identity: identityOf(f) });
      }
    }
    const i = indexOf.get(abs);
    if (i === undefined) throw new ArcinvertError(`target photo ${src} is missing`);
    gallery.targets.push(i);
  }
  return gallery;
}

interface InvertReport {
  targets?: Array<{ index: number; source: string | null }>;
  images?: Array<{ file: string; target: number; seed: number }>;
}

/** Reads an `arcinvert invert` output directory: the target photos and the reconstructions. */
export async function readReconstructionDir(
  dir: string,
): Promise<{ sources: string[]; reconstructions: ReconstructionRef[] }> {
  const file = path.join(dir, 'report.json');
  const text = await readTextChecked(file, 'report', 'json').catch(() => {
    throw new ConfigError(
      ['reconstructions'],
      (k) => `${k('reconstructions')} ${dir} has no report.json (expected an 'arcinvert invert' output)`,
    );
  });
  let report: InvertReport;
  try {
    report = JSON.parse(text) as InvertReport;
  } catch {
    throw new ArcinvertError(`${file} is not valid JSON`);
  }
  if (!Array.isArray(report.targets) || !Array.isArray(report.images) || report.images.length === 0) {
    throw new ArcinvertError(`${file} lists no targets or no images`);
  }
  const sources = report.targets.map((t, i) => {
    if (!t.source)
      throw new ConfigError(
        ['image', 'embedding'],
        (k) =>
          `target ${i} in ${file} has no source photo; leakage needs the photo each template came from (invert with ${k('image')}, or ${k('embedding')} with its .txt)`,
      );
    return path.isAbsolute(t.source) ? t.source : path.resolve(t.source);
  });
  const reconstructions = report.images.map((im) => {
    if (!(Number.isInteger(im.target) && im.target >= 0 && im.target < sources.length)) {
      throw new ArcinvertError(`${file}: image ${im.file} names target ${im.target}, which does not exist`);
    }
    return { file: path.join(dir, im.file), target: im.target, seed: im.seed };
  });
  return { sources, reconstructions };
}

/** All pairs (i < j) of photos of different identities. */
export function crossIdentityPairs(photos: readonly Photo[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < photos.length; i++) {
    for (let j = i + 1; j < photos.length; j++) if (photos[i].identity !== photos[j].identity) out.push([i, j]);
  }
  return out;
}

/** Per target, the other photos of its identity (type-II probes). */
export function sameIdentityOthers(gallery: Gallery): number[][] {
  return gallery.targets.map((t) => {
    const id = gallery.photos[t].identity;
    return gallery.photos.flatMap((p, i) => (i !== t && p.identity === id ? [i] : []));
  });
}

/** The mismatched pairs of an LFW-style pairs file, as photo paths beside the file. */
export async function impostorPairsFromFile(pairsFile: string): Promise<Array<[string, string]>> {
  const parsed = await readPairsFile(pairsFile, 'impostorPairs');
  const dir = path.dirname(pairsFile);
  return parsed.pairs.filter((p) => !p.same).map((p) => [lfwImagePath(dir, p.a), lfwImagePath(dir, p.b)]);
}

/** Why a photo could not be used, in one line. */
function reasonOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/**
 * Decodes the gallery's photos under the many-images policy: a photo that cannot be used is
 * skipped and listed through `log`, and the gallery is renumbered without it. A target's own
 * photo is the reference of every type-I comparison of that target, so an unusable one is an
 * error naming it.
 */
export async function readGalleryImages(
  gallery: Gallery,
  log: (line: string) => void,
): Promise<{ gallery: Gallery; images: RasterImage[] }> {
  const read = await Promise.all(
    gallery.photos.map((p) =>
      readRaster(p.file).then(
        (image) => ({ image, reason: '' }),
        (err: unknown) => ({ image: null, reason: reasonOf(err) }),
      ),
    ),
  );
  const targets = new Set(gallery.targets);
  const kept: number[] = [];
  read.forEach((r, i) => {
    if (r.image) kept.push(i);
    else if (targets.has(i)) throw new ArcinvertError(`cannot use target photo ${gallery.photos[i].file}: ${r.reason}`);
    else log(`skipped ${gallery.photos[i].file}: ${r.reason}`);
  });
  const renumbered = new Map(kept.map((old, k) => [old, k]));
  return {
    gallery: { photos: kept.map((i) => gallery.photos[i]), targets: gallery.targets.map((t) => renumbered.get(t)!) },
    images: kept.map((i) => read[i].image!),
  };
}

/**
 * Decodes the photos of given impostor pairs; a photo that cannot be used is skipped and listed,
 * and the pairs that use it are dropped.
 * @returns the distinct photos' images and each kept pair as indices into them.
 */
export async function readImpostorImages(
  pairs: ReadonlyArray<readonly [string, string]>,
  log: (line: string) => void,
): Promise<{ images: RasterImage[]; files: string[]; pairs: Array<[number, number]> }> {
  const files = [...new Set(pairs.flat())];
  const read = await Promise.all(
    files.map((f) =>
      readRaster(f).then(
        (image) => ({ image, reason: '' }),
        (err: unknown) => ({ image: null, reason: reasonOf(err) }),
      ),
    ),
  );
  const at = new Map<string, number>();
  const images: RasterImage[] = [];
  const readFiles: string[] = [];
  read.forEach((r, i) => {
    if (r.image) {
      at.set(files[i], images.length);
      images.push(r.image);
      readFiles.push(files[i]);
    } else log(`skipped ${files[i]}: ${r.reason} (its impostor pairs are left out)`);
  });
  const kept = pairs
    .filter(([a, b]) => at.has(a) && at.has(b))
    .map(([a, b]) => [at.get(a)!, at.get(b)!] as [number, number]);
  return { images, files: readFiles, pairs: kept };
}
