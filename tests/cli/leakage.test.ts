/**
 * `arcinvert leakage` end to end with a tiny random model on a few LFW identities: `--invert`
 * (attacked model + dlib judge), then the same reconstructions again via `--reconstructions`.
 * SAR is expected to be about 0 for such a model; the test checks the plumbing and counts.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { saveFaceModel } from '../../src/model/store.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';
import { cli } from '../helpers/cli.js';

const LFW = path.resolve(process.cwd(), '../shared/data/lfw');
const withData = existsSync(LFW) ? it : it.skip;
if (!existsSync(LFW)) console.warn(`skipping leakage CLI end-to-end test: ${LFW} not found`);

let tmp: string;
let model: string;

beforeAll(async () => {
  await useWasm();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-leak-'));
  model = path.join(tmp, 'model');
  const fm = calibratedTinyMobileFaceNet(7);
  await saveFaceModel(fm, model);
  fm.model.dispose();
});

afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

it('needs exactly one source of reconstructions', async () => {
  const r = await cli('leakage', '--model', model, '--out', path.join(tmp, 'x'));
  expect(r.code).toBe(2);
  expect(r.err).toEqual(['arcinvert: give exactly one of --reconstructions DIR or --invert']);
  const r2 = await cli('leakage', '--model', model, '--invert', '--out', path.join(tmp, 'x'));
  expect(r2.err).toEqual(['arcinvert: --invert needs --targets DIR (aligned photos in identity folders)']);
  const r3 = await cli(
    'leakage',
    '--model',
    model,
    '--reconstructions',
    tmp,
    '--fmr',
    '0',
    '--out',
    path.join(tmp, 'x'),
  );
  expect(r3.code).toBe(2);
});

it('an existing report is refused without --overwrite, before any work, and left as it was', async () => {
  const out = path.join(tmp, 'existing');
  await fsp.mkdir(out, { recursive: true });
  await fsp.writeFile(path.join(out, 'leakage.json'), '{"old":true}\n');
  const noReport = path.join(tmp, 'no-report');
  await fsp.mkdir(noReport, { recursive: true });
  const r = await cli('leakage', '--model', model, '--reconstructions', noReport, '--judge', 'none', '--out', out);
  expect(r.code).toBe(2);
  expect(r.err).toEqual([`arcinvert: --out ${out} exists and is not empty (use --overwrite to replace it)`]);
  expect(await fsp.readdir(out)).toEqual(['leakage.json']);
  expect(await fsp.readFile(path.join(out, 'leakage.json'), 'utf8')).toBe('{"old":true}\n');
  expect((await fsp.readdir(tmp)).filter((f) => f.includes('.partial-'))).toEqual([]);
});

it('--overwrite of an --out that holds --reconstructions is refused', async () => {
  const out = path.join(tmp, 'holds-input');
  const recon = path.join(out, 'reconstructions');
  await fsp.mkdir(recon, { recursive: true });
  await fsp.writeFile(path.join(recon, 'report.json'), '{}');
  const r = await cli('leakage', '--model', model, '--reconstructions', recon, '--out', out, '--overwrite');
  expect(r.code).toBe(2);
  expect(r.err).toEqual([
    `arcinvert: --out ${out} contains --reconstructions ${recon}, which --overwrite would delete: choose another --out`,
  ]);
  expect(await fsp.readdir(recon)).toEqual(['report.json']);
});

withData(
  'inverts a few LFW targets and reports SAR for the model and the dlib judge',
  async () => {
    const out = path.join(tmp, 'run');
    const r = await cli(
      'leakage',
      '--model',
      model,
      '--invert',
      '--targets',
      LFW,
      '--limit',
      '3',
      '--steps',
      '3',
      '--out',
      out,
      '--backend',
      'wasm',
    );
    expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    const report = JSON.parse(await fsp.readFile(path.join(out, 'leakage.json'), 'utf8'));
    // Aaron_Peirsol (3 photos), Aaron_Sorkin (2), Abdel_Nasser_Assidi (2): the first identities with ≥ 2.
    expect([report.targets, report.identities, report.photos, report.reconstructions]).toEqual([3, 3, 7, 3]);
    expect(report.impostorPairs).toBe(16);
    expect(report.systems.map((s: { name: string; role: string }) => [s.name, s.role])).toEqual([
      ['attacked', 'white-box'],
      ['dlib-resnet', 'transfer'],
    ]);
    for (const s of report.systems) {
      expect(s.typeI.comparisons).toBe(3);
      expect(s.typeII.comparisons).toBe(4);
      expect(s.thresholds.map((t: { fmr: number }) => t.fmr)).toEqual([1e-3, 1e-2]);
    }
    expect(r.out[0]).toMatch(/^system\s+role\s+FMR/);
    const md = await fsp.readFile(path.join(out, 'leakage.md'), 'utf8');
    expect(md).toMatch(/^\| system \| role \| FMR \|/);
    // One score histogram per system, rendered to PNG and linked from the markdown.
    expect(report.plots).toEqual(['scores-attacked.png', 'scores-dlib-resnet.png']);
    for (const p of report.plots) {
      const meta = await sharp(path.join(out, p)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 720, 360]);
      expect(md).toContain(`![${p}](${p})`);
    }
    // The detector finds the real (aligned) target photos; the noise-like reconstructions of a random tiny model are counted, whatever they are.
    expect(report.naturalness.targets).toMatchObject({ images: 3, detected: 3, share: 1 });
    expect(report.naturalness.targets.meanConfidence).toBeGreaterThan(0.5);
    expect(report.naturalness.reconstructions.images).toBe(3);
    expect(md).toMatch(/Naturalness proxy .* of the reconstructions \(\d\/3, mean confidence/);
    // No impostor pairs file: no real faces of other people to measure KID against.
    expect(report.naturalness.kid).toBeUndefined();

    // Impostor pairs of two people who are not targets (Zico: 3 photos, Zinedine Zidane: 2),
    // copied beside the pairs file that names them (into this test's temporary folder).
    const pairsDir = path.join(tmp, 'impostors');
    for (const [who, n] of [
      ['Zico', [1, 2, 3]],
      ['Zinedine_Zidane', [4, 6]],
    ] as const)
      for (const k of n) {
        const name = `${who}_${String(k).padStart(4, '0')}.jpg`;
        await fsp.mkdir(path.join(pairsDir, who), { recursive: true });
        await fsp.copyFile(path.join(LFW, who, name), path.join(pairsDir, who, name));
      }
    const pairsFile = path.join(pairsDir, 'pairs.txt');
    await fsp.writeFile(
      pairsFile,
      ['1\t2', 'Zico\t1\t2', 'Zico\t2\t3', 'Zico\t1\tZinedine_Zidane\t4', 'Zico\t3\tZinedine_Zidane\t6', ''].join('\n'),
    );
    const again = await cli(
      'leakage',
      '--model',
      model,
      '--reconstructions',
      path.join(out, 'reconstructions'),
      '--judge',
      'none',
      '--impostor-pairs',
      pairsFile,
      '--out',
      path.join(tmp, 'again'),
    );
    expect(again.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(again.code).toBe(0);
    const second = JSON.parse(await fsp.readFile(path.join(tmp, 'again', 'leakage.json'), 'utf8'));
    // KID against the 4 photos of the pairs file's mismatched pairs; noise lies farther from them than the real targets.
    const kid = second.naturalness.kid;
    expect(kid.reference).toBe(4);
    expect(kid.network).toMatch(/landmark net/);
    for (const v of [kid.reconstructions, kid.realFloor, kid.noiseCeiling]) expect(Number.isFinite(v)).toBe(true);
    expect(kid.noiseCeiling).toBeGreaterThan(kid.realFloor);
    expect(await fsp.readFile(path.join(tmp, 'again', 'leakage.md'), 'utf8')).toMatch(/KID ×10³ against 4 real faces/);
    expect(second.systems).toHaveLength(1);
    // The PNGs are lossless: read back, they score as the images kept in memory did.
    expect(second.systems[0].typeI.meanScore).toBeCloseTo(report.systems[0].typeI.meanScore, 5);
  },
  90000,
);

it('a --cache that cannot be a folder, or that overlaps --out, is refused before any work', async () => {
  const noReport = path.join(tmp, 'cache-no-report');
  await fsp.mkdir(noReport, { recursive: true });
  const file = path.join(tmp, 'cache-is-a-file');
  await fsp.writeFile(file, 'x');
  const base = ['leakage', '--model', model, '--reconstructions', noReport, '--judge', 'none'];
  const out = path.join(tmp, 'cache-out');
  const r = await cli(...base, '--cache', file, '--out', out);
  expect(r.code).toBe(2);
  expect(r.err).toHaveLength(1);
  expect(r.err[0]).toMatch(new RegExp(`^arcinvert: cannot create directory ${file}`));
  const inside = await cli(...base, '--cache', path.join(out, 'cache'), '--out', out);
  expect(inside.code).toBe(2);
  expect(inside.err).toEqual([
    `arcinvert: --cache ${path.join(out, 'cache')} and --out ${out} overlap: the report's folder is replaced as a whole; keep the cache elsewhere`,
  ]);
  const around = await cli(...base, '--cache', tmp, '--out', out);
  expect(around.code).toBe(2);
  const sharded = await cli(
    'leakage',
    '--model',
    model,
    '--invert',
    '--targets',
    noReport,
    '--shard',
    '0/2',
    '--cache',
    file,
    '--out',
    out,
  );
  expect(sharded.err).toEqual([
    "arcinvert: --cache keeps the report's embeddings; a --shard run writes reconstructions only: drop it",
  ]);
  // Nothing was staged or written.
  expect(existsSync(out)).toBe(false);
  expect((await fsp.readdir(tmp)).filter((f) => f.includes('.partial-'))).toEqual([]);
});

withData(
  '--cache: a second run over the same photos embeds none of them again and reports the same numbers',
  async () => {
    const recon = path.join(tmp, 'run', 'reconstructions'); // the first end-to-end test's
    const cache = path.join(tmp, 'cache');
    const runs = [];
    for (const name of ['cached-1', 'cached-2']) {
      const r = await cli(
        'leakage',
        '--model',
        model,
        '--reconstructions',
        recon,
        '--cache',
        cache,
        '--out',
        path.join(tmp, name),
        '--backend',
        'wasm',
      );
      expect(r.code).toBe(0);
      runs.push({ r, report: JSON.parse(await fsp.readFile(path.join(tmp, name, 'leakage.json'), 'utf8')) });
    }
    // 7 photos and 3 reconstructions per system (attacked, dlib-resnet), then the KID network's … none here:
    // without --impostor-pairs there is no KID.
    expect(runs[0].r.err).toContain(`cache ${cache}: 0 embedding(s) reused, 20 computed`);
    expect(runs[1].r.err).toContain(`cache ${cache}: 20 embedding(s) reused, 0 computed`);
    expect(runs[1].report.systems).toEqual(runs[0].report.systems);
    expect(runs[1].report.perReconstruction).toEqual(runs[0].report.perReconstruction);
    expect((await fsp.readdir(cache)).filter((f) => f.endsWith('.bin'))).toHaveLength(2);
  },
  90000,
);

withData('--invert on two workers writes the same reconstructions as on one', async () => {
  const cfg = path.join(tmp, 'two-batches.json');
  await fsp.writeFile(cfg, JSON.stringify({ batchSize: 2, minBatch: 2 }));
  const outs: string[] = [];
  for (const w of ['1', '2']) {
    const out = path.join(tmp, `w${w}`);
    const r = await cli(
      'leakage',
      '--model',
      model,
      '--invert',
      '--targets',
      LFW,
      '--limit',
      '3',
      '--steps',
      '3',
      '--invert-config',
      cfg,
      '--workers',
      w,
      '--judge',
      'none',
      '--out',
      out,
      '--backend',
      'wasm',
    );
    expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
    expect(r.code).toBe(0);
    outs.push(out);
  }
  const files = (await fsp.readdir(path.join(outs[0], 'reconstructions'))).sort();
  expect(files).toEqual(['report.json', 'sheet.png', 't000_s0.png', 't001_s0.png', 't002_s0.png']);
  for (const f of files.filter((f) => f.startsWith('t')))
    expect(await fsp.readFile(path.join(outs[1], 'reconstructions', f))).toEqual(
      await fsp.readFile(path.join(outs[0], 'reconstructions', f)),
    );
  // A second run into the same --out is refused without --overwrite, and replaces the whole report with it.
  const args = ['leakage', '--model', model, '--invert', '--targets', LFW, '--limit', '2', '--steps', '2'];
  const refused = await cli(...args, '--judge', 'none', '--out', outs[0], '--backend', 'wasm');
  expect(refused.code).toBe(2);
  expect(refused.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
    `arcinvert: --out ${outs[0]} exists and is not empty (use --overwrite to replace it)`,
  ]);
  const again = await cli(...args, '--judge', 'none', '--out', outs[0], '--overwrite', '--backend', 'wasm');
  expect(again.code).toBe(0);
  expect((await fsp.readdir(path.join(outs[0], 'reconstructions'))).sort()).toEqual([
    'report.json',
    'sheet.png',
    't000_s0.png',
    't001_s0.png',
  ]);
});

withData(
  '--invert --shard: each shard writes its reconstructions only; merged, they are the unsharded run',
  async () => {
    const cfg = path.join(tmp, 'shard-batches.json');
    await fsp.writeFile(cfg, JSON.stringify({ batchSize: 2, minBatch: 2 }));
    const run = (out: string, ...extra: string[]) =>
      cli(
        'leakage',
        '--model',
        model,
        '--invert',
        '--targets',
        LFW,
        '--limit',
        '3',
        '--steps',
        '3',
        '--invert-config',
        cfg,
        '--workers',
        '1',
        '--judge',
        'none',
        '--out',
        path.join(tmp, out),
        '--backend',
        'wasm',
        ...extra,
      );
    const shards = [await run('s0', '--shard', '0/2'), await run('s1', '--shard', '1/2')];
    for (const [i, r] of shards.entries()) {
      expect(r.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
      expect(r.code).toBe(0);
      expect(r.out.at(-1)).toMatch(
        new RegExp(`^shard ${i}/2: wrote \\d reconstruction\\(s\\) to .*; once every shard is done: arcinvert merge`),
      );
      await expect(fsp.access(path.join(tmp, `s${i}`, 'leakage.json'))).rejects.toThrow();
    }
    const m = await cli('merge', '--out', path.join(tmp, 'merged'), path.join(tmp, 's0'), path.join(tmp, 's1'));
    expect(m.code).toBe(0);
    const whole = await run('whole');
    expect(whole.code).toBe(0);
    for (const f of ['t000_s0.png', 't001_s0.png', 't002_s0.png'])
      expect(await fsp.readFile(path.join(tmp, 'merged', f))).toEqual(
        await fsp.readFile(path.join(tmp, 'whole', 'reconstructions', f)),
      );
  },
  120_000,
);
