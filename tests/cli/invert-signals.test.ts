/**
 * Signals to a real `arcinvert invert` process (the built CLI, `node bin/arcinvert.js`, as a
 * scheduler or a user would send them): SIGINT and SIGTERM finish the step and write the best
 * images and the report (exit 130 / 143); a second signal quits at once and leaves the previous
 * `--out` as it was, with no staging directory behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';

const BIN = path.resolve('bin/arcinvert.js');
const LFW = path.resolve(process.cwd(), '../shared/data/lfw');

let tmp: string;
let model: string;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-signals-'));
  model = path.join(tmp, 'model');
  const fm = calibratedTinyMobileFaceNet(3);
  await saveFaceModel(fm, model);
  fm.model.dispose();
});
afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

/**
 * Starts the CLI with `args`; once it has printed `ready` on stderr, sends `signals` (each after
 * the previous one was acknowledged with an `interrupted` line), and resolves with the exit
 * status and stderr.
 */
function runAndSignal(
  args: string[],
  signals: NodeJS.Signals[],
  ready = /^config: /m,
): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: '1' },
    });
    let err = '';
    let sent = 0;
    const next = (): void => {
      if (sent < signals.length) child.kill(signals[sent++]);
    };
    child.stderr.on('data', (d: Buffer) => {
      const before = err;
      err += d.toString();
      if (sent === 0 && !ready.test(before) && ready.test(err)) setTimeout(next, 300);
      else if (sent > 0 && !/^interrupted/m.test(before) && /^interrupted/m.test(err)) next();
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, err }));
  });
}

const LONG = ['--steps', '100000', '--batch-size', '8', '--jitter', '0', '--no-flip', '--backend', 'wasm'];

describe.each([
  ['SIGINT', 130, '1'],
  ['SIGTERM', 143, '1'],
  ['SIGTERM', 143, '2'],
] as const)('%s (exit %d) with --workers %s', (signal, code, workers) => {
  test('finishes the step and writes the best images and the report', async () => {
    const out = path.join(tmp, `${signal}-${workers}`, 'out');
    const r = await runAndSignal(
      ['invert', '--model', model, '--random', '8', '--out', out, '--workers', workers, ...LONG],
      [signal],
    );
    expect(r.err).toMatch(new RegExp(`^interrupted \\(${signal}\\): finishing the current step`, 'm'));
    expect(r.err.trimEnd().split('\n').at(-1)).toBe(`arcinvert: interrupted (${signal}): wrote the best images so far`);
    expect(r.code).toBe(code);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.aborted).toBe(true);
    expect(report.images).toHaveLength(8);
    expect(existsSync(path.join(out, 'sheet.png'))).toBe(true);
    expect(await fsp.readdir(path.dirname(out))).toEqual(['out']);
  }, 60000);

  test('a second signal quits at once; the previous --out is untouched', async () => {
    const parent = path.join(tmp, `${signal}-${workers}-twice`);
    const out = path.join(parent, 'out');
    await fsp.mkdir(out, { recursive: true });
    await fsp.writeFile(path.join(out, 'keep.txt'), 'keep');
    const r = await runAndSignal(
      ['invert', '--model', model, '--random', '8', '--out', out, '--overwrite', '--workers', workers, ...LONG],
      [signal, signal],
    );
    expect(r.code).toBe(code);
    expect(await fsp.readdir(out)).toEqual(['keep.txt']);
    // The staging directory is removed, unless a write in flight recreated part of it: then the
    // next run into --out removes it (tests/io/staging.test.ts).
    for (const f of await fsp.readdir(parent)) expect(f).toMatch(/^(out|\.out\.partial-\d+@[0-9a-f]{8})$/);
  }, 60000);
});

(existsSync(LFW) ? test : test.skip)(
  'leakage --invert: SIGTERM keeps the best reconstructions, writes no report, exits 143',
  async () => {
    const out = path.join(tmp, 'leakage', 'out');
    const r = await runAndSignal(
      [
        'leakage',
        '--model',
        model,
        '--invert',
        '--targets',
        LFW,
        '--limit',
        '2',
        '--judge',
        'none',
        '--out',
        out,
        '--workers',
        '1',
        '--steps',
        '100000',
        '--backend',
        'wasm',
      ],
      ['SIGTERM'],
    );
    expect(r.code).toBe(143);
    expect(r.err.trimEnd().split('\n').at(-1)).toMatch(
      /^arcinvert: interrupted \(SIGTERM\): wrote the best reconstructions so far to .*reconstructions, no leakage report$/,
    );
    expect(await fsp.readdir(out)).toEqual(['reconstructions']);
    expect((await fsp.readdir(path.join(out, 'reconstructions'))).sort()).toEqual([
      'report.json',
      'sheet.png',
      't000_s0.png',
      't001_s0.png',
    ]);
  },
  60000,
);
