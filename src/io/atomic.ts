/**
 * Safe file I/O: atomic writes, directory creation, and reads that fail with one-line errors.
 *
 * Every output arcinvert produces (PNGs, .npy embeddings, contact sheets) goes through
 * `writeFileAtomic`: the bytes are written to a uniquely named temp file in the destination's
 * directory, fsync'd, then renamed over the destination. A crash or an error therefore leaves
 * either the old file or the complete new one, never a partial file.
 */

import { randomBytes } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
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

const MiB = 1024 * 1024;

/**
 * The largest input file arcinvert reads whole, per kind. Anything larger is refused before a
 * byte is read (a wrong path, or `/dev/zero`, must not fill memory). Node cannot read more than
 * 2 GiB − 1 into one buffer anyway.
 */
export const INPUT_LIMITS = {
  /** `.npy` embeddings: 1M × 512 float32 is 2 GiB. */
  npy: 2048 * MiB - 1,
  /** Weight shards, optimiser state, ONNX models. */
  weights: 2048 * MiB - 1,
  /** Image files (their decoded size is limited separately: `MAX_INPUT_PIXELS`). */
  image: 1024 * MiB,
  /** Listings (`emb.txt` / `.jsonl`), pairs files, CSV manifests, class lists. */
  listing: 256 * MiB,
  /** JSON configs and metadata (`--config`, model.json, state.json, report.json). */
  json: 64 * MiB,
} as const;

/** A kind of input file, which sets its size bound (`INPUT_LIMITS`). */
export type InputKind = keyof typeof INPUT_LIMITS;

/** What a non-regular file is, for messages. */
function describeNonFile(stat: Stats): string {
  if (stat.isDirectory()) return 'it is a directory';
  if (stat.isCharacterDevice()) return 'it is a character device, not a regular file';
  if (stat.isBlockDevice()) return 'it is a block device, not a regular file';
  if (stat.isFIFO()) return 'it is a named pipe, not a regular file';
  if (stat.isSocket()) return 'it is a socket, not a regular file';
  return 'not a regular file';
}

/**
 * An input file that cannot be read: "cannot read <what> <file>: <reason>". `reason` alone lets a
 * caller name the file by a config key instead (`ConfigError`).
 */
export class InputFileError extends ArcinvertError {
  constructor(
    what: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot read ${what} ${file}: ${reason}`);
  }
}

/**
 * Checks, before anything is read, that `file` is a regular file (following symlinks) no larger
 * than the bound for its kind (`INPUT_LIMITS`).
 * @param what how the file is named in messages ("embedding file", "--config").
 * @returns its size in bytes.
 * @throws InputFileError "cannot read <what> <file>: <reason>" otherwise.
 */
export async function checkInputFile(file: string, what: string, kind: InputKind): Promise<number> {
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch (err) {
    throw new InputFileError(what, file, errnoReason(err));
  }
  if (!stat.isFile()) throw new InputFileError(what, file, describeNonFile(stat));
  const limit = INPUT_LIMITS[kind];
  if (stat.size > limit) {
    const kindName = kind === 'npy' ? '.npy' : kind;
    throw new InputFileError(
      what,
      file,
      `it is ${stat.size} bytes, over the ${Math.round(limit / MiB)} MiB limit for ${kindName} files`,
    );
  }
  return stat.size;
}

/**
 * Reads a whole file, failing with a one-line `InputFileError` naming the file (and what it
 * was meant to be, e.g. "embedding file") when it is missing, a directory, not a regular file
 * (a device, a pipe), larger than the bound for its kind, or unreadable.
 */
export async function readFileChecked(file: string, what = 'file', kind: InputKind = 'weights'): Promise<Uint8Array> {
  await checkInputFile(file, what, kind);
  try {
    return await fsp.readFile(file);
  } catch (err) {
    throw new InputFileError(what, file, errnoReason(err));
  }
}

/** `readFileChecked` decoded as UTF-8 text (listings, pairs files, JSON). */
export async function readTextChecked(file: string, what: string, kind: InputKind = 'listing'): Promise<string> {
  return new TextDecoder().decode(await readFileChecked(file, what, kind));
}

/**
 * Reads and parses a JSON file through the same checks as `readFileChecked`.
 * @throws ArcinvertError naming the file when it cannot be read or is not valid JSON.
 */
export async function readJsonChecked(file: string, what: string, kind: InputKind = 'json'): Promise<unknown> {
  const text = await readTextChecked(file, what, kind);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ArcinvertError(`${file} is corrupt (not valid JSON)`);
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
