/**
 * `arcinvert bridge fit` / `bridge apply` end to end on two tiny models and a generated face
 * folder: the record, the held-out agreement, the mapped templates with their listing, and the
 * bad inputs (one line, exit 2, nothing written).
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadBridge } from '../../src/bridge/store.js';
import { readNpy } from '../../src/io/npy.js';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { cli, type Captured } from '../helpers/cli.js';
import { calibratedTinyMobileFaceNet, tinyIResNet } from '../helpers/tiny.js';
import { makeFaceFolder } from '../train/faces.js';

const errorLines = (c: Captured): string[] => c.err.filter((l) => l.startsWith('arcinvert:'));

let tmp: string;
let faces: string;
let a: string;
let b: string;
beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-bridge-'));
  faces = await makeFaceFolder(10, 6, 32);
  a = path.join(tmp, 'a');
  b = path.join(tmp, 'b');
  const [fa, fb] = [calibratedTinyMobileFaceNet(5), tinyIResNet(6)];
  await saveFaceModel(fa, a);
  await saveFaceModel(fb, b);
  fa.model.dispose();
  fb.model.dispose();
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.rm(faces, { recursive: true, force: true });
});

test('fit writes the bridge and its held-out agreement; apply maps templates and keeps their listing', async () => {
  const out = path.join(tmp, 'bridge');
  const r = await cli(
    'bridge',
    'fit',
    '--from',
    a,
    '--to',
    b,
    '--images',
    faces,
    '--n',
    '50',
    '--val-fraction',
    '0.3',
    '--out',
    out,
  );
  expect(errorLines(r)).toEqual([]);
  expect(r.code).toBe(0);
  expect((await fsp.readdir(out)).sort()).toEqual(['bridge.bin', 'bridge.json']);
  const { record, bridge } = await loadBridge(out);
  expect([record.from.dim, record.to.dim, bridge.weights.length]).toEqual([16, 8, 17 * 8]);
  expect(record.from.family).toBe('a');
  expect(record.to.fingerprints[0]).toMatch(/^weights:weights-/);
  expect(record.images).toBe(50);
  expect(record.heldOut.identities).toBe(3);
  expect(record.heldOut.pairs).toBe(record.tried[0].heldOut.pairs);
  expect(record.heldOut.pairs).toBeGreaterThan(0);
  expect(record.tried.map((t) => t.ridge)).toEqual([1e-3, 1e-2, 1e-1, 1]);
  expect(record.heldOut.mean).toBe(Math.max(...record.tried.map((t) => t.heldOut.mean)));
  expect(r.out[0]).toMatch(/: a \(16-d\) → b \(8-d\), ridge .*; held-out cosine .* mean -?\d\.\d{3}, median/);

  // Templates of A (with embed's listing) → B's space, the listing rewritten beside the output.
  const imgs = [path.join(faces, 'id00', '0.png'), path.join(faces, 'id01', '0.png')];
  const emb = path.join(tmp, 'a.npy');
  expect((await cli('embed', '--model', a, '--images', ...imgs, '--out', emb, '--align', 'no')).code).toBe(0);
  const mapped = path.join(tmp, 'out', 'b.npy');
  await fsp.mkdir(path.dirname(mapped));
  const ap = await cli('bridge', 'apply', '--bridge', out, '--embedding', emb, '--out', mapped);
  expect(errorLines(ap)).toEqual([]);
  const m = await readNpy(mapped);
  expect(m.shape).toEqual([2, 8]);
  for (let i = 0; i < 2; i++) expect(Math.hypot(...m.data.subarray(i * 8, i * 8 + 8))).toBeCloseTo(1, 5);
  const listing = (await fsp.readFile(path.join(tmp, 'out', 'b.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as string);
  expect(listing.map((l) => path.resolve(path.join(tmp, 'out'), l))).toEqual(imgs);

  // Without a listing for the input, an old listing beside --out is removed, not left to pair other photos.
  const bare = path.join(tmp, 'bare.npy');
  await fsp.copyFile(emb, bare);
  await fsp.writeFile(path.join(tmp, 'out', 'b.txt'), 'stale1\nstale2\n');
  expect((await cli('bridge', 'apply', '--bridge', out, '--embedding', bare, '--out', mapped)).code).toBe(0);
  expect(existsSync(path.join(tmp, 'out', 'b.jsonl'))).toBe(false);
  expect(existsSync(path.join(tmp, 'out', 'b.txt'))).toBe(false);

  // Bad inputs.
  const wrongDim = await cli(
    'bridge',
    'apply',
    '--bridge',
    out,
    '--embedding',
    mapped,
    '--out',
    path.join(tmp, 'x.npy'),
  );
  expect([wrongDim.code, errorLines(wrongDim)]).toEqual([
    2,
    [`arcinvert: ${mapped} holds 8-d rows; the bridge maps a's 16-d embeddings`],
  ]);
  const notNpy = await cli('bridge', 'apply', '--bridge', out, '--embedding', emb, '--out', path.join(tmp, 'x.txt'));
  expect(errorLines(notNpy)).toEqual([`arcinvert: --out must name a .npy file, got ${path.join(tmp, 'x.txt')}`]);
  const broken = path.join(tmp, 'broken');
  await fsp.cp(out, broken, { recursive: true });
  await fsp.truncate(path.join(broken, 'bridge.bin'), 100);
  const trunc = await cli('bridge', 'apply', '--bridge', broken, '--embedding', emb, '--out', path.join(tmp, 'x.npy'));
  expect(errorLines(trunc)).toEqual([
    `arcinvert: ${path.join(broken, 'bridge.bin')} is 100 bytes, a 16 → 8 bridge needs 544 (truncated or corrupt)`,
  ]);
  const badRecord = path.join(tmp, 'bad-record');
  await fsp.cp(out, badRecord, { recursive: true });
  const rec = JSON.parse(await fsp.readFile(path.join(badRecord, 'bridge.json'), 'utf8')) as Record<string, unknown>;
  delete rec.heldOut;
  await fsp.writeFile(path.join(badRecord, 'bridge.json'), JSON.stringify(rec));
  const noHeld = await cli(
    'bridge',
    'apply',
    '--bridge',
    badRecord,
    '--embedding',
    emb,
    '--out',
    path.join(tmp, 'x.npy'),
  );
  expect([noHeld.code, errorLines(noHeld)]).toEqual([
    2,
    [
      `arcinvert: ${path.join(badRecord, 'bridge.json')} is not an arcinvert bridge record (format arcinvert-bridge/1 with from, to, ridge, heldOut)`,
    ],
  ]);
  expect(existsSync(path.join(tmp, 'x.npy'))).toBe(false);
  const again = await cli('bridge', 'fit', '--from', a, '--to', b, '--images', faces, '--out', out);
  expect([again.code, errorLines(again)]).toEqual([
    2,
    [`arcinvert: --out ${out} exists and is not empty (use --overwrite to replace it)`],
  ]);
}, 60000);

test('a missing model or image folder: one line, exit 2, no output', async () => {
  const out = path.join(tmp, 'none');
  const r = await cli('bridge', 'fit', '--from', path.join(tmp, 'nope'), '--to', b, '--images', faces, '--out', out);
  expect(r.code).toBe(2);
  expect(errorLines(r)).toEqual([`arcinvert: model directory ${path.join(tmp, 'nope')} does not exist`]);
  const r2 = await cli('bridge', 'fit', '--from', a, '--to', b, '--images', path.join(tmp, 'nofaces'), '--out', out);
  expect(r2.code).toBe(2);
  expect(errorLines(r2)).toHaveLength(1);
  expect(existsSync(out)).toBe(false);
  const r3 = await cli('bridge', 'fit', '--from', a, '--to', b, '--images', faces, '--val-fraction', '1', '--out', out);
  expect(errorLines(r3)).toEqual(["arcinvert: --val-fraction must be in (0, 1), got '1'"]);
});
