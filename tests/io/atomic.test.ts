/** Tests for src/io/atomic.ts: atomic replace, cleanup on failure, one-line errors. */

import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ArcinvertError } from '../../src/errors.js';
import { ensureDir, INPUT_LIMITS, readFileChecked, readTextChecked, writeFileAtomic } from '../../src/io/atomic.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-atomic-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  test('writes strings and bytes and leaves no temp file', async () => {
    const a = path.join(tmp, 'a.txt');
    const b = path.join(tmp, 'b.bin');
    await writeFileAtomic(a, 'héllo');
    await writeFileAtomic(b, new Uint8Array([0, 1, 254, 255]));
    expect(await fsp.readFile(a, 'utf8')).toBe('héllo');
    expect([...(await fsp.readFile(b))]).toEqual([0, 1, 254, 255]);
    expect((await fsp.readdir(tmp)).sort()).toEqual(['a.txt', 'b.bin']);
  });

  test('replaces an existing file completely', async () => {
    const f = path.join(tmp, 'out.txt');
    await fsp.writeFile(f, 'a much longer old content');
    await writeFileAtomic(f, 'new');
    expect(await fsp.readFile(f, 'utf8')).toBe('new');
    expect(await fsp.readdir(tmp)).toEqual(['out.txt']);
  });

  test('a failure while writing keeps the old file and removes the temp file', async () => {
    const f = path.join(tmp, 'keep.txt');
    await fsp.writeFile(f, 'original');
    // A number is not writable: the write step throws after the temp file was created.
    await expect(writeFileAtomic(f, 42 as unknown as string)).rejects.toThrow();
    expect(await fsp.readFile(f, 'utf8')).toBe('original');
    expect(await fsp.readdir(tmp)).toEqual(['keep.txt']);
  });

  test('a failing rename (destination is a non-empty directory) leaves everything as it was', async () => {
    const d = path.join(tmp, 'taken');
    await fsp.mkdir(d);
    await fsp.writeFile(path.join(d, 'inner.txt'), 'x');
    const err = await writeFileAtomic(d, 'data').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArcinvertError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot write ${d}: `));
    expect((err as Error).message).not.toContain('\n');
    expect(await fsp.readdir(tmp)).toEqual(['taken']);
    expect(await fsp.readFile(path.join(d, 'inner.txt'), 'utf8')).toBe('x');
  });

  test('a missing parent directory is a one-line error naming the file', async () => {
    const f = path.join(tmp, 'nope', 'x.png');
    await expect(writeFileAtomic(f, 'x')).rejects.toThrow(`cannot write ${f}: no such file or directory`);
  });

  test('concurrent writers each produce a whole file', async () => {
    const f = path.join(tmp, 'race.txt');
    const payloads = Array.from({ length: 8 }, (_, k) => String(k).repeat(10000 + k));
    await Promise.all(payloads.map((p) => writeFileAtomic(f, p)));
    expect(payloads).toContain(await fsp.readFile(f, 'utf8'));
    expect(await fsp.readdir(tmp)).toEqual(['race.txt']);
  });
});

describe('ensureDir', () => {
  test('creates nested directories and is idempotent', async () => {
    const d = path.join(tmp, 'a', 'b', 'c');
    await ensureDir(d);
    await ensureDir(d);
    expect((await fsp.stat(d)).isDirectory()).toBe(true);
  });

  test('a file in the way is a one-line ArcinvertError', async () => {
    const f = path.join(tmp, 'file');
    await fsp.writeFile(f, '');
    await expect(ensureDir(path.join(f, 'sub'))).rejects.toThrow(ArcinvertError);
    await expect(ensureDir(f)).rejects.toThrow(`cannot create directory ${f}: a file is in the way`);
  });
});

describe('readFileChecked', () => {
  test('reads bytes and names a missing file', async () => {
    const f = path.join(tmp, 'r.bin');
    await fsp.writeFile(f, Buffer.from([7, 8]));
    expect([...(await readFileChecked(f))]).toEqual([7, 8]);
    const missing = path.join(tmp, 'missing.npy');
    await expect(readFileChecked(missing, '.npy file')).rejects.toThrow(
      `cannot read .npy file ${missing}: no such file or directory`,
    );
    await expect(readFileChecked(tmp)).rejects.toThrow(`cannot read file ${tmp}: it is a directory`);
  });
});

describe('input files are checked before they are read (#18 item 8)', () => {
  test('a character device (/dev/zero) is refused at once, not read forever', async () => {
    await expect(readFileChecked('/dev/zero', 'embedding file', 'npy')).rejects.toThrow(
      new ArcinvertError('cannot read embedding file /dev/zero: it is a character device, not a regular file'),
    );
  });

  test('a named pipe is refused without opening it (opening would block)', async () => {
    const fifo = path.join(tmp, 'pipe.txt');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [fifo]);
    await expect(readTextChecked(fifo, 'listing')).rejects.toThrow(
      `cannot read listing ${fifo}: it is a named pipe, not a regular file`,
    );
  });

  test('a file over the bound for its kind is refused before it is read', async () => {
    const big = path.join(tmp, 'big.json');
    const handle = await fsp.open(big, 'w');
    await handle.truncate(INPUT_LIMITS.json + 1); // sparse: no disk used
    await handle.close();
    await expect(readTextChecked(big, '--config', 'json')).rejects.toThrow(
      new ArcinvertError(
        `cannot read --config ${big}: it is ${INPUT_LIMITS.json + 1} bytes, over the 64 MiB limit for json files`,
      ),
    );
  });

  test('a directory is named as such', async () => {
    await expect(readFileChecked(tmp, 'model file')).rejects.toThrow(
      `cannot read model file ${tmp}: it is a directory`,
    );
  });
});
