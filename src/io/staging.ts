/**
 * Output directories written all-or-nothing: the one staging mechanism of every command that
 * writes a directory (`invert`, `leakage`, `import`). Files go into `.NAME.partial-PID@HOST`
 * beside `--out` (HOST: 8 hex digits of the host name's SHA-256, since containers on one shared
 * volume all run as PID 1), which is renamed into place at the end; an existing output is only replaced with
 * `--overwrite`, and only once the new one is complete.
 *
 * Everything that would make the final rename fail, or make `--overwrite` destroy something the
 * user did not ask to replace, is refused by `stageOutput` before any work (`ConfigError` on
 * `out`, exit 2):
 *   - `--out` that cannot be renamed: `/`, `.`/`..`, the working directory or one of its
 *     ancestors, a mount point, a name too long for the staging suffix (NAME_MAX is 255 bytes);
 *   - `--overwrite` of a directory holding one of the command's own inputs;
 *   - a symlink whose target is missing or is not a directory.
 * A symlinked `--out` is written through: the staging directory goes beside the link's target,
 * the target is replaced, and the link is left as it was (still pointing at the new output).
 *
 * Staging directories of earlier runs on this host whose process is gone (killed, or quit on a
 * second Ctrl-C) are removed when the next run stages the same `--out`, with one line saying
 * so; those of other hosts are left, with one line naming them (their process cannot be checked).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

import { ConfigError } from '../errors.js';
import { errnoReason, fsError } from './atomic.js';
import { processAlive } from '../util/process.js';
import { isInside } from './paths.js';

/** An output directory being written: files go to `staging` until `commit()`. */
export interface StagedOutput {
  /** Where the output is written until `commit()`. */
  staging: string;
  /** The directory that `commit()` replaces (`out`, or its target when `out` is a symlink). */
  target: string;
  /** Moves the staging directory into place (replacing the old output, see `stageOutput`). */
  commit(): Promise<void>;
  /** Removes the staging directory; `out` is left as it was. */
  abandon(): Promise<void>;
}

/** Options of `stageOutput`. */
export interface StageOptions {
  /**
   * Files and directories the command reads, by the config key (flag) that names them: with
   * `overwrite`, an `out` that contains one of them is refused rather than deleted.
   */
  inputs?: ReadonlyArray<{ key: string; path: string | undefined }>;
  /** Receives one line per notice (stale staging directories removed, an old output left behind). */
  log?: (line: string) => void;
}

/** This host in staging names: 8 hex digits of the SHA-256 of its name. */
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** Longest `--out` base name, in bytes: `.NAME.partial-PID@HOST.old` must fit NAME_MAX (255) for any PID (≤ 7 digits on Linux). */
export const MAX_OUT_NAME_BYTES = 255 - '.'.length - '.partial-'.length - 7 - '@'.length - 8 - '.old'.length;

/**
 * Checks that `out` may be written (absent, empty, or `overwrite`) and can be staged and renamed
 * (see the module comment), removes stale staging directories of `out`, and creates this run's.
 * Call before any long work so a bad `--out` fails at once.
 */
export async function stageOutput(out: string, overwrite: boolean, opts: StageOptions = {}): Promise<StagedOutput> {
  const target = await renameableTarget(out);
  const existing = await fsp.readdir(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    if (err.code === 'ENOTDIR') throw new ConfigError(['out'], (k) => `${k('out')} ${out} is a file, not a directory`);
    throw fsError(err, 'read', out);
  });
  if (existing && existing.length > 0 && !overwrite) {
    throw new ConfigError(
      ['out', 'overwrite'],
      (k) => `${k('out')} ${out} exists and is not empty (use ${k('overwrite')} to replace it)`,
    );
  }
  if (existing && existing.length > 0) await refuseInputsInside(out, target, opts.inputs ?? []);
  const parent = path.dirname(target);
  try {
    await fsp.mkdir(parent, { recursive: true });
  } catch (err) {
    throw fsError(err, 'create directory', parent);
  }
  if (existing !== undefined) await refuseMountPoint(out, target, parent);
  await removeStale(parent, path.basename(target), opts.log);
  const staging = path.join(parent, `.${path.basename(target)}.partial-${process.pid}@${HOST}`);
  await fsp.rm(staging, { recursive: true, force: true });
  try {
    await fsp.mkdir(staging);
  } catch (err) {
    throw fsError(err, 'create the output directory in', parent);
  }
  return {
    staging,
    target,
    async commit() {
      const old = `${staging}.old`;
      if (existing) await fsp.rename(target, old);
      await fsp.rename(staging, target);
      if (!existing) return;
      // The new output is complete and in place, so a failure to delete the old one does not
      // fail the command (exit 0): it is reported with what is left and why. Checking
      // deletability first could not be complete (ACLs, immutable files, mounts, races) and
      // would still need this path. The next run into `out` tries to remove it again.
      const stuck = await removeTree(old);
      if (stuck)
        opts.log?.(
          `warning: ${out} holds the new output, but the old one could not be fully deleted (${stuck.file}: ${stuck.reason}): delete ${old} by hand`,
        );
    },
    async abandon() {
      await fsp.rm(staging, { recursive: true, force: true });
    },
  };
}

