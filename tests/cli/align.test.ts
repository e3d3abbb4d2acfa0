/** `arcinvert align` through runCli: crops + align.json, skipped photos, and exit 2 when no photo has a face. */
import { execFile } from 'node:child_process';
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

// #18 item 2: one policy for many images. A photo of 24 px crashed the low-light retry
// (`hist_local: window too large`, exit 1) and aborted the batch; a corrupt one was skipped.
describe('photos that cannot be used are skipped and listed with the reason', () => {
  let tiny: string;
  let corrupt: string;
  beforeAll(async () => {
    await fsp.mkdir(path.join(tmp, 'bad'));
    tiny = path.join(tmp, 'bad', 'tiny.png');
    await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: 80, g: 80, b: 80 } } })
      .png()
      .toFile(tiny);
    corrupt = path.join(tmp, 'bad', 'corrupt.jpg');
    await fsp.writeFile(corrupt, (await fsp.readFile(blank)).subarray(0, 200));
  });

  it('none usable: each is listed, then exit 2 with one line', async () => {
    const out = path.join(tmp, 'bad-out');
    const r = await cli('align', tiny, corrupt, blank, '--out', out, '--backend', 'wasm');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`skipped ${tiny}: too small to align (24×24 px; at least 32 px a side)`);
    expect(r.err).toContainEqual(expect.stringMatching(new RegExp(`^skipped ${corrupt}: cannot decode image `)));
    expect(r.err).toContain(`skipped ${blank}: no face found`);
    expect(r.err[r.err.length - 1]).toBe(
      `arcinvert: none of the 3 image(s) could be used: too small to align (24×24 px; at least 32 px a side) (and 2 more skipped)`,
    );
    expect(existsSync(out)).toBe(false);
  });

  withData(
    'the photo with a face is still aligned',
    async () => {
      const face = path.join(RAW, 'lfw_Colin_Powell_0014.jpg');
      const out = path.join(tmp, 'mixed-out');
      const r = await cli('align', tiny, face, corrupt, '--out', out, '--backend', 'wasm');
      expect(r.code).toBe(0);
      expect(r.out).toEqual([`aligned 1 of 3 photo(s) into ${out} (2 skipped)`]);
      const manifest = JSON.parse(await fsp.readFile(path.join(out, 'align.json'), 'utf8'));
      expect(manifest.skipped.map((s: { source: string }) => s.source)).toEqual([tiny, corrupt]);
    },
    60000,
  );
});

// #18 item 4: a 12000×12000 PNG took 260 s and 7.7 GB before failing. Photos are now shrunk
// while decoding (long side ≤ MAX_ALIGN_SIDE), so a large photo costs little memory.
const timeBin = '/usr/bin/time';
const withTime = existsSync(timeBin) ? it : it.skip;
withTime(
  `a 8000×8000 photo is aligned in bounded memory (peak RSS < 1 GB)${existsSync(timeBin) ? '' : ` [skipped: no ${timeBin}]`}`,
  async () => {
    const big = path.join(tmp, 'big.png');
    await sharp({ create: { width: 8000, height: 8000, channels: 3, background: { r: 120, g: 100, b: 90 } } })
      .png({ compressionLevel: 1 })
      .toFile(big);
    const bin = path.resolve('bin/arcinvert.js');
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        timeBin,
        ['-v', process.execPath, bin, 'align', big, '--out', path.join(tmp, 'big-out'), '--backend', 'wasm'],
        { maxBuffer: 1 << 22 },
        (err, _out, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(stderr).toContain(`skipped ${big}: no face found`);
    expect(code).toBe(2);
    const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
    expect(rssKb).toBeLessThan(1024 * 1024);
  },
  120000,
);
