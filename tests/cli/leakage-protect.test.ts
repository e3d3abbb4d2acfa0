/**
 * `arcinvert leakage --invert --protect SPEC [--attack …]`: the targets' templates are protected,
 * the attacker recovers embeddings from them and inverts those, and the protected system joins
 * the report. A tiny random model on a few LFW identities: the test checks the plumbing, the
 * recovery record and the refusals, not the rates.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';
import { cli } from '../helpers/cli.js';
import { makeFaceFolder } from '../train/faces.js';

const LFW = path.resolve(process.cwd(), '../shared/data/lfw');
const withData = existsSync(LFW) ? it : it.skip;
if (!existsSync(LFW)) console.warn(`skipping leakage --protect end-to-end test: ${LFW} not found`);

let tmp: string;
let model: string;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-leak-protect-'));
  model = path.join(tmp, 'model');
  const fm = calibratedTinyMobileFaceNet(7);
  await saveFaceModel(fm, model);
  fm.model.dispose();
});

afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

const base = (out: string): string[] => ['leakage', '--model', model, '--out', out, '--judge', 'none'];

it('bad --protect input: one line, exit 2, nothing written', async () => {
  const out = path.join(tmp, 'refused');
  const cases: Array<[string[], string]> = [
    [
      ['--reconstructions', tmp, '--protect', 'sign'],
      '--protect is for --invert (the attacker inverts the protected templates)',
    ],
    [
      ['--invert', '--targets', LFW, '--attack', 'key-stolen'],
      '--attack, --protect-seed, --attacker-faces and --utility are for --protect',
    ],
    [
      ['--invert', '--targets', LFW, '--protect-seed', '3'],
      '--attack, --protect-seed, --attacker-faces and --utility are for --protect',
    ],
    [
      ['--invert', '--targets', LFW, '--attacker-faces', tmp],
      '--attack, --protect-seed, --attacker-faces and --utility are for --protect',
    ],
    [['--invert', '--targets', LFW, '--attacker-faces-n', '5'], '--attacker-faces-n is for --attacker-faces'],
    [
      ['--invert', '--targets', LFW, '--utility'],
      '--attack, --protect-seed, --attacker-faces and --utility are for --protect',
    ],
    [
      ['--invert', '--targets', LFW, '--protect', 'sign', '--utility'],
      '--utility measures verification on the --impostor-pairs file: give it',
    ],
    [
      ['--invert', '--targets', LFW, '--protect', 'quantize', '--attacker-faces', tmp],
      '--attacker-faces does not apply to quantize (its templates are dequantised bin by bin)',
    ],
    [
      ['--invert', '--targets', LFW, '--member-weight', '2'],
      '--member-weight weighs the further --model of an ensemble: give more than one --model',
    ],
    [
      ['--invert', '--targets', LFW, '--protect', 'rot13'],
      "unknown protection scheme 'rot13' in 'rot13': one of noise, quantize, sign, project, biohash, mlphash, polyprotect",
    ],
    [
      ['--invert', '--targets', LFW, '--protect', 'sign', '--shard', '0/2'],
      '--protect cannot be sharded: run it in one piece',
    ],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...base(out), ...args);
    expect([r.code, r.err]).toEqual([2, [`arcinvert: ${message}`]]);
  }
  const r = await cli(...base(out), '--invert', '--targets', LFW, '--protect', 'sign', '--attack', 'maybe');
  expect(r.code).toBe(2);
  expect(r.err.join('\n')).toContain("'maybe' is invalid");
  expect(existsSync(out)).toBe(false);
});

it('quantile quantisation with fewer enrolled targets than levels is refused before any work, nothing written', async () => {
  const out = path.join(tmp, 'few-targets');
  // 2 bits: 4 levels, fitted on the --limit 3 enrolled templates (the targets are never read).
  const r = await cli(...base(out), '--invert', '--targets', tmp, '--limit', '3', '--protect', 'quantize:bits=2');
  expect(r.code).toBe(2);
  expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
    'arcinvert: quantize: quantile thresholds are fitted on the 3 enrolled target template(s); they need at least 4 (raise --limit, or use mode=uniform)',
  ]);
  expect(existsSync(out)).toBe(false);
});

withData(
  'options that do not fit the model are refused before any inversion, nothing written',
  async () => {
    const out = path.join(tmp, 'too-many-bits');
    // The tiny model's embeddings have 16 dimensions: 64 bits do not fit an orthonormal projection.
    const r = await cli(...base(out), '--invert', '--targets', LFW, '--limit', '2', '--protect', 'biohash:bits=64');
    expect(r.code).toBe(2);
    expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
      'arcinvert: biohash: bits must be an integer in [1, 16], got 64',
    ]);
    expect(existsSync(out)).toBe(false);
    expect(r.err.join('\n')).not.toMatch(/inverting/);
  },
  60_000,
);

withData(
  'biohash with the stolen key: the recovery is recorded, the protected system is a white-box row',
  async () => {
    const out = path.join(tmp, 'biohash');
    const args = ['--invert', '--targets', LFW, '--limit', '3', '--steps', '3', '--protect', 'biohash:bits=16'];
    const r = await cli(...base(out), ...args, '--protect-seed', '5');
    expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'leakage.json'), 'utf8'));
    expect(report.systems.map((s: { name: string; role: string }) => [s.name, s.role])).toEqual([
      ['attacked', 'white-box'],
      ['protected-biohash', 'white-box'],
    ]);
    const p = report.protection;
    expect(p).toMatchObject({
      scheme: 'biohash',
      options: { bits: 16 },
      keySeed: 5,
      attack: 'key-stolen',
      attackerSeed: 5,
    });
    expect(p.recoveredCosineToTrue.perTarget).toHaveLength(3);
    // The stolen key's recovery matches the stolen bits (nearly) everywhere.
    expect(p.recoveredProtectedSimilarity.mean).toBeGreaterThan(0.9);
    const md = await fsp.readFile(path.join(out, 'leakage.md'), 'utf8');
    expect(md).toMatch(
      /^Protected system: biohash bits=16 \(key seed 5\)\. The attacker recovered embeddings from the stolen templates with the stolen key/,
    );
    // The reconstructions invert the recovered embeddings: their report says the targets were embeddings.
    const inv = JSON.parse(await fsp.readFile(path.join(out, 'reconstructions', 'report.json'), 'utf8'));
    expect(inv.targets.map((t: { kind: string }) => t.kind)).toEqual(['embedding', 'embedding', 'embedding']);

    // Key unknown: the attacker's own key, the same protected system (same thresholds).
    const out2 = path.join(tmp, 'biohash-unknown');
    const r2 = await cli(...base(out2), ...args, '--protect-seed', '5', '--attack', 'key-unknown');
    expect(r2.code).toBe(0);
    const report2 = JSON.parse(await fsp.readFile(path.join(out2, 'leakage.json'), 'utf8'));
    expect(report2.protection.attack).toBe('key-unknown');
    expect(report2.protection.attackerSeed).not.toBe(5);
    expect(report2.protection.recoveredProtectedSimilarity.mean).toBeLessThan(p.recoveredProtectedSimilarity.mean);
    expect(report2.systems[1].thresholds).toEqual(report.systems[1].thresholds);
  },
  240_000,
);

withData(
  '--attacker-faces: the recovery uses a prior of the model embeddings of those faces, and the report says so',
  async () => {
    const faces = await makeFaceFolder(6, 4, 32);
    try {
      const out = path.join(tmp, 'biohash-prior');
      const args = ['--invert', '--targets', LFW, '--limit', '3', '--steps', '2', '--protect', 'biohash:bits=8'];
      const r = await cli(...base(out), ...args, '--attacker-faces', faces, '--attacker-faces-n', '20');
      expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
      expect(r.code).toBe(0);
      const report = JSON.parse(await fsp.readFile(path.join(out, 'leakage.json'), 'utf8'));
      expect(report.protection.attackerPrior).toEqual({ faces, n: 20 });
      const md = await fsp.readFile(path.join(out, 'leakage.md'), 'utf8');
      expect(md).toContain(`with the stolen key and a prior of face embeddings (20 faces of ${faces})`);
      const few = await cli(...base(path.join(tmp, 'few')), ...args, '--attacker-faces', path.join(faces, 'missing'));
      expect(few.code).toBe(2);
      // The targets' own photos are no prior: refused, nothing written.
      const own = await cli(...base(path.join(tmp, 'own')), ...args, '--attacker-faces', LFW);
      expect(own.code).toBe(2);
      expect(own.err.filter((l) => l.startsWith('arcinvert:'))[0]).toMatch(
        /^arcinvert: --attacker-faces .* holds \d+ of the targets' photos \(e\.g\. .*\): the attacker's prior must come from other people's faces$/,
      );
      expect(existsSync(path.join(tmp, 'own'))).toBe(false);
    } finally {
      await fsp.rm(faces, { recursive: true, force: true });
    }
  },
  240_000,
);

withData(
  '--utility: the protected system verifies every pair of the pairs file, beside the unprotected model',
  async () => {
    // A small LFW-format pairs file over four LFW people (2 folds of 2 matched + 2 mismatched pairs).
    const mini = path.join(tmp, 'lfw-mini');
    await fsp.mkdir(mini, { recursive: true });
    // Each person with the indices of their first two photos (LFW numbers are not contiguous).
    const people: Array<[string, number, number]> = [];
    for (const name of (await fsp.readdir(LFW)).sort()) {
      const dir = path.join(LFW, name);
      if (!(await fsp.stat(dir)).isDirectory()) continue;
      const idx = (await fsp.readdir(dir)).map((f) => Number(/_(\d{4})\.\w+$/.exec(f)?.[1])).filter((i) => i > 0);
      if (idx.length < 2) continue;
      await fsp.symlink(dir, path.join(mini, name));
      people.push([name, ...idx.sort((x, y) => x - y).slice(0, 2)] as [string, number, number]);
      if (people.length === 4) break;
    }
    const [a, b, c, d] = people;
    const same = (p: [string, number, number]): string => `${p[0]}\t${p[1]}\t${p[2]}`;
    const diff = (p: [string, number, number], i: 1 | 2, q: [string, number, number], j: 1 | 2): string =>
      `${p[0]}\t${p[i]}\t${q[0]}\t${q[j]}`;
    const pairs = ['2\t2', same(a), same(b), diff(a, 1, c, 1), diff(b, 1, d, 1)];
    pairs.push(same(c), same(d), diff(a, 2, d, 2), diff(c, 2, b, 2));
    await fsp.writeFile(path.join(mini, 'pairs.txt'), `${pairs.join('\n')}\n`);
    const out = path.join(tmp, 'utility');
    const r = await cli(
      ...base(out),
      ...['--invert', '--targets', LFW, '--limit', '3', '--steps', '2', '--protect', 'biohash:bits=8', '--utility'],
      ...['--impostor-pairs', path.join(mini, 'pairs.txt')],
    );
    expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'leakage.json'), 'utf8'));
    expect(report.utility.map((u: { system: string; keys: string | null }) => [u.system, u.keys])).toEqual([
      ['unprotected', null],
      ['biohash:bits=8', 'shared'],
      ['biohash:bits=8', 'user'],
    ]);
    for (const u of report.utility) {
      expect(u.utility.pairs).toBe(8);
      expect(u.utility.accuracy).toBeGreaterThanOrEqual(0);
      expect(u.utility.accuracy).toBeLessThanOrEqual(1);
    }
    const md = await fsp.readFile(path.join(out, 'leakage.md'), 'utf8');
    expect(md).toContain(`Utility on the 8 pairs of ${path.join(mini, 'pairs.txt')}`);
    expect(md).toContain('| biohash:bits=8 | user |');
  },
  240_000,
);
