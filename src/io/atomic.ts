/**
 * Safe file I/O: atomic writes, directory creation, and reads that fail with one-line errors.
 *
 * Every output arcinvert produces (PNGs, .npy embeddings, contact sheets) goes through
 * `writeFileAtomic`: the bytes are written to a uniquely named temp file in the destination's
 * directory, fsync'd, then renamed over the destination. A crash or an error therefore leaves
 * either the old file or the complete new one, never a partial file.
 */

import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { ArcinvertError } from '../errors.js';

/** Short human reasons for the file-system errors a user can cause. */
const ERRNO_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTEMPTY: 'a non-empty directory is in the way',
  EEXIST: 'a file is in the way',
};

/** A short human reason for a file-system error ("no such file or directory"), else its code or message. */
export function errnoReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e?.code;
  if (code !== undefined && code in ERRNO_REASONS) return ERRNO_REASONS[code];
  return code ?? (e?.message ?? String(err)).split('\n')[0];
}

/**
 * Turns a Node file-system error with a known errno code into a one-line `ArcinvertError`
 * ("cannot <verb> <file>: <reason>"); any other error is returned unchanged.
 */
export function fsError(err: unknown, verb: string, file: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && code in ERRNO_REASONS) {
    return new ArcinvertError(`cannot ${verb} ${file}: ${ERRNO_REASONS[code]}`);
  }
  return err;
}

/**
 * Reads a whole file, failing with a one-line `ArcinvertError` naming the file (and what it
 * was meant to be, e.g. "embedding file") when it is missing, a directory or unreadable.
 */
export async function readFileChecked(file: string, what = 'file'): Promise<Uint8Array> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    throw fsError(err, `read ${what}`, file);
  }
}

/** Creates `dir` and any missing parents; a no-op if it already exists as a directory. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (err) {
    throw fsError(err, 'create directory', dir);
  }
}

/**
 * Writes `data` to `file` atomically: temp file in the same directory (so the final rename
 * never crosses file systems), fsync, rename over `file`, then a best-effort fsync of the
 * directory. On any failure the temp file is removed and `file` is left untouched.
 * The parent directory must exist (see `ensureDir`).
 *
 * @param file destination path.
 * @param data bytes, or a string written as UTF-8.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    // 'wx' fails rather than reuse an existing path, so two writers never share a temp file.
    const handle = await fsp.open(tmp, 'wx', 0o644);
    created = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
    created = false;
  } catch (err) {
    if (created) await fsp.rm(tmp, { force: true });
    throw fsError(err, 'write', file);
  }
  await syncDir(dir);
}

/** Flushes a directory entry change to disk; silently skipped where unsupported (Windows). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the rename is a bonus; the write itself already succeeded.
  }
}
