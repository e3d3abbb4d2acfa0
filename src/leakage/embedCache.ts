/**
 * A disk cache of the rows a judge (or the KID's feature network) computes for images, so that
 * leakage runs over the same photos — a sweep of inversion settings against one gallery and
 * one set of impostor photos — embed those photos once per system instead of once per run.
 *
 * A row is keyed twice: by the system (`key`: its weights' fingerprints, name, preprocessing
 * description and backend, built by the caller) and by the image's decoded pixels (SHA-256 of
 * its width, height, channels and bytes). Another photo, another model or another backend is
 * therefore a miss, never a stale hit; what the key cannot see is a change of arcinvert's own
 * judge code: clear the folder after one.
 *
 * One file per system: `DIR/<first 16 hex of SHA-256(key, dim)>.bin`, holding the magic `AIEC1\n`,
 * a uint32 (LE) header length, the header JSON `{key, dim}`, then records of a 32-byte pixel
 * hash and `dim` float32 (LE). A run with misses rewrites its file whole through
 * `writeFileAtomic`: concurrent runs can lose each other's new rows, never corrupt the file.
 * A file that does not parse, or whose header names another key, is ignored and replaced.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { RasterImage } from '../align/warp.js';
import { ArcinvertError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../io/atomic.js';
import type { Judge } from '../judge/types.js';
import type { FaceFeatures } from './kid.js';

const MAGIC = Buffer.from('AIEC1\n');
const HASH_BYTES = 32;

/** SHA-256 of an image's size, channel count and pixel bytes, as hex. */
export function pixelHash(image: RasterImage): string {
  const h = createHash('sha256');
  const size = Buffer.alloc(12);
  size.writeUInt32LE(image.width, 0);
  size.writeUInt32LE(image.height, 4);
  size.writeUInt32LE(image.channels, 8);
  h.update(size);
  h.update(image.data);
  return h.digest('hex');
}

/** The rows of one system, by pixel hash. */
interface Store {
  file: string;
  dim: number;
  rows: Map<string, Float32Array>;
}

export interface CacheStats {
  hits: number;
  misses: number;
}

export class EmbeddingCache {
  private readonly stores = new Map<string, Promise<Store>>();
  /** Rows served from the cache and computed, over this object's life. */
  readonly stats: CacheStats = { hits: 0, misses: 0 };

  constructor(readonly dir: string) {}

  /**
   * The cache at `dir`, created if need be and checked writable now, before any work whose
   * embeddings it would store.
   * @throws ArcinvertError when `dir` cannot be created or written.
   */
  static async open(dir: string): Promise<EmbeddingCache> {
    await ensureDir(dir);
    try {
      await fsp.access(dir, fsConstants.W_OK);
    } catch (err) {
      throw new ArcinvertError(
        `cannot write to the embedding cache ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    return new EmbeddingCache(dir);
  }

  /**
   * The rows of `images` under `key`: cached ones read back, the others computed by `compute`
   * (called once, on the misses only, in their order) and stored.
   *
   * @returns images.length × dim, row-major, in the order of `images`.
   */
  async rows(
    key: string,
    dim: number,
    images: readonly RasterImage[],
    compute: (misses: readonly RasterImage[]) => Promise<Float32Array>,
  ): Promise<Float32Array> {
    const store = await this.store(key, dim);
    const hashes = images.map(pixelHash);
    const missing: number[] = [];
    const seen = new Set<string>();
    hashes.forEach((h, i) => {
      if (!store.rows.has(h) && !seen.has(h)) {
        seen.add(h);
        missing.push(i);
      }
    });
    if (missing.length > 0) {
      const fresh = await compute(missing.map((i) => images[i]));
      if (fresh.length !== missing.length * dim)
        throw new Error(`embedding cache: computed ${fresh.length} values for ${missing.length} rows of ${dim}`);
      missing.forEach((i, k) => store.rows.set(hashes[i], fresh.slice(k * dim, (k + 1) * dim)));
      await save(store, key);
    }
    this.stats.misses += missing.length;
    this.stats.hits += images.length - missing.length;
    const out = new Float32Array(images.length * dim);
    hashes.forEach((h, i) => out.set(store.rows.get(h)!, i * dim));
    return out;
  }

  private store(key: string, dim: number): Promise<Store> {
    const id = `${key}\n${dim}`;
    let s = this.stores.get(id);
    if (!s) {
      const file = path.join(this.dir, `${createHash('sha256').update(id).digest('hex').slice(0, 16)}.bin`);
      s = load(file, key, dim);
      this.stores.set(id, s);
    }
    return s;
  }
}

/** Reads a store file; an absent, unreadable or foreign one gives an empty store. */
async function load(file: string, key: string, dim: number): Promise<Store> {
  const store: Store = { file, dim, rows: new Map() };
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch {
    return store;
  }
  if (bytes.length < MAGIC.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return store;
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + headerLength;
  if (start > bytes.length) return store;
  let header: { key?: unknown; dim?: unknown };
  try {
    header = JSON.parse(bytes.subarray(MAGIC.length + 4, start).toString('utf8')) as typeof header;
  } catch {
    return store;
  }
  const record = HASH_BYTES + 4 * dim;
  if (header.key !== key || header.dim !== dim || (bytes.length - start) % record !== 0) return store;
  for (let at = start; at < bytes.length; at += record) {
    const hash = bytes.subarray(at, at + HASH_BYTES).toString('hex');
    const row = new Float32Array(dim);
    for (let j = 0; j < dim; j++) row[j] = bytes.readFloatLE(at + HASH_BYTES + 4 * j);
    store.rows.set(hash, row);
  }
  return store;
}

async function save(store: Store, key: string): Promise<void> {
  const header = Buffer.from(JSON.stringify({ key, dim: store.dim }), 'utf8');
  const record = HASH_BYTES + 4 * store.dim;
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + store.rows.size * record);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(header.length, MAGIC.length);
  header.copy(out, MAGIC.length + 4);
  let at = MAGIC.length + 4 + header.length;
  for (const [hash, row] of store.rows) {
    Buffer.from(hash, 'hex').copy(out, at);
    for (let j = 0; j < store.dim; j++) out.writeFloatLE(row[j], at + HASH_BYTES + 4 * j);
    at += record;
  }
  await ensureDir(path.dirname(store.file));
  await writeFileAtomic(store.file, out);
}

/**
 * `judge` with its embeddings kept in `cache` under `key` (see the module comment for what the
 * key must name); its name, dimension and description are the judge's own.
 */
export function cachedJudge(cache: EmbeddingCache, judge: Judge, key: string): Judge {
  return {
    name: judge.name,
    dim: judge.dim,
    description: judge.description,
    embed: (crops) => cache.rows(key, judge.dim, crops, (misses) => judge.embed(misses)),
    dispose: () => judge.dispose(),
  };
}

/** `features` with its rows kept in `cache` under `key`. */
export function cachedFeatures(cache: EmbeddingCache, features: FaceFeatures, key: string): FaceFeatures {
  return {
    description: features.description,
    dim: features.dim,
    features: (images) => cache.rows(key, features.dim, images, (misses) => features.features(misses)),
    dispose: () => features.dispose(),
  };
}
