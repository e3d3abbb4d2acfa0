/**
 * The standing bad-input suite's machinery: the built CLI (`bin/arcinvert.js`, after `npm run
 * build`) in a child process, a pool that keeps at most two of them running, a tree hash to
 * prove an output untouched, and the check that stderr ends in one error line.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO, 'bin', 'arcinvert.js');

/** How a child process ended. */
export interface Ran {
  /** Exit status; null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** True when `timeoutMs` passed and the process was killed. */
  timedOut: boolean;
}

/** A fault to inject: send `signal` once `when` holds (polled), then again after `twice` ms if given. */
export interface Fault {
  signal: NodeJS.Signals;
  /** Polled every 50 ms with the stderr so far. */
  when: (stderr: string) => boolean;
  /** Extra wait after `when` holds, so the command is in its steps. */
  delayMs?: number;
}

/** A counting semaphore: at most `n` children at once (the suite runs on 2 cores). */
export class Pool {
  private running = 0;
  private waiting: Array<() => void> = [];
  constructor(private readonly n: number) {}
  async use<T>(f: () => Promise<T>): Promise<T> {
    if (this.running >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await f();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** `node bin/arcinvert.js ...args` in `cwd`, killed after `timeoutMs`; `fault` injects a signal. */
export function runArcinvert(
  args: string[],
  opts: { cwd: string; timeoutMs: number; fault?: Fault; env?: NodeJS.ProcessEnv },
): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, CI: '1', ARCINVERT_DEBUG: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    let poll: NodeJS.Timeout | undefined;
    if (opts.fault) {
      const { signal, when, delayMs = 0 } = opts.fault;
      poll = setInterval(() => {
        if (!when(stderr)) return;
        clearInterval(poll);
        setTimeout(() => child.kill(signal), delayMs);
      }, 50);
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/**
 * A hash of everything under `p` (names, kinds, file bytes, link targets, modes), or 'absent';
 * equal hashes mean the tree is byte-identical.
 */
export async function hashTree(p: string): Promise<string> {
  const h = createHash('sha256');
  async function walk(abs: string, rel: string): Promise<void> {
    const st = await fsp.lstat(abs);
    if (st.isSymbolicLink()) h.update(`L ${rel} -> ${await fsp.readlink(abs)}\n`);
    else if (st.isDirectory()) {
      h.update(`D ${rel} ${st.mode}\n`);
      for (const name of (await fsp.readdir(abs)).sort()) await walk(path.join(abs, name), path.join(rel, name));
    } else if (st.isFile()) {
      h.update(`F ${rel} ${st.mode} `);
      h.update(await fsp.readFile(abs));
      h.update('\n');
    } else h.update(`O ${rel} ${st.mode}\n`);
  }
  if (!existsSync(p) && !(await fsp.lstat(p).catch(() => null))) return 'absent';
  await walk(p, '.');
  return h.digest('hex');
}

/** The lines of a stream's text, without the empty one after the last newline. */
export const linesOf = (s: string): string[] => s.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);

/** Lines that report an error (ours, `arcinvert: …`, or commander's, `error: …`). */
export const errorLines = (stderr: string): string[] =>
  linesOf(stderr).filter((l) => l.startsWith('arcinvert:') || l.startsWith('error:'));

/** Signs of a crash rather than a handled error. */
export const CRASH = /^\s+at |internal error|Uncaught|node:internal|Error: .*\n\s+at /m;
