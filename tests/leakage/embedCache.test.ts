import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RasterImage } from '../../src/align/warp.js';
import { cachedJudge, EmbeddingCache, pixelHash } from '../../src/leakage/embedCache.js';
import type { Judge } from '../../src/judge/types.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-embed-cache-'));
});
afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

/** A 2×2 RGB image whose bytes all hold `v`. */
const image = (v: number): RasterImage => ({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(v) });

/** A counting "system" of dimension 3: the row of an image is [v, v / 2, −v] for its first byte v. */
function counter(): { compute: (imgs: readonly RasterImage[]) => Promise<Float32Array>; seen: number[] } {
  const seen: number[] = [];
  return {
    seen,
    compute: async (imgs) => {
      seen.push(...imgs.map((m) => m.data[0]));
      return Float32Array.from(imgs.flatMap((m) => [m.data[0], m.data[0] / 2, -m.data[0]]));
    },
  };
}

test('pixelHash: the SHA-256 of the size, the channel count and the bytes', () => {
  const a = image(1);
  expect(pixelHash(a)).toMatch(/^[0-9a-f]{64}$/);
  expect(pixelHash(image(1))).toBe(pixelHash(a));
  expect(pixelHash(image(2))).not.toBe(pixelHash(a));
  // The same 12 bytes as a 4×1 image are another image.
  expect(pixelHash({ ...a, width: 4, height: 1 })).not.toBe(pixelHash(a));
});

test('rows are computed once, in order, and read back by a later cache bit for bit', async () => {
  const c1 = counter();
  const first = new EmbeddingCache(dir);
  const rows = await first.rows('sys', 3, [image(5), image(7), image(5)], c1.compute);
  expect(Array.from(rows)).toEqual([5, 2.5, -5, 7, 3.5, -7, 5, 2.5, -5]);
  expect(c1.seen).toEqual([5, 7]); // the repeated image once
  expect(first.stats).toEqual({ hits: 1, misses: 2 });
  // A second call: only the new image is computed.
  expect(Array.from(await first.rows('sys', 3, [image(7), image(9)], c1.compute))).toEqual([7, 3.5, -7, 9, 4.5, -9]);
  expect(c1.seen).toEqual([5, 7, 9]);

  const c2 = counter();
  const later = new EmbeddingCache(dir);
  const again = await later.rows('sys', 3, [image(9), image(5), image(7)], c2.compute);
  expect(Array.from(again)).toEqual([9, 4.5, -9, 5, 2.5, -5, 7, 3.5, -7]);
  expect(c2.seen).toEqual([]);
  expect(later.stats).toEqual({ hits: 3, misses: 0 });
  expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
});

test('another key is another system: its own file, nothing shared', async () => {
  const c = counter();
  const cache = new EmbeddingCache(dir);
  await cache.rows('model A|wasm', 3, [image(1)], c.compute);
  await cache.rows('model A|cpu', 3, [image(1)], c.compute);
  expect(c.seen).toEqual([1, 1]);
  expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.bin'))).toHaveLength(2);
});

test('a damaged or foreign file is ignored and replaced', async () => {
  const cache = new EmbeddingCache(dir);
  await cache.rows('sys', 3, [image(3)], counter().compute);
  const [file] = await fsp.readdir(dir);
  const bytes = await fsp.readFile(path.join(dir, file));
  for (const damaged of [bytes.subarray(0, bytes.length - 5), Buffer.from('not a cache'), Buffer.alloc(0)]) {
    await fsp.writeFile(path.join(dir, file), damaged);
    const c = counter();
    const fresh = new EmbeddingCache(dir);
    expect(Array.from(await fresh.rows('sys', 3, [image(3)], c.compute))).toEqual([3, 1.5, -3]);
    expect(c.seen).toEqual([3]);
  }
  // The same file under another header key is foreign too.
  const text = (await fsp.readFile(path.join(dir, file))).toString('latin1').replace('"key":"sys"', '"key":"sYs"');
  await fsp.writeFile(path.join(dir, file), Buffer.from(text, 'latin1'));
  const c = counter();
  await new EmbeddingCache(dir).rows('sys', 3, [image(3)], c.compute);
  expect(c.seen).toEqual([3]);
});

test('cachedJudge keeps the name, dimension and description, and embeds misses only', async () => {
  const c = counter();
  let disposed = 0;
  const judge: Judge = { name: 'j', dim: 3, description: 'three', embed: c.compute, dispose: () => disposed++ };
  const cache = new EmbeddingCache(dir);
  const cj = cachedJudge(cache, judge, 'k');
  expect([cj.name, cj.dim, cj.description]).toEqual(['j', 3, 'three']);
  await cj.embed([image(4), image(6)]);
  expect(Array.from(await cj.embed([image(6), image(8)]))).toEqual([6, 3, -6, 8, 4, -8]);
  expect(c.seen).toEqual([4, 6, 8]);
  cj.dispose();
  expect(disposed).toBe(1);
});
