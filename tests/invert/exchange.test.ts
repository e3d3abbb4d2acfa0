/**
 * The exchange between the parts of a split batch (src/invert/exchange.ts): rounds between real
 * worker threads (the compiled module in dist/, as the inversion workers use it), the wait limit,
 * and how a batch is cut.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { exchangeBuffer, PartExchange, partOf, partSizes } from '../../src/invert/exchange.js';

const DIST = fileURLToPath(new URL('../../dist/invert/exchange.js', import.meta.url));

/** A thread that runs `rounds` rounds as part `part`, publishing [part, round, …] and returning what it gathered. */
function part(
  buffer: SharedArrayBuffer,
  p: number,
  parts: number,
  length: number,
  rounds: number,
): Promise<number[][]> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.dist).then(({ PartExchange }) => {
      const { buffer, p, parts, length, rounds } = workerData;
      const ex = new PartExchange(buffer, p, parts, length);
      const seen = [];
      for (let r = 0; r < rounds; r++) {
        // Uneven pace: part p sleeps p ms in odd rounds, so parts arrive in different orders.
        if (r % 2) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, p);
        const row = new Float32Array(length).map((_, k) => 100 * p + 10 * r + k);
        seen.push(Array.from(ex.allGather(row)));
      }
      parentPort.postMessage(seen);
    });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { dist: DIST, buffer, p, parts, length, rounds } });
    w.once('message', (m: number[][]) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

test('three threads, twelve rounds: every part gets every row of its round, in part order', async () => {
  const [parts, length, rounds] = [3, 4, 12];
  const buffer = exchangeBuffer(parts, length);
  const got = await Promise.all([0, 1, 2].map((p) => part(buffer, p, parts, length, rounds)));
  for (let r = 0; r < rounds; r++) {
    const want = [0, 1, 2].flatMap((p) => [0, 1, 2, 3].map((k) => 100 * p + 10 * r + k));
    for (const seen of got) expect(seen[r]).toEqual(want);
  }
});

test('a part alone waits the limit, then fails with a one-line message', () => {
  const ex = new PartExchange(exchangeBuffer(2, 1), 0, 2, 1, 50);
  expect(() => ex.allGather(new Float32Array(1))).toThrow(/^part 1 of 2 of a batch waited 0 s for the other parts$/);
});

test('rows and buffers of the wrong size are refused', () => {
  expect(() => new PartExchange(exchangeBuffer(2, 3), 0, 2, 4)).toThrow(/does not hold 2 × 4 floats/);
  const ex = new PartExchange(exchangeBuffer(1, 3), 0, 1, 3);
  expect(() => ex.allGather(new Float32Array(2))).toThrow('exchange row of 2 floats, expected 3');
  expect(Array.from(ex.allGather(Float32Array.of(1, 2, 3)))).toEqual([1, 2, 3]); // one part: its own row
});

test('partSizes: as equal as can be, larger parts first', () => {
  expect(partSizes(8, 2)).toEqual([4, 4]);
  expect(partSizes(8, 3)).toEqual([3, 3, 2]);
  expect(partSizes(5, 4)).toEqual([2, 1, 1, 1]);
  expect(partSizes(2, 2)).toEqual([1, 1]);
  const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  expect([0, 1, 2].map((k) => partOf(items, 3, k).join(''))).toEqual(['abc', 'def', 'gh']);
});
