/**
 * io/staging.ts: what `stageOutput` refuses before any work (an `--out` that cannot be staged
 * and renamed, `--overwrite` of a directory holding an input), symlinked outputs, stale
 * staging directories of dead runs, and an old output that cannot be deleted.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArcinvertError, ConfigError } from '../../src/errors.js';
import { MAX_OUT_NAME_BYTES, stageOutput } from '../../src/io/staging.js';
import { flagFor } from '../../src/cli/flags.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-staging-'));
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

let dirCount = 0;
async function freshParent(): Promise<string> {
  const p = path.join(tmp, `case${dirCount++}`);
  await fsp.mkdir(p);
  return p;
}

/** The refusal `stageOutput(out, …)` throws, as the CLI words it (flags, not keys). */
async function refusal(out: string, overwrite = false, inputs?: Array<{ key: string; path: string }>): Promise<string> {
  const err = await stageOutput(out, overwrite, { inputs }).then(
    async (s) => {
      await s.abandon();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArcinvertError);
  expect((err as ArcinvertError).exitCode).toBe(2);
  return err instanceof ConfigError ? err.render(flagFor) : (err as Error).message;
}

describe('an --out that cannot be staged and renamed is refused before anything is written', () => {
  const cwd = process.cwd();
  // Two levels up, unless that is the file-system root (which has its own message, tested below).
  const ancestor = [path.dirname(path.dirname(cwd)), path.dirname(cwd)].find((p) => p !== path.parse(p).root) ?? cwd;
  test.each([
    ['.', '.'],
    ['the working directory', cwd],
    ['its parent', '..'],
    ['an ancestor of it', ancestor],
  ])('%s', async (_name, out) => {
    const parentBefore = await fsp.readdir(path.dirname(path.resolve(out)));
    const message = await refusal(out, true);
    expect(message).toBe(
      `--out ${out} cannot be used: it is the working directory or contains it, which cannot be replaced (choose a new directory, e.g. ${path.join(out, 'run')})`,
    );
    expect(await fsp.readdir(path.dirname(path.resolve(out)))).toEqual(parentBefore);
  });

  test('the root of the file system', async () => {
    expect(await refusal('/', true)).toBe(
      '--out / cannot be used: it is the root of the file system (choose a new directory)',
    );
  });

  test('a name too long for the staging suffix (241–255 bytes failed with ENAMETOOLONG after the work)', async () => {
    const parent = await freshParent();
    for (const n of [MAX_OUT_NAME_BYTES + 1, 241, 255]) {
      const out = path.join(parent, 'x'.repeat(n));
      expect(await refusal(out)).toBe(
        `--out ${out} cannot be used: its name is ${n} bytes long; at most ${MAX_OUT_NAME_BYTES} leave room for the staging directory beside it (.NAME.partial-PID@HOST)`,
      );
    }
    expect(await fsp.readdir(parent)).toEqual([]);
    // The longest accepted name stages and commits, also over an existing output.
    const out = path.join(parent, 'y'.repeat(MAX_OUT_NAME_BYTES));
    for (const overwrite of [false, true]) {
      const s = await stageOutput(out, overwrite);
      await fsp.writeFile(path.join(s.staging, 'a.txt'), 'a');
      await s.commit();
    }
    expect(await fsp.readdir(parent)).toEqual([path.basename(out)]);
  });

  const mountPoint = ['/proc', '/dev', '/sys'].find((p) => {
    try {
      return statSync(p).dev !== statSync('/').dev;
    } catch {
      return false;
    }
  });
  (mountPoint ? test : test.skip)(`a mount point (${mountPoint})`, async () => {
    const before = await fsp.readdir('/');
    expect(await refusal(mountPoint!, true)).toBe(
      `--out ${mountPoint} cannot be used: it is a mount point, which cannot be replaced (choose a new directory inside it)`,
    );
    expect(await fsp.readdir('/')).toEqual(before);
  });
});

describe('--overwrite of an --out that holds one of the inputs is refused; the input is kept', () => {
  test.each([
    ['a file directly inside', (out: string) => path.join(out, 'vec.npy')],
    ['a file deeper inside', (out: string) => path.join(out, 'sub', 'vec.npy')],
    ['the directory itself', (out: string) => out],
  ])('%s', async (_name, inputOf) => {
    const parent = await freshParent();
    const out = path.join(parent, 'out');
    const input = inputOf(out);
    await fsp.mkdir(path.dirname(input), { recursive: true });
    await fsp.mkdir(out, { recursive: true });
    if (input !== out) await fsp.writeFile(input, 'input');
    await fsp.writeFile(path.join(out, 'old.txt'), 'old');
    expect(await refusal(out, true, [{ key: 'embedding', path: input }])).toBe(
      `--out ${out} contains --embedding ${input}, which --overwrite would delete: choose another --out`,
    );
    if (input !== out) expect(await fsp.readFile(input, 'utf8')).toBe('input');
    expect(await fsp.readdir(parent)).toEqual(['out']);
  });

  test('an input beside --out (a name sharing its prefix) is not inside it', async () => {
    const parent = await freshParent();
    const out = path.join(parent, 'out');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'old.txt'), 'old');
    await fsp.writeFile(path.join(parent, 'out2.npy'), 'x');
    const s = await stageOutput(out, true, { inputs: [{ key: 'embedding', path: path.join(parent, 'out2.npy') }] });
    await s.commit();
    expect(await fsp.readdir(out)).toEqual([]);
  });
});

