/** `arcinvert align` through runCli: crops + align.json, skipped photos, and exit 2 when no photo has a face. */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { cli } from '../helpers/cli.js';

const RAW = path.resolve(process.cwd(), '../shared/data/raw-samples');
const withData = existsSync(RAW) ? it : it.skip;
if (!existsSync(RAW)) console.warn(`skipping align CLI test with faces: ${RAW} not found`);

let tmp: string;
let blank: string;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-align-'));
  await fsp.mkdir(path.join(tmp, 'in'));
  blank = path.join(tmp, 'in', 'blank.jpg');
  await sharp({ create: { width: 120, height: 100, channels: 3, background: { r: 30, g: 60, b: 90 } } })
    .jpeg()
    .toFile(blank);
});

afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

it('exits 2 with one line when no photo has a face', async () => {
  const r = await cli('align', blank, '--out', path.join(tmp, 'none'), '--backend', 'wasm');
  expect(r.code).toBe(2);
  expect(r.err).toContain(`skipped ${blank}: no face found`);
  expect(r.err[r.err.length - 1]).toBe('arcinvert: no face found in any of the 1 photo(s)');
  expect(existsSync(path.join(tmp, 'none'))).toBe(false);
});

it('rejects a bad flag value', async () => {
  const r = await cli('align', blank, '--out', path.join(tmp, 'x'), '--min-confidence', '2');
  expect(r.code).toBe(2);
  expect(r.err.join('\n')).toMatch(/--min-confidence must be a number in \[0, 1\]/);
});

withData(
  'writes the crop of each photo with a face and lists the skipped ones',
  async () => {
    const photo = path.join(tmp, 'in', 'face.jpg');
    await fsp.copyFile(path.join(RAW, 'lfw_Colin_Powell_0014.jpg'), photo);
    const out = path.join(tmp, 'out');
    const r = await cli('align', path.join(tmp, 'in'), '--out', out, '--backend', 'wasm');
    expect(r.code).toBe(0);
    expect(r.out).toEqual([`aligned 1 of 2 photo(s) into ${out} (1 skipped)`]);
    const meta = await sharp(path.join(out, 'face.png')).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([112, 112, 'png']);
    const manifest = JSON.parse(await fsp.readFile(path.join(out, 'align.json'), 'utf8'));
    expect(manifest.aligned.map((a: { file: string }) => a.file)).toEqual(['face.png']);
    expect(manifest.skipped).toEqual([{ source: blank, reason: 'no face found' }]);
    expect(manifest.aligned[0].points5).toHaveLength(5);
  },
  60000,
);
