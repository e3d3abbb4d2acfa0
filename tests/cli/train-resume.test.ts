/**
 * `train --resume` on a damaged run directory, the run-directory lock, and a run whose loss goes
 * non-finite: one line on stderr, exit 2 (#18 item 3 for training, item 6, and the train lock).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { capturingContext, TINY_RUN_FLAGS, type CapturingContext } from '../helpers/cli.js';
import { makeFaceFolder } from '../train/faces.js';

type Captured = CapturingContext;
const fakeCtx = capturingContext;

const TINY = TINY_RUN_FLAGS;

const errors = (ctx: Captured): string[] => ctx.lines.err.filter((l) => l.startsWith('arcinvert:'));
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every file under `dir` with its bytes, to show that a refused command changed nothing. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const f = path.join(e.parentPath, e.name);
      out[path.relative(dir, f)] = (await fsp.readFile(f)).toString('base64');
    }
  }
  return out;
}

let root: string;
let tmp: string;
/** A run of 3 steps (checkpoint step-00000003), copied for each case. */
let run: string;
beforeAll(async () => {
  root = await makeFaceFolder(8, 4, 16);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-resume-'));
  run = path.join(tmp, 'run');
  const ctx = fakeCtx();
  const code = await runCli(['train', '--data', root, '--out', run, ...TINY, '--lr', '0.05', '--max-steps', '3'], ctx);
  expect([code, errors(ctx)]).toEqual([0, []]);
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function copyRun(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fsp.cp(run, dir, { recursive: true });
  return dir;
}

/** `train --resume dir`: exit 2, one line matching `message`, and the run directory unchanged. */
async function refused(dir: string, message: RegExp, argv: string[] = []): Promise<void> {
  const before = await tree(dir);
  const ctx = fakeCtx();
  expect(await runCli(['train', '--resume', dir, '--backend', 'wasm', ...argv], ctx)).toBe(2);
  expect(errors(ctx)).toHaveLength(1);
  expect(errors(ctx)[0]).toMatch(message);
  expect(await tree(dir)).toEqual(before);
}

describe('train --resume on a damaged run: one line, exit 2, nothing changed', () => {
  test('a checkpoint pointer to a missing folder', async () => {
    const dir = await copyRun('dangling');
    await fsp.rm(path.join(dir, 'checkpoints'), { recursive: true });
    await refused(
      dir,
      new RegExp(
        `^arcinvert: ${esc(path.join(dir, 'checkpoint.json'))} points at a missing folder ${esc(path.join(dir, 'checkpoints', 'step-00000003'))}; no other complete checkpoint is left in the run$`,
      ),
    );
  });

  test('a dangling pointer names an older complete checkpoint, and resuming from it works', async () => {
    const dir = await copyRun('dangling-older');
    const older = path.join(dir, 'checkpoints', 'step-00000002');
    await fsp.rename(path.join(dir, 'checkpoints', 'step-00000003'), older);
    await refused(
      dir,
      new RegExp(
        `points at a missing folder .*step-00000003; an older complete checkpoint exists: resume from it with --resume ${esc(older)} --out ${esc(dir)}$`,
      ),
    );
    const ctx = fakeCtx();
    expect(await runCli(['train', '--resume', older, '--out', dir, '--max-steps', '4', '--backend', 'wasm'], ctx)).toBe(
      0,
    );
    expect(ctx.lines.out[0]).toMatch(/^trained 4 steps/);
  });

  test('a corrupt state.json', async () => {
    const dir = await copyRun('corrupt-state');
    await fsp.writeFile(path.join(dir, 'checkpoints', 'step-00000003', 'state.json'), '{"format": "arcinvert-tr');
    await refused(
      dir,
      new RegExp(
        `^arcinvert: ${esc(path.join(dir, 'checkpoints', 'step-00000003', 'state.json'))} is corrupt \\(not valid JSON\\); no other complete checkpoint is left in the run$`,
      ),
    );
  });

  test('a state.json that is JSON but not a whole training state', async () => {
    const dir = await copyRun('bad-state');
    const file = path.join(dir, 'checkpoints', 'step-00000003', 'state.json');
    const state = JSON.parse(await fsp.readFile(file, 'utf8'));
    delete state.step;
    await fsp.writeFile(file, JSON.stringify(state));
    await refused(dir, /state\.json is corrupt \(bad or missing 'step'\); no other complete checkpoint/);
  });
});

describe('a run directory is locked while train uses it', () => {
  test('a lock of a live process refuses --resume, naming the lock and the PID', async () => {
    const dir = await copyRun('locked');
    const lock = path.join(dir, 'train.lock');
    await fsp.writeFile(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), started: '' }));
    await refused(
      dir,
      new RegExp(
        `^arcinvert: ${esc(dir)} is in use by another train process \\(PID ${process.pid}, lock ${esc(lock)}\\); wait for it to end or stop it$`,
      ),
    );
  });

  test('a new run into a locked directory is refused too', async () => {
    const dir = path.join(tmp, 'locked-new');
    await fsp.mkdir(dir);
    await fsp.writeFile(
      path.join(dir, 'train.lock'),
      JSON.stringify({ pid: process.pid, host: os.hostname(), started: '' }),
    );
    const ctx = fakeCtx();
    expect(await runCli(['train', '--data', root, '--out', dir, ...TINY, '--max-steps', '1'], ctx)).toBe(2);
    expect(errors(ctx)).toEqual([
      `arcinvert: ${dir} is in use by another train process (PID ${process.pid}, lock ${path.join(dir, 'train.lock')}); wait for it to end or stop it`,
    ]);
    expect(await fsp.readdir(dir)).toEqual(['train.lock']);
  });

  test('a stale lock (its process is gone) is taken over with a message, and released at the end', async () => {
    const dir = await copyRun('stale');
    const child = spawnSync(process.execPath, ['-e', '']);
    const lock = path.join(dir, 'train.lock');
    await fsp.writeFile(lock, JSON.stringify({ pid: child.pid, host: os.hostname(), started: '' }));
    const ctx = fakeCtx();
    expect(await runCli(['train', '--resume', dir, '--max-steps', '4', '--backend', 'wasm'], ctx)).toBe(0);
    expect(ctx.lines.err).toContain(`took over the stale lock ${lock} of PID ${child.pid}, which is no longer running`);
    expect(existsSync(lock)).toBe(false);
  });
});

test('training whose loss goes NaN stops with one line naming the step, and writes no checkpoint', async () => {
  // lr 1e30: step 1 has a finite loss, its update makes step 2's loss NaN (the seed fixes it).
  const out = path.join(tmp, 'diverged');
  const ctx = fakeCtx();
  expect(
    await runCli(
      ['train', '--data', root, '--out', out, ...TINY, '--lr', '1e30', '--warmup-epochs', '0', '--max-steps', '4'],
      ctx,
    ),
  ).toBe(2);
  expect(errors(ctx)).toEqual([
    'arcinvert: training diverged: the loss is NaN at step 2 (lr 8.4e+29); stopped, no checkpoint was written; lower the learning rate',
  ]);
  expect(existsSync(path.join(out, 'checkpoint.json'))).toBe(false);
  expect(existsSync(path.join(out, 'train.lock'))).toBe(false);
  const log = (await fsp.readFile(path.join(out, 'train-log.jsonl'), 'utf8')).trim().split('\n');
  expect(log.map((l) => (JSON.parse(l) as { step: number }).step)).toEqual([1]);
});
