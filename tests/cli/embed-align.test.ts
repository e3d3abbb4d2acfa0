import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { saveFaceModel } from '../../src/model/store.js';
import { readNpy } from '../../src/io/npy.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';
import { cli } from '../helpers/cli.js';

const RAW = path.resolve(process.cwd(), '../shared/data/raw-samples');
const PHOTO = path.join(RAW, 'cacd_18_Ashley_Hinshaw_0006.jpg');

/** The test with a real photo is skipped, visibly and with the reason in its name, without the data. */
const withData = existsSync(PHOTO) ? test : test.skip;
const needsData = existsSync(PHOTO) ? '' : ` [skipped: ${RAW} is absent]`;

let tmp: string;
let modelDir: string;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-embed-align-'));
  modelDir = path.join(tmp, 'model');
  const fm = calibratedTinyMobileFaceNet(2);
  await saveFaceModel(fm, modelDir);
  fm.model.dispose();
});
afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

withData(
  `--align auto aligns an unaligned photo: its embedding differs from the raw resize (--align no)${needsData}`,
  async () => {
    const a = await cli(
      'embed',
      '--model',
      modelDir,
      '--images',
      PHOTO,
      '--out',
      path.join(tmp, 'a.npy'),
      '--backend',
      'wasm',
    );
    const b = await cli(
      'embed',
      '--model',
      modelDir,
      '--images',
      PHOTO,
      '--out',
      path.join(tmp, 'b.npy'),
      '--align',
      'no',
      '--backend',
      'wasm',
    );
    expect([a.code, b.code]).toEqual([0, 0]);
    const [ea, eb] = [await readNpy(path.join(tmp, 'a.npy')), await readNpy(path.join(tmp, 'b.npy'))];
    expect(ea.shape).toEqual([1, 16]);
    const cos = ea.data.reduce((s, v, i) => s + v * eb.data[i], 0);
    expect(cos).toBeLessThan(0.9999);
  },
  120_000,
);

test('a photo without a face is reported, and none left is a one-line error with nothing written', async () => {
  const blank = path.join(tmp, 'blank.png');
  await sharp({ create: { width: 200, height: 160, channels: 3, background: { r: 90, g: 90, b: 90 } } })
    .png()
    .toFile(blank);
  const out = path.join(tmp, 'none.npy');
  const r = await cli(
    'embed',
    '--model',
    modelDir,
    '--images',
    blank,
    '--out',
    out,
    '--align',
    'yes',
    '--backend',
    'wasm',
  );
  expect(r.code).toBe(2);
  expect(r.err.some((l) => l.startsWith('skipped ') && l.includes('blank.png'))).toBe(true);
  expect(r.err[r.err.length - 1]).toMatch(/^arcinvert: no face found in any of the 1 photo\(s\)$/);
  await expect(fsp.stat(out)).rejects.toThrow();
}, 120_000);
