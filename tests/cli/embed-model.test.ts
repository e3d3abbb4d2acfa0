/** `embed` with a broken model directory: one line naming it, exit 2, nothing written (#18 items 3 and 9). */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { tinyMobileFaceNet } from '../helpers/tiny.js';
import { cli, type Captured } from '../helpers/cli.js';

const errorLines = (c: Captured): string[] =>
  c.err.flatMap((l) => l.split('\n')).filter((l) => !l.startsWith('backend: ') && !l.startsWith('embedded '));

let tmp: string;
let face: string;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-em-'));
  face = path.join(tmp, 'face.png');
  await sharp(Buffer.alloc(32 * 32 * 3, 90), { raw: { width: 32, height: 32, channels: 3 } })
    .png()
    .toFile(face);
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

/** A tiny saved model in `tmp/name`, then `edit`ed. */
async function model(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(tmp, name);
  const fm = tinyMobileFaceNet(2);
  await saveFaceModel(fm, dir);
  fm.model.dispose();
  await edit(dir);
  return dir;
}

test('a model whose weights are all 0xFF (NaN) is exit 2 naming it, and no .npy is written', async () => {
  const dir = await model('nan', async (d) => {
    const shard = (await fsp.readdir(d)).find((f) => f.endsWith('.bin')) as string;
    const size = (await fsp.stat(path.join(d, shard))).size;
    await fsp.writeFile(path.join(d, shard), Buffer.alloc(size, 0xff));
  });
  const out = path.join(tmp, 'out-nan', 'emb.npy');
  const r = await cli('embed', '--model', dir, '--images', face, '--out', out, '--backend', 'wasm');
  expect(r.code).toBe(2);
  const lines = errorLines(r);
  expect(lines.length).toBe(1);
  expect(
    lines[0].startsWith(`arcinvert: ${dir}: the model is broken: its embedding of a probe image is not finite`),
  ).toBe(true);
  await expect(fsp.stat(path.dirname(out))).rejects.toThrow();
});

test.each([
  ['inputSize', [64, 64], /model metadata inputSize \[64,64\] does not match the topology's input 32×32×3$/],
  ['embeddingSize', 128, /model metadata embeddingSize 128 does not match the topology's output 16$/],
])('metadata %s that disagrees with the topology is exit 2 naming both values', async (key, value, message) => {
  const dir = await model(`meta-${key}`, async (d) => {
    const json = JSON.parse(await fsp.readFile(path.join(d, 'model.json'), 'utf8'));
    json.userDefinedMetadata.arcinvert[key] = value;
    await fsp.writeFile(path.join(d, 'model.json'), JSON.stringify(json));
  });
  const out = path.join(tmp, `out-${key}`, 'emb.npy');
  const r = await cli('embed', '--model', dir, '--images', face, '--out', out, '--backend', 'wasm');
  expect(r.code).toBe(2);
  const lines = errorLines(r);
  expect(lines.length).toBe(1);
  expect(lines[0].startsWith(`arcinvert: ${dir}: `)).toBe(true);
  expect(lines[0]).toMatch(message);
  await expect(fsp.stat(path.dirname(out))).rejects.toThrow();
});
