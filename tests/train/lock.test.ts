/** The run-directory lock of `train` (#18: a second train on a run in use is refused). */
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArcinvertError } from '../../src/errors.js';
import { LOCK_FILE, RunLock } from '../../src/train/lock.js';
import { processAlive } from '../../src/util/process.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-lock-'));
});
afterAll(async () => fsp.rm(tmp, { recursive: true, force: true }));

/** The PID of a process that has ended. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  expect(processAlive(pid)).toBe(false);
  return pid;
}

test('acquire writes the lock with this PID; a second acquire is refused naming it; release removes it', async () => {
  const dir = path.join(tmp, 'a');
  await fsp.mkdir(dir);
  const lock = await RunLock.acquire(dir);
  const file = path.join(dir, LOCK_FILE);
  expect(JSON.parse(await fsp.readFile(file, 'utf8'))).toMatchObject({ pid: process.pid, host: os.hostname() });
  const err = await RunLock.acquire(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ArcinvertError);
  expect((err as Error).message).toBe(
    `${dir} is in use by another train process (PID ${process.pid}, lock ${file}); wait for it to end or stop it`,
  );
  await lock.release();
  expect(existsSync(file)).toBe(false);
  expect(existsSync(dir)).toBe(true);
});

test('a stale lock (dead PID) is taken over, and said so', async () => {
  const dir = path.join(tmp, 'b');
  await fsp.mkdir(dir);
  const pid = deadPid();
  const file = path.join(dir, LOCK_FILE);
  await fsp.writeFile(file, JSON.stringify({ pid, host: os.hostname(), started: '' }));
  const said: string[] = [];
  const lock = await RunLock.acquire(dir, (l) => said.push(l));
  expect(said).toEqual([`took over the stale lock ${file} of PID ${pid}, which is no longer running`]);
  expect(JSON.parse(await fsp.readFile(file, 'utf8')).pid).toBe(process.pid);
  await lock.release();
});

test('a lock from another host is never taken over', async () => {
  const dir = path.join(tmp, 'c');
  await fsp.mkdir(dir);
  await fsp.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: 'elsewhere', started: '' }));
  await expect(RunLock.acquire(dir)).rejects.toThrow(/is locked by process \d+ on host elsewhere/);
});

test('an unreadable lock is refused with one line', async () => {
  const dir = path.join(tmp, 'd');
  await fsp.mkdir(dir);
  await fsp.writeFile(path.join(dir, LOCK_FILE), '');
  await expect(RunLock.acquire(dir)).rejects.toThrow(/train\.lock exists but is unreadable; remove it if no train/);
});

test('a run directory the lock created is removed again when the run leaves it empty', async () => {
  const dir = path.join(tmp, 'e', 'run');
  const lock = await RunLock.acquire(dir);
  await lock.release();
  expect(existsSync(dir)).toBe(false);
});

test('two processes: the second is refused while the first holds the lock', async () => {
  const dir = path.join(tmp, 'f');
  await fsp.mkdir(dir);
  const lock = await RunLock.acquire(dir);
  const url = new URL('../../dist/train/lock.js', import.meta.url).href;
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { RunLock } from ${JSON.stringify(url)}; RunLock.acquire(${JSON.stringify(dir)}).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(2); });`,
    ],
    { encoding: 'utf8' },
  );
  expect(child.status).toBe(2);
  expect(child.stderr.trim()).toBe(
    `${dir} is in use by another train process (PID ${process.pid}, lock ${path.join(dir, LOCK_FILE)}); wait for it to end or stop it`,
  );
  await lock.release();
});
