import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readNpy, writeNpy } from '../../src/io/npy.js';
import { cli } from '../helpers/cli.js';

let tmp: string;
let emb: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-protect-'));
  emb = path.join(tmp, 'emb.npy');
  const x = Float32Array.from({ length: 3 * 8 }, (_, k) => Math.sin(k + 1));
  await writeNpy(emb, x, [3, 8]);
  await fsp.writeFile(path.join(tmp, 'emb.jsonl'), ['"a.png"', '"b.png"', '"c.png"'].join('\n') + '\n');
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

test('protect writes the templates, the listing and the key; --key reproduces them', async () => {
  const out = path.join(tmp, 'p.npy');
  const r = await cli('protect', '--scheme', 'biohash', '--seed', '7', '--opt', 'bits=4', '--in', emb, '--out', out);
  expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
  expect(r.code).toBe(0);
  expect(r.out[0]).toBe(
    `wrote ${out} (3×4, biohash {"bits":4}, compared by hamming) and its key ${path.join(tmp, 'p.key.json')}`,
  );
  const p = await readNpy(out);
  expect(p.shape).toEqual([3, 4]);
  expect(new Set(p.data).size).toBeLessThanOrEqual(2);
  const key = JSON.parse(await fsp.readFile(path.join(tmp, 'p.key.json'), 'utf8'));
  expect(key).toMatchObject({
    format: 'arcinvert-protection-key/1',
    scheme: 'biohash',
    dim: 8,
    seed: 7,
    options: { bits: 4 },
  });
  const listing = (await fsp.readFile(path.join(tmp, 'p.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(listing).toEqual(['a.png', 'b.png', 'c.png']);

  const again = path.join(tmp, 'again.npy');
  const r2 = await cli('protect', '--key', path.join(tmp, 'p.key.json'), '--in', emb, '--out', again);
  expect(r2.code).toBe(0);
  expect((await readNpy(again)).data).toEqual(p.data);
  await expect(fsp.access(path.join(tmp, 'again.key.json'))).rejects.toThrow();
});

test.each([
  [['--scheme', 'biohash', '--in', 'E', '--out', 'O.npy'], '--scheme and --seed are needed to make a key'],
  [['--in', 'E', '--out', 'O.npy'], 'give either --key FILE, or --scheme NAME with --seed N'],
  [
    ['--scheme', 'project', '--seed', '1', '--opt', 'dim=9', '--in', 'E', '--out', 'O.npy'],
    'project: dim must be an integer in [1, 8], got 9',
  ],
  [
    ['--scheme', 'noise', '--seed', '1', '--opt', 'sigma', '--in', 'E', '--out', 'O.npy'],
    "--opt must be key=value, got 'sigma'",
  ],
  [['--scheme', 'noise', '--seed', '1', '--in', 'E', '--out', 'O.bin'], '--out must name a .npy file'],
  [['--key', 'missing.json', '--in', 'E', '--out', 'O.npy'], 'cannot read the protection key missing.json'],
])('bad input %j: one line, exit 2, nothing written', async (args, message) => {
  const out = path.join(tmp, 'bad.npy');
  const r = await cli('protect', ...args.map((a) => (a === 'E' ? emb : a === 'O.npy' ? out : a)));
  expect(r.code).toBe(2);
  const errs = r.err.filter((l) => l.startsWith('arcinvert:'));
  expect(errs).toHaveLength(1);
  expect(errs[0]).toContain(message);
  await expect(fsp.access(out)).rejects.toThrow();
});
