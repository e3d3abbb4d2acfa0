/**
 * `arcinvert train`, `eval` and `purify` through `runCli` with a fake context, on tiny
 * generated faces and a tiny IResNet (16×16, 8-d), on the wasm backend.
 */
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { capturingContext, QUICK_TRAIN_FLAGS } from '../helpers/cli.js';
import { loadCsvManifest } from '../../src/io/imageFolder.js';
import { identityColour, makeFaceFolder, writeColourPng } from '../train/faces.js';

const fakeCtx = capturingContext;
const QUICK = QUICK_TRAIN_FLAGS;

let root: string;
let tmp: string;
let run: string;
beforeAll(async () => {
  root = await makeFaceFolder(8, 4, 16);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-cli-train-'));
  run = path.join(tmp, 'run');
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

test('train writes config, log, checkpoint and best/, and reports the run', async () => {
  const ctx = fakeCtx();
  const code = await runCli(['train', '--data', root, '--out', run, ...QUICK], ctx);
  expect(ctx.lines.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([]);
  expect(code).toBe(0);
  const cfgLine = ctx.lines.err.find((l) => l.startsWith('config: '))!;
  expect(JSON.parse(cfgLine.slice(8))).toMatchObject({
    backbone: 'iresnet18',
    batchSize: 4,
    epochs: 2,
    lr: 0.05,
    k: 3,
  });
  expect(JSON.parse(await fsp.readFile(path.join(run, 'config.json'), 'utf8'))).toEqual(JSON.parse(cfgLine.slice(8)));
  expect(ctx.lines.err.some((l) => /^epoch 2\/2: train loss [\d.]+, val [\d.]+ ± [\d.]+/.test(l))).toBe(true);
  expect(ctx.lines.out[0]).toMatch(/^trained 12 steps/);
  expect(ctx.lines.out.some((l) => l.startsWith('best: epoch'))).toBe(true);
  const log = (await fsp.readFile(path.join(run, 'train-log.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(log).toHaveLength(12);
  expect(Object.keys(log[0]).sort()).toEqual(['batch', 'epoch', 'imagesPerSec', 'loss', 'lr', 'step', 'time']);
  expect(existsSync(path.join(run, 'best', 'model.json'))).toBe(true);
  expect(existsSync(path.join(run, 'checkpoint.json'))).toBe(true);
});

test('train --csv reads a manifest with paths relative to its folder', async () => {
  const csv = path.join(root, 'faces.csv');
  const rows = (await fsp.readdir(root))
    .filter((d) => d.startsWith('id'))
    .flatMap((d) => [0, 1, 2, 3].map((i) => `${d}/${i}.png,${d}`));
  await fsp.writeFile(csv, `path,identity\n${rows.join('\n')}\n`);
  const ctx = fakeCtx();
  expect(
    await runCli(['train', '--csv', csv, '--out', path.join(tmp, 'csvrun'), ...QUICK, '--max-steps', '2'], ctx),
  ).toBe(0);
  expect(ctx.lines.out[0]).toMatch(/^trained 2 steps/);
  await fsp.rm(csv);
});

test('eval prints a table and JSON for an LFW-format pairs file', async () => {
  const lfw = path.join(tmp, 'lfw');
  for (const [c, name] of ['P', 'Q', 'R'].entries()) {
    for (let i = 1; i <= 2; i++)
      await writeColourPng(path.join(lfw, name, `${name}_000${i}.jpg`), identityColour(c, 3), 16, 50 + c * 10 + i);
  }
  await fsp.writeFile(path.join(lfw, 'pairs.txt'), '2\t1\nP\t1\t2\nP\t1\tQ\t1\nQ\t1\t2\nQ\t2\tR\t1\n');
  const ctx = fakeCtx();
  expect(
    await runCli(
      ['eval', '--model', run, '--pairs', path.join(lfw, 'pairs.txt'), '--images', lfw, '--backend', 'wasm'],
      ctx,
    ),
  ).toBe(0);
  expect(ctx.lines.out[0]).toBe(`model         ${path.join(run, 'best')}`);
  expect(ctx.lines.out[1]).toBe('pairs         4 (2 folds), 5 images');
  expect(ctx.lines.out.some((l) => /^accuracy {6}[\d.]+ ± [\d.]+$/.test(l))).toBe(true);
  expect(ctx.lines.out.some((l) => l.startsWith('TAR@FAR=1e-3'))).toBe(true);
  const js = fakeCtx();
  expect(
    await runCli(
      [
        'eval',
        '--model',
        run,
        '--pairs',
        path.join(lfw, 'pairs.txt'),
        '--images',
        lfw,
        '--json',
        '--no-flip',
        '--backend',
        'wasm',
      ],
      js,
    ),
  ).toBe(0);
  const obj = JSON.parse(js.lines.out[0]);
  expect(obj).toMatchObject({ flip: false, pairs: 4, images: 5 });
  expect(obj.folds).toHaveLength(2);
});

test('--eval-every N scores --eval-pairs every N epochs and after the last; a resume may change N', async () => {
  const lfw = path.join(tmp, 'lfw-every');
  for (const [c, name] of ['P', 'Q', 'R'].entries()) {
    for (let i = 1; i <= 2; i++)
      await writeColourPng(path.join(lfw, name, `${name}_000${i}.jpg`), identityColour(c, 3), 16, 70 + c * 10 + i);
  }
  await fsp.writeFile(path.join(lfw, 'pairs.txt'), '2\t1\nP\t1\t2\nP\t1\tQ\t1\nQ\t1\t2\nQ\t2\tR\t1\n');
  const out = path.join(tmp, 'every');
  const bench = ['--eval-pairs', path.join(lfw, 'pairs.txt'), '--eval-images', lfw];
  const first = fakeCtx();
  // 6 steps an epoch: stop after the first epoch, then resume with another N.
  const args = ['train', '--data', root, '--out', out, ...QUICK, '--epochs', '3', ...bench, '--eval-every', '3'];
  expect(await runCli([...args, '--max-steps', '6'], first)).toBe(0);
  const again = fakeCtx();
  expect(await runCli(['train', '--resume', out, '--eval-every', '1', '--backend', 'wasm'], again)).toBe(0);
  const epochs = (await fsp.readFile(path.join(out, 'eval-log.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  // Epoch 1 of 3 under N = 3: none; epochs 2 and 3 under N = 1: scored.
  expect(epochs.map((e) => [e.epoch, e.bench === null])).toEqual([
    [0, true],
    [1, false],
    [2, false],
  ]);
  expect(epochs[2].bench.pairs).toBe(4);
  expect(JSON.parse(await fsp.readFile(path.join(out, 'config.json'), 'utf8')).evalPairsEvery).toBe(1);
});

test('--resume --epochs N gives the run a new end; fewer than the epochs begun is refused', async () => {
  const out = path.join(tmp, 'longer');
  const first = fakeCtx();
  // 6 steps an epoch: stop 2 steps into the second.
  expect(await runCli(['train', '--data', root, '--out', out, ...QUICK, '--max-steps', '8'], first)).toBe(0);
  const short = fakeCtx();
  expect(await runCli(['train', '--resume', out, '--epochs', '1', '--backend', 'wasm'], short)).toBe(2);
  expect(short.lines.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
    'arcinvert: --epochs 1: the run has already begun epoch 2; give at least 2',
  ]);
  const longer = fakeCtx();
  expect(await runCli(['train', '--resume', out, '--epochs', '3', '--backend', 'wasm'], longer)).toBe(0);
  expect(longer.lines.err).toContain(
    'the run now ends after 3 epoch(s): its learning-rate schedule changes from here on, so the weights differ from an uninterrupted run',
  );
  expect(longer.lines.out[0]).toMatch(/^trained 18 steps/);
  const log = (await fsp.readFile(path.join(out, 'train-log.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(log.map((r) => r.step)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
  // The poly schedule now runs to step 18: lr 0.05·(1 − t/18)² at the step after the resume.
  expect(log[8].lr).toBeCloseTo(0.05 * (1 - 8 / 18) ** 2, 6);
  expect(JSON.parse(await fsp.readFile(path.join(out, 'config.json'), 'utf8')).epochs).toBe(3);
});

test('--eval-every without --eval-pairs is refused before any work', async () => {
  const out = path.join(tmp, 'no-bench');
  const c = fakeCtx();
  expect(await runCli(['train', '--data', root, '--out', out, ...QUICK, '--eval-every', '2'], c)).toBe(2);
  expect(c.lines.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
    'arcinvert: --eval-every says how often --eval-pairs is scored: give --eval-pairs and --eval-images',
  ]);
  expect(existsSync(out)).toBe(false);
});

test("--resume at an epoch boundary: --epochs must add an epoch; the run's own values change nothing", async () => {
  const out = path.join(tmp, 'boundary');
  // 6 steps an epoch: stop exactly at the end of the first.
  expect(await runCli(['train', '--data', root, '--out', out, ...QUICK, '--max-steps', '6'], fakeCtx())).toBe(0);
  const short = fakeCtx();
  expect(await runCli(['train', '--resume', out, '--epochs', '1', '--backend', 'wasm'], short)).toBe(2);
  expect(short.lines.err.filter((l) => l.startsWith('arcinvert:'))).toEqual([
    'arcinvert: --epochs 1: the run has finished 1 epoch(s); give at least 2',
  ]);
  // The run's own --epochs 2 is no change: no schedule warning, the steps an uninterrupted run takes.
  const same = fakeCtx();
  expect(await runCli(['train', '--resume', out, '--epochs', '2', '--backend', 'wasm'], same)).toBe(0);
  expect(same.lines.err.filter((l) => l.startsWith('the run now ends'))).toEqual([]);
  expect(same.lines.out[0]).toMatch(/^trained 12 steps/);
});

test('--runtime: the held-out scores on onnxruntime equal those on tfjs (same weights, same verdicts)', async () => {
  const logs = [];
  for (const runtime of ['tfjs', 'onnx']) {
    const out = path.join(tmp, `runtime-${runtime}`);
    const c = fakeCtx();
    expect(
      await runCli(['train', '--data', root, '--out', out, ...QUICK, '--max-steps', '6', '--runtime', runtime], c),
    ).toBe(0);
    expect(c.lines.err).toContain(`scores on: ${runtime === 'onnx' ? 'onnxruntime' : 'tfjs'}`);
    logs.push(JSON.parse((await fsp.readFile(path.join(out, 'eval-log.jsonl'), 'utf8')).trim().split('\n')[0]));
  }
  expect(logs[1].val.accuracy).toBe(logs[0].val.accuracy);
  expect(logs[1].val.threshold).toBeCloseTo(logs[0].val.threshold, 4);
  expect(logs[1].val.tarAtFar1e2.tar).toBe(logs[0].val.tarAtFar1e2.tar);
});

test('purify writes a clean manifest that train --csv reads back', async () => {
  const ctx = fakeCtx();
  const out = path.join(tmp, 'clean', 'clean.csv');
  expect(
    await runCli(['purify', '--model', run, '--data', root, '--out', out, '--angle', '75', '--backend', 'wasm'], ctx),
  ).toBe(0);
  expect(ctx.lines.out[0]).toMatch(/^kept \d+ of 24 images \(\d+ dropped at > 75°\) over 6 identities/);
  expect(ctx.lines.out.some((l) => l.startsWith('left out 2 identities the model was not trained on'))).toBe(true);
  const clean = await loadCsvManifest(out, path.dirname(out));
  const summary = (await fsp.readFile(path.join(tmp, 'clean', 'clean.summary.csv'), 'utf8')).trim().split('\n');
  expect(summary[0]).toBe('identity,dominant_subcenter,kept,dropped');
  const kept = summary.slice(1).reduce((n, l) => n + Number(l.split(',')[2]), 0);
  expect(clean.items).toHaveLength(kept);
  expect(clean.items.every((it) => it.path.startsWith(root))).toBe(true);
});

test('Ctrl-C writes a checkpoint and exits 130; --resume finishes the run', async () => {
  const out = path.join(tmp, 'sigint');
  const ctx = fakeCtx();
  // One worker, where the default on two cores would be two: --resume must keep the run's count.
  const running = runCli(['train', '--data', root, '--out', out, ...QUICK, '--epochs', '50', '--workers', '1'], ctx);
  const log = path.join(out, 'train-log.jsonl');
  while (!existsSync(log)) await new Promise((r) => setTimeout(r, 20));
  process.emit('SIGINT');
  expect(await running).toBe(130);
  expect(ctx.lines.err[ctx.lines.err.length - 1]).toMatch(
    /^arcinvert: interrupted at step \d+; continue with --resume /,
  );
  const ptr = JSON.parse(await fsp.readFile(path.join(out, 'checkpoint.json'), 'utf8'));
  expect(ptr.step).toBeGreaterThan(0);
  expect(ptr.step).toBeLessThan(300);
  expect(process.listenerCount('SIGINT')).toBe(0);

  const bad = fakeCtx();
  expect(await runCli(['train', '--resume', out, '--lr', '0.2'], bad)).toBe(2);
  expect(bad.lines.err).toEqual(["arcinvert: --resume continues with the run's own config; drop --lr"]);
  const again = fakeCtx();
  expect(
    await runCli(['train', '--resume', out, '--max-steps', String(ptr.step + 3), '--backend', 'wasm'], again),
  ).toBe(0);
  expect(again.lines.out[0]).toMatch(new RegExp(`^trained ${ptr.step + 3} steps`));
  expect(again.lines.err).toContain('workers: 1');
});

test('SIGTERM writes a checkpoint like Ctrl-C and exits 143', async () => {
  const out = path.join(tmp, 'sigterm');
  const ctx = fakeCtx();
  const running = runCli(['train', '--data', root, '--out', out, ...QUICK, '--epochs', '50'], ctx);
  const log = path.join(out, 'train-log.jsonl');
  while (!existsSync(log)) await new Promise((r) => setTimeout(r, 20));
  process.emit('SIGTERM');
  expect(await running).toBe(143);
  expect(ctx.lines.err[ctx.lines.err.length - 1]).toMatch(
    /^arcinvert: interrupted at step \d+; continue with --resume /,
  );
  const ptr = JSON.parse(await fsp.readFile(path.join(out, 'checkpoint.json'), 'utf8'));
  expect(ptr.step).toBeGreaterThan(0);
  expect(ptr.step).toBeLessThan(300);
  expect(process.listenerCount('SIGTERM')).toBe(0);
  expect(process.listenerCount('SIGINT')).toBe(0);
});

describe('bad input: one line, exit 2, nothing written', () => {
  let one: string;
  let empty: string;
  let strangers: string;
  beforeAll(async () => {
    strangers = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-strangers-'));
    for (const name of ['zz0', 'zz1'])
      for (let i = 0; i < 2; i++) await writeColourPng(path.join(strangers, name, `${i}.png`), [9, 9, 9], 16, i);
    one = await makeFaceFolder(3, 2, 16);
    await fsp.rm(path.join(one, 'id01', '1.png'));
    empty = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-empty-'));
    await fsp.writeFile(path.join(tmp, 'a-file'), 'x');
    await fsp.writeFile(path.join(tmp, 'broken.json'), '{"batchSize": 4,');
    await fsp.writeFile(path.join(tmp, 'badkey.json'), '{"batchSize": 4, "epoch": 2}');
    await fsp.writeFile(path.join(tmp, 'badvalue.json'), '{"lr": -1}');
  });
  afterAll(async () => {
    await fsp.rm(one, { recursive: true, force: true });
    await fsp.rm(empty, { recursive: true, force: true });
    await fsp.rm(strangers, { recursive: true, force: true });
  });

  const cases: Array<[string, () => string[], RegExp]> = [
    [
      'missing data dir',
      () => ['train', '--data', path.join(tmp, 'nope'), '--out', path.join(tmp, 'o1'), ...QUICK],
      /image folder not found/,
    ],
    ['empty data dir', () => ['train', '--data', empty, '--out', path.join(tmp, 'o2'), ...QUICK], /no images found/],
    [
      'identity with one image',
      () => ['train', '--data', one, '--out', path.join(tmp, 'o3'), ...QUICK],
      /identity 'id01' has 1 image/,
    ],
    ['no data flag', () => ['train', '--out', path.join(tmp, 'o4')], /--data DIR or --csv FILE/],
    ['run exists', () => ['train', '--data', root, '--out', run, ...QUICK], /already holds a training run/],
    [
      'unwritable output',
      () => ['train', '--data', root, '--out', path.join(tmp, 'a-file', 'o5'), ...QUICK],
      /cannot create directory/,
    ],
    [
      'bad lr',
      () => ['train', '--data', root, '--out', path.join(tmp, 'o6'), '--lr', '-1'],
      /--lr must be a positive number/,
    ],
    [
      'width on iresnet',
      () => ['train', '--data', root, '--out', path.join(tmp, 'o7'), ...QUICK, '--width', '8'],
      /--width applies to mobilefacenet only/,
    ],
    [
      'bad input size',
      () => ['train', '--data', root, '--out', path.join(tmp, 'o8'), ...QUICK, '--input-size', '20'],
      /multiple of 16|inputSize/,
    ],
    [
      'eval pairs missing',
      () => [
        'train',
        '--data',
        root,
        '--out',
        path.join(tmp, 'o9'),
        ...QUICK,
        '--eval-pairs',
        path.join(tmp, 'x.txt'),
        '--eval-images',
        tmp,
      ],
      /cannot read --eval-pairs/,
    ],
    [
      'config: not JSON',
      () => ['train', '--data', root, '--out', path.join(tmp, 'o13'), '--config', path.join(tmp, 'broken.json')],
      /^arcinvert: --config .*broken\.json is not valid JSON$/,
    ],
    [
      'config: unknown key',
      () => ['train', '--data', root, '--out', path.join(tmp, 'o14'), '--config', path.join(tmp, 'badkey.json')],
      /^arcinvert: train config: unknown key 'epoch'$/,
    ],
    [
      'config: bad value',
      () => ['train', '--data', root, '--out', path.join(tmp, 'o15'), '--config', path.join(tmp, 'badvalue.json')],
      /^arcinvert: train config: lr must be/,
    ],
    [
      'config: missing file',
      () => ['train', '--data', root, '--out', path.join(tmp, 'o16'), '--config', path.join(tmp, 'none.json')],
      /^arcinvert: cannot read --config .*none\.json: no such file or directory$/,
    ],
    [
      'resume with --config',
      () => ['train', '--resume', run, '--config', path.join(tmp, 'badvalue.json'), '--backend', 'wasm'],
      /^arcinvert: --resume continues with the run's own config; drop --config$/,
    ],
    [
      'resume: other identities',
      () => ['train', '--resume', run, '--data', strangers, '--backend', 'wasm'],
      /identities do not match the checkpoint/,
    ],
    [
      'eval: no model',
      () => ['eval', '--model', path.join(tmp, 'nope'), '--pairs', 'p', '--images', 'i'],
      /does not exist/,
    ],
    [
      'purify: model/data mismatch',
      () => ['purify', '--model', run, '--data', empty, '--out', path.join(tmp, 'o10', 'c.csv')],
      /no images found/,
    ],
    [
      'purify: unknown identities',
      () => [
        'purify',
        '--model',
        run,
        '--data',
        strangers,
        '--out',
        path.join(tmp, 'o11', 'c.csv'),
        '--backend',
        'wasm',
      ],
      /none of the data's 2 identities/,
    ],
    [
      'purify: bad angle',
      () => ['purify', '--model', run, '--data', root, '--out', path.join(tmp, 'o12', 'c.csv'), '--angle', '0'],
      /--angle must be in/,
    ],
  ];
  test.each(cases)('%s', async (_name, argv, message) => {
    const ctx = fakeCtx();
    const before = await fsp.readdir(tmp);
    expect(await runCli(argv(), ctx)).toBe(2);
    const errors = ctx.lines.err.filter((l) => l.startsWith('arcinvert:') || l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).not.toContain('\n');
    expect(await fsp.readdir(tmp)).toEqual(before);
  });
});

describe('train --config FILE: flags are merged over the file', () => {
  test("a run's config.json as --config gives the same config", async () => {
    const ctx = fakeCtx();
    const saved = JSON.parse(await fsp.readFile(path.join(run, 'config.json'), 'utf8'));
    const out = path.join(tmp, 'from-config');
    const argv = ['train', '--data', root, '--out', out, '--config', path.join(run, 'config.json')];
    expect(await runCli([...argv, '--max-steps', '1', '--backend', 'wasm'], ctx)).toBe(0);
    const cfgLine = ctx.lines.err.find((l) => l.startsWith('config: '))!;
    expect(JSON.parse(cfgLine.slice(8))).toEqual(saved);
  });

  test('given flags override the file; defaults of flags do not', async () => {
    const file = path.join(tmp, 'tiny.json');
    await fsp.writeFile(
      file,
      JSON.stringify({
        backbone: 'iresnet18',
        backboneConfig: { inputSize: [16, 16], embeddingSize: 8, layers: [1, 1, 1, 1], widths: [4, 8, 8, 16] },
        batchSize: 4,
        epochs: 1,
        valFraction: 0.25,
        lr: 0.05,
        flip: false,
      }),
    );
    const ctx = fakeCtx();
    const out = path.join(tmp, 'merged');
    const argv = ['train', '--data', root, '--out', out, '--config', file, '--lr', '0.02', '--embedding-size', '4'];
    expect(await runCli([...argv, '--max-steps', '1', '--backend', 'wasm'], ctx)).toBe(0);
    const cfg = JSON.parse(ctx.lines.err.find((l) => l.startsWith('config: '))!.slice(8));
    expect(cfg).toMatchObject({
      backbone: 'iresnet18',
      batchSize: 4,
      epochs: 1,
      valFraction: 0.25,
      lr: 0.02,
      flip: false,
    });
    expect(cfg.backboneConfig).toMatchObject({ inputSize: [16, 16], embeddingSize: 4, layers: [1, 1, 1, 1] });
  });
});