describe('a symlinked --out is written through: the link stays, its target holds the new output', () => {
  test('to an existing directory, with --overwrite', async () => {
    const parent = await freshParent();
    const real = path.join(parent, 'real');
    await fsp.mkdir(real);
    await fsp.writeFile(path.join(real, 'old.txt'), 'old');
    const link = path.join(parent, 'link');
    await fsp.symlink(real, link);
    const s = await stageOutput(link, true);
    expect(s.target).toBe(await fsp.realpath(real));
    await fsp.writeFile(path.join(s.staging, 'new.txt'), 'new');
    await s.commit();
    expect((await fsp.lstat(link)).isSymbolicLink()).toBe(true);
    expect(await fsp.readdir(real)).toEqual(['new.txt']);
    expect((await fsp.readdir(parent)).sort()).toEqual(['link', 'real']);
  });

  test('a dangling link, or one to a file, is refused', async () => {
    const parent = await freshParent();
    const link = path.join(parent, 'link');
    await fsp.symlink(path.join(parent, 'absent'), link);
    expect(await refusal(link)).toBe(
      `--out ${link} cannot be used: it is a symlink to a missing path (create the directory it points to)`,
    );
    await fsp.writeFile(path.join(parent, 'file'), 'f');
    const link2 = path.join(parent, 'link2');
    await fsp.symlink(path.join(parent, 'file'), link2);
    expect(await refusal(link2, true)).toMatch(
      /^--out .*link2 cannot be used: it is a symlink to .*file, which is not a directory$/,
    );
    expect((await fsp.readdir(parent)).sort()).toEqual(['file', 'link', 'link2']);
  });
});

test("staging directories of this host's runs whose process is gone are removed and mentioned; live ones and other hosts' are kept", async () => {
  const parent = await freshParent();
  const out = path.join(parent, 'run');
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const host = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
  const elsewhere = host === '00000000' ? '11111111' : '00000000';
  for (const name of [
    `.run.partial-${dead}@${host}`,
    `.run.partial-${dead}`, // an older version's name: this host's
    `.run.partial-${process.pid}`, // an older version's name with this PID (containers: all PID 1): not this run's
    `.run.partial-${dead}@${host}.old`,
    `.run.partial-${process.ppid}@${host}`,
    // Another container on a shared volume: PID 1 there as here, alive or not, is not this one's.
    `.run.partial-${process.pid}@${elsewhere}`,
    '.other.partial-1',
  ]) {
    await fsp.mkdir(path.join(parent, name));
    await fsp.writeFile(path.join(parent, name, 'x.png'), 'x');
  }
  const lines: string[] = [];
  const s = await stageOutput(out, false, { log: (l) => lines.push(l) });
  await s.commit();
  expect((await fsp.readdir(parent)).sort()).toEqual(
    [
      '.other.partial-1',
      `.run.partial-${process.pid}@${elsewhere}`,
      `.run.partial-${process.ppid}@${host}`,
      'run',
    ].sort(),
  );
  expect(lines.sort()).toEqual(
    [
      `left ${path.join(parent, `.run.partial-${process.pid}@${elsewhere}`)}: a run on another host wrote it (delete it by hand once no run writes run)`,
      `removed ${path.join(parent, `.run.partial-${dead}`)}, left by an earlier run (process ${dead}) that did not finish`,
      `removed ${path.join(parent, `.run.partial-${process.pid}`)}, left by an earlier run (process ${process.pid}) that did not finish`,
      `removed ${path.join(parent, `.run.partial-${dead}@${host}`)}, left by an earlier run (process ${dead}) that did not finish`,
      `removed ${path.join(parent, `.run.partial-${dead}@${host}.old`)}, left by an earlier run (process ${dead}) that did not finish`,
    ].sort(),
  );
});

/** Makes `file` undeletable (immutable as root, a read-only directory otherwise); `undo` takes where it is now. */
function pin(file: string): ((now: string) => void) | undefined {
  if (spawnSync('chattr', ['+i', file]).status === 0) return (now) => spawnSync('chattr', ['-i', now]);
  if (process.getuid?.() !== 0) {
    spawnSync('chmod', ['a-w', path.dirname(file)]);
    return (now) => spawnSync('chmod', ['u+w', path.dirname(now)]);
  }
  return undefined;
}

test('--overwrite where the old output cannot be deleted: the new one is committed, the leftover reported', async () => {
  const parent = await freshParent();
  const out = path.join(parent, 'run');
  await fsp.mkdir(path.join(out, 'sub'), { recursive: true });
  await fsp.writeFile(path.join(out, 'gone.png'), 'old');
  const stuck = path.join(out, 'sub', 'old.png');
  await fsp.writeFile(stuck, 'old');
  const unpin = pin(stuck);
  if (!unpin) return; // neither chattr nor a read-only directory can stop this user deleting
  let old = stuck;
  try {
    const lines: string[] = [];
    const s = await stageOutput(out, true, { log: (l) => lines.push(l) });
    await fsp.writeFile(path.join(s.staging, 'new.png'), 'new');
    await s.commit();
    old = path.join(`${s.staging}.old`, 'sub', 'old.png');
    expect(await fsp.readdir(out)).toEqual(['new.png']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^warning: ${out} holds the new output, but the old one could not be fully deleted \\(${old}: (operation not permitted|permission denied)\\): delete ${s.staging}\\.old by hand$`,
      ),
    );
    // What could be deleted was.
    expect((await fsp.readdir(parent)).sort()).toEqual([path.basename(`${s.staging}.old`), 'run']);
    expect(await fsp.readdir(`${s.staging}.old`)).toEqual(['sub']);
  } finally {
    unpin(old);
  }
});
