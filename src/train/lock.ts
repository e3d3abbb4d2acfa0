/**
 * The lock of a training run directory: `train.lock`, created exclusively by the `train` that
 * uses the directory and removed when it ends, holding the process id and host. A second
 * `train` (a `--resume`, or a new run into the same directory) is refused while the holder
 * runs, instead of the two removing each other's temporary checkpoint folders. A lock whose
 * process is gone (killed, crashed) is stale: the next `train` takes it over and says so.
 * A lock written on another host cannot be checked and is never taken over.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArcinvertError } from '../errors.js';
import { ensureDir, fsError } from '../io/atomic.js';
import { processAlive } from '../util/process.js';

/** The lock file's name inside a run directory. */
export const LOCK_FILE = 'train.lock';

interface LockRecord {
  pid: number;
  host: string;
  started: string;
}

async function readLock(file: string): Promise<LockRecord | null> {
  try {
    const rec = JSON.parse(await fsp.readFile(file, 'utf8')) as Partial<LockRecord>;
    return Number.isInteger(rec.pid) && typeof rec.host === 'string' ? (rec as LockRecord) : null;
  } catch {
    return null;
  }
}

/** A held run-directory lock. */
export class RunLock {
  private constructor(
    readonly file: string,
    /** The directory did not exist before the lock created it. */
    private readonly createdDir: boolean,
  ) {}

  /**
   * Locks `runDir` (created if missing) for this process.
   * @param say told when a stale lock is taken over.
   * @throws ArcinvertError naming the lock file and the PID holding it when another process
   *   on this host holds it, or the host when it was written elsewhere.
   */
  static async acquire(runDir: string, say: (line: string) => void = () => undefined): Promise<RunLock> {
    const createdDir = !(await fsp.stat(runDir).catch(() => null));
    await ensureDir(runDir);
    const file = path.join(runDir, LOCK_FILE);
    const mine: LockRecord = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.writeFile(file, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
        return new RunLock(file, createdDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, 'create lock', file);
      }
      const held = await readLock(file);
      if (held === null)
        throw new ArcinvertError(`${file} exists but is unreadable; remove it if no train process uses ${runDir}`);
      if (held.host !== mine.host)
        throw new ArcinvertError(
          `${runDir} is locked by process ${held.pid} on host ${held.host} (${file}); remove the lock only if that run has ended`,
        );
      // A second attempt that finds a lock again lost a race for a stale one: report the winner.
      if (processAlive(held.pid) || attempt > 0)
        throw new ArcinvertError(
          `${runDir} is in use by another train process (PID ${held.pid}, lock ${file}); wait for it to end or stop it`,
        );
      say(`took over the stale lock ${file} of PID ${held.pid}, which is no longer running`);
      await fsp.rm(file, { force: true });
    }
  }

  /** Removes the lock, and the run directory too when the lock created it and it stayed empty. */
  async release(): Promise<void> {
    await fsp.rm(this.file, { force: true });
    if (this.createdDir) await fsp.rmdir(path.dirname(this.file)).catch(() => undefined);
  }
}