/**
 * The directory the output replaces: `out` itself, or the target of a symlink `out`; refused
 * when no staging directory can be made beside it and renamed over it.
 */
async function renameableTarget(out: string): Promise<string> {
  const refuse = (why: string): never => {
    throw new ConfigError(['out'], (k) => `${k('out')} ${out} cannot be used: ${why}`);
  };
  if (out === '') refuse('the path is empty');
  let target = path.resolve(out);
  const link = await fsp.lstat(target).catch(() => undefined);
  if (link?.isSymbolicLink()) {
    const real = await fsp.realpath(target).catch(() => undefined);
    if (real === undefined) refuse('it is a symlink to a missing path (create the directory it points to)');
    const stat = await fsp.stat(real!);
    if (!stat.isDirectory()) refuse(`it is a symlink to ${real}, which is not a directory`);
    target = real!;
  }
  if (path.dirname(target) === target) refuse('it is the root of the file system (choose a new directory)');
  const cwd = path.resolve('.');
  const realCwd = await fsp.realpath(cwd).catch(() => cwd);
  if (isInside(cwd, target) || isInside(realCwd, target))
    refuse(
      `it is the working directory or contains it, which cannot be replaced (choose a new directory, e.g. ${path.join(out, 'run')})`,
    );
  const bytes = Buffer.byteLength(path.basename(target));
  if (bytes > MAX_OUT_NAME_BYTES)
    refuse(
      `its name is ${bytes} bytes long; at most ${MAX_OUT_NAME_BYTES} leave room for the staging directory beside it (.NAME.partial-PID@HOST)`,
    );
  return target;
}

/** A mount point cannot be renamed (EBUSY) or replaced. */
async function refuseMountPoint(out: string, target: string, parent: string): Promise<void> {
  const [self, above] = await Promise.all([fsp.stat(target), fsp.stat(parent)]);
  if (self.dev !== above.dev)
    throw new ConfigError(
      ['out'],
      (k) =>
        `${k('out')} ${out} cannot be used: it is a mount point, which cannot be replaced (choose a new directory inside it)`,
    );
}

/** With `--overwrite`, an `out` that contains one of the command's inputs would delete it. */
async function refuseInputsInside(
  out: string,
  target: string,
  inputs: ReadonlyArray<{ key: string; path: string | undefined }>,
): Promise<void> {
  for (const input of inputs) {
    if (input.path === undefined) continue;
    const real = await fsp.realpath(input.path).catch(() => path.resolve(input.path!));
    if (isInside(real, target) || isInside(path.resolve(input.path), target))
      throw new ConfigError(
        ['out', 'overwrite', input.key],
        (k) =>
          `${k('out')} ${out} contains ${k(input.key)} ${input.path}, which ${k('overwrite')} would delete: choose another ${k('out')}`,
      );
  }
}

/**
 * Removes `.NAME.partial-PID@HOST[.old]` beside `NAME` of this host whose PID is no longer
 * running (this process's own included; names without `@HOST`, of older versions, count as this
 * host's); names those of other hosts.
 */
async function removeStale(parent: string, name: string, log: ((line: string) => void) | undefined): Promise<void> {
  const prefix = `.${name}.partial-`;
  const entries = await fsp.readdir(parent).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const m = /^(\d+)(?:@([0-9a-f]{8}))?(\.old)?$/.exec(entry.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    const stale = path.join(parent, entry);
    if (m[2] !== undefined && m[2] !== HOST) {
      log?.(`left ${stale}: a run on another host wrote it (delete it by hand once no run writes ${name})`);
      continue;
    }
    // Another run's that is still going, or this run's own (replaced silently by the caller); an
    // older version's name with this PID is not this run's (containers: every run is PID 1).
    if (pid === process.pid ? m[2] === HOST && !m[3] : processAlive(pid)) continue;
    const stuck = await removeTree(stale);
    log?.(
      stuck
        ? `warning: could not remove ${stale}, left by an earlier run (process ${pid}) (${stuck.file}: ${stuck.reason})`
        : `removed ${stale}, left by an earlier run (process ${pid}) that did not finish`,
    );
  }
}

/**
 * Deletes `p` and everything under it as far as possible (what can be deleted is), and returns
 * the first entry that could not be deleted and why; undefined when all is gone. (`fs.rm`
 * stops at the first failure and words EPERM on a file as ENOTDIR.)
 */
async function removeTree(p: string): Promise<{ file: string; reason: string } | undefined> {
  let first: { file: string; reason: string } | undefined;
  const fail = (file: string, err: unknown): void => {
    first ??= { file, reason: errnoReason(err) };
  };
  const stat = await fsp.lstat(p).catch(() => undefined);
  if (!stat) return undefined;
  if (stat.isDirectory()) {
    const entries = await fsp.readdir(p).catch((err: unknown) => {
      fail(p, err);
      return [] as string[];
    });
    for (const e of entries) {
      const stuck = await removeTree(path.join(p, e));
      if (stuck) first ??= stuck;
    }
    await fsp.rmdir(p).catch((err: unknown) => (first ? undefined : fail(p, err)));
  } else {
    await fsp.unlink(p).catch((err: unknown) => fail(p, err));
  }
  return first;
}
