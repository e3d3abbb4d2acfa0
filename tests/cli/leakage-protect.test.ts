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
      '--attack, --protect-seed and --attacker-faces are for --protect',
    ],
    [
      ['--invert', '--targets', LFW, '--protect-seed', '3'],
      '--attack, --protect-seed and --attacker-faces are for --protect',
    ],
    [
      ['--invert', '--targets', LFW, '--attacker-faces', tmp],
      '--attack, --protect-seed and --attacker-faces are for --protect',
    ],
    [['--invert', '--targets', LFW, '--attacker-faces-n', '5'], '--attacker-faces-n is for --attacker-faces'],
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
