/**
 * The standing bad-input suite (issue #18; the promises are in docs/RELIABILITY.md): the built
 * CLI, in child processes, over bad flags, bad files, bad images, bad models, outputs that
 * cannot be written, and signals, one table row each. For every row: the exit status; on
 * failure exactly one error line, last on stderr, naming the bad thing, and no stack trace;
 * and that nothing the row names changed (by default the row's whole folder, inputs and
 * `--out` included, when the command fails).
 */
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadFaceModel, embedFiles, invert, resolveInvertConfig } from '../../src/index.js';
import { fixtures, flatPng, removeFixtures, type Fixtures } from './fixtures.js';
import { CRASH, errorLines, hashTree, linesOf, Pool, runArcinvert, type Fault, type Ran } from './run.js';

/** What a row gets: its own empty folder (also the command's working directory) and the shared inputs. */
interface Ctx {
  tmp: string;
  fx: Fixtures;
}

type Cmd = 'embed' | 'invert' | 'train' | 'eval' | 'import' | 'calibrate' | 'align' | 'leakage';

interface Row {
  name: string;
  args: (c: Ctx) => string[];
  setup?: (c: Ctx) => Promise<void>;
  /** Exit status (or any of several), or 'killed' for a run ended by SIGKILL. */
  expectExit: number | number[] | 'killed';
  /** Failure: the one error line. Success: some stderr line (e.g. the skipped photo). */
  stderr?: RegExp;
  /** No stderr line may match. */
  notStderr?: RegExp;
  /** Paths that must be byte-identical after the run (default: the row's folder when it fails). */
  untouched?: (c: Ctx) => string[];
  /** Further checks after the run. */
  check?: (c: Ctx, r: Ran) => Promise<void>;
  fault?: Fault;
  timeoutMs?: number;
}

const at = (c: Ctx, ...p: string[]): string => path.join(c.tmp, ...p);

/** `invert` of the fixture's two targets through the tiny model, 2 steps, on this thread. */
const invertArgs = (c: Ctx, out: string, ...more: string[]): string[] => [
  'invert',
  '--model',
  c.fx.model,
  '--embedding',
  c.fx.vec,
  '--steps',
  '2',
  '--seeds',
  '1',
  '--workers',
  '1',
  '--backend',
  'wasm',
  '--out',
  out,
  ...more,
];

/** The same inversion, long enough to be interrupted; `workers` 2 shares 4 batches between two threads. */
const longInvert = (c: Ctx, out: string, workers: number, ...more: string[]): string[] => [
  ...invertArgs(c, out, ...more),
  '--steps',
  '100000',
  '--seeds',
  '2',
  '--batch-size',
  '1',
  '--workers',
  String(workers),
];

/** A pre-existing output of an earlier run, as the overwrite and SIGKILL rows find it. */
async function oldOutput(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'report.json'), '{"old": true}\n');
  await fsp.writeFile(path.join(dir, 't000_s0.png'), 'old image bytes');
}

const embedArgs = (c: Ctx, model: string, images: string[], out = at(c, 'out', 'e.npy')): string[] => [
  'embed',
  '--model',
  model,
  '--images',
  ...images,
  '--out',
  out,
  '--backend',
  'wasm',
];

/** Once the inversion has started its steps (its config line is out), plus `ms`. */
const whenInverting = (signal: NodeJS.Signals, ms: number): Fault => ({
  signal,
  when: (s) => s.includes('\nconfig: '),
  delayMs: ms,
});

/** The interrupted run wrote its best images and a report saying so. */
async function wroteBest(c: Ctx): Promise<void> {
  const report = JSON.parse(await fsp.readFile(at(c, 'out', 'report.json'), 'utf8'));
  expect(report.aborted).toBe(true);
  expect(report.images.length).toBeGreaterThanOrEqual(1);
  expect(existsSync(at(c, 'out', 'sheet.png'))).toBe(true);
  for (const im of report.images) expect(existsSync(at(c, 'out', im.file))).toBe(true);
}

/** Every .bin file of a run's final checkpoint, by name. */
async function checkpointBins(run: string): Promise<Record<string, Buffer>> {
  const ptr = JSON.parse(await fsp.readFile(path.join(run, 'checkpoint.json'), 'utf8'));
  const dir = path.join(run, ptr.path);
  const out: Record<string, Buffer> = {};
  for (const f of (await fsp.readdir(dir)).sort())
    if (f.endsWith('.bin')) out[f.replace(/-[0-9a-f]{12}\.bin$/, '.bin')] = await fsp.readFile(path.join(dir, f));
  return out;
}

const ROWS: Row[] = [
  // ── bad flags (commander and the option parsers): refused before anything is loaded ──
  {
    name: 'embed: unknown flag',
    args: (c) => [...embedArgs(c, c.fx.model, [c.fx.crops]), '--bogus'],
    expectExit: 2,
    stderr: /^error: unknown option '--bogus'/,
  },
  {
    name: 'embed: missing required --out',
    args: (c) => ['embed', '--model', c.fx.model, '--images', c.fx.crops],
    expectExit: 2,
    stderr: /required option '--out <file\.npy>' not specified/,
  },
  {
    name: 'embed: --out not a .npy',
    args: (c) => embedArgs(c, c.fx.model, [c.fx.crops], at(c, 'e.txt')),
    expectExit: 2,
    stderr: /^arcinvert: --out must name a \.npy file, got '.*e\.txt'$/,
  },
  {
    name: 'embed: --batch-size 0',
    args: (c) => [...embedArgs(c, c.fx.model, [c.fx.crops]), '--batch-size', '0'],
    expectExit: 2,
    stderr: /--batch-size must be a positive integer, got '0'/,
  },
  {
    name: 'invert: negative --steps',
    args: (c) => invertArgs(c, at(c, 'out'), '--steps', '-3'),
    expectExit: 2,
    stderr: /--steps must be a positive integer, got '-3'/,
  },
  {
    name: 'invert: --steps not a number',
    args: (c) => invertArgs(c, at(c, 'out'), '--steps', 'ten'),
    expectExit: 2,
    stderr: /--steps must be a positive integer, got 'ten'/,
  },
  {
    name: 'invert: --lr NaN',
    args: (c) => invertArgs(c, at(c, 'out'), '--lr', 'NaN'),
    expectExit: 2,
    stderr: /--lr must be a number ≥ 0, got 'NaN'/,
  },
  {
    name: 'invert: --workers 0',
    args: (c) => invertArgs(c, at(c, 'out'), '--workers', '0'),
    expectExit: 2,
    stderr: /--workers must be a positive integer, got '0'/,
  },
  {
    name: 'invert: no target source',
    args: (c) => ['invert', '--model', c.fx.model, '--out', at(c, 'out')],
    expectExit: 2,
    stderr: /exactly one target source: --embedding, --image, --class or --random/,
  },
  {
    name: 'invert: two target sources',
    args: (c) => invertArgs(c, at(c, 'out'), '--random', '2'),
    expectExit: 2,
    stderr: /exactly one target source/,
  },
  {
    name: 'invert: arcface identity loss without --class',
    args: (c) => invertArgs(c, at(c, 'out'), '--identity-loss', 'arcface'),
    expectExit: 2,
    stderr: /--identity-loss arcface needs class targets \(--class\)/,
  },
  {
    name: 'invert: --identity-loss not a choice',
    args: (c) => invertArgs(c, at(c, 'out'), '--identity-loss', 'cosin'),
    expectExit: 2,
    stderr: /--identity-loss .*argument 'cosin' is invalid/,
  },
  {
    name: 'invert: --config file not JSON',
    setup: async (c) => fsp.writeFile(at(c, 'cfg.json'), '{"steps": 2,'),
    args: (c) => invertArgs(c, at(c, 'out'), '--config', at(c, 'cfg.json')),
    expectExit: 2,
    stderr: /--config .*cfg\.json is not valid JSON/,
  },
  {
    name: 'invert: --config unknown key',
    setup: async (c) => fsp.writeFile(at(c, 'cfg.json'), '{"step": 2}'),
    args: (c) => invertArgs(c, at(c, 'out'), '--config', at(c, 'cfg.json')),
    expectExit: 2,
    stderr: /invert config: unknown key 'step'/,
  },
  {
    name: 'train: --lr -1',
    args: (c) => ['train', '--data', c.fx.faces, '--out', at(c, 'run'), '--lr', '-1'],
    expectExit: 2,
    stderr: /--lr must be a positive number, got '-1'/,
  },
  {
    name: 'train: neither --data nor --csv',
    args: (c) => ['train', '--out', at(c, 'run')],
    expectExit: 2,
    stderr: /--data DIR or --csv FILE/,
  },
  {
    name: 'train: --backbone-config not JSON',
    args: (c) => ['train', '--data', c.fx.faces, '--out', at(c, 'run'), '--backbone-config', '{layers'],
    expectExit: 2,
    stderr: /--backbone-config must be a JSON object, got '\{layers'/,
  },
  {
    name: 'eval: missing required --images',
    args: (c) => ['eval', '--model', c.fx.model, '--pairs', c.fx.pairs.malformed],
    expectExit: 2,
    stderr: /required option '--images <dir>' not specified/,
  },
  {
    name: 'import: --min-cosine out of range',
    args: (c) => ['import', '--onnx', c.fx.onnx.good, '--out', at(c, 'm'), '--min-cosine', '2'],
    expectExit: 2,
    stderr: /--min-cosine must be in \(0, 1\], got '2'/,
  },
  {
    name: 'import: --std 0',
    args: (c) => ['import', '--onnx', c.fx.onnx.good, '--out', at(c, 'm'), '--std', '0'],
    expectExit: 2,
    stderr: /--std must be a positive number, got '0'/,
  },
  {
    name: 'calibrate: --n 0',
    args: (c) => ['calibrate', '--model', c.fx.model, '--images', c.fx.crops, '--n', '0'],
    expectExit: 2,
    stderr: /--n must be a positive integer, got '0'/,
  },
  {
    name: 'align: --min-confidence 1.5',
    args: (c) => ['align', c.fx.photo, '--out', at(c, 'out'), '--min-confidence', '1.5'],
    expectExit: 2,
    stderr: /--min-confidence must be a number in \[0, 1\], got '1\.5'/,
  },
  {
    name: 'align: --backend not a choice',
    args: (c) => ['align', c.fx.photo, '--out', at(c, 'out'), '--backend', 'gpu'],
    expectExit: 2,
    stderr: /--backend .*argument 'gpu' is invalid/,
  },
  {
    name: 'leakage: neither --reconstructions nor --invert',
    args: (c) => ['leakage', '--model', c.fx.model, '--out', at(c, 'out')],
    expectExit: 2,
    stderr: /exactly one of --reconstructions DIR or --invert/,
  },
  {
    name: 'leakage: --invert without --targets',
    args: (c) => ['leakage', '--model', c.fx.model, '--invert', '--out', at(c, 'out')],
    expectExit: 2,
    stderr: /--invert needs --targets DIR/,
  },
  {
    name: 'leakage: --fmr out of range',
    args: (c) => [
      'leakage',
      '--model',
      c.fx.model,
      '--invert',
      '--targets',
      c.fx.faces32,
      '--fmr',
      '2',
      '--out',
      at(c, 'o'),
    ],
    expectExit: 2,
    stderr: /--fmr must be a comma-separated list of rates in \(0, 1\), got '2'/,
  },

  // ── bad or missing input files ──
  {
    name: 'invert: --embedding missing',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', at(c, 'nope.npy')),
    expectExit: 2,
    stderr: /nope\.npy/,
  },
  {
    name: 'invert: .npy with a bad magic',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.badMagic),
    expectExit: 2,
    stderr: /bad-magic\.npy.*(not a \.npy|magic)/i,
  },
  {
    name: 'invert: .npy that is text',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.text),
    expectExit: 2,
    stderr: /text\.npy/,
  },
  {
    name: 'invert: truncated .npy',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.truncated),
    expectExit: 2,
    stderr: /truncated\.npy.*(truncated|bytes)/,
  },
  {
    name: 'invert: int32 .npy',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.int32),
    expectExit: 2,
    stderr: /i4\.npy.*(<i4|int32|dtype|float32)/,
  },
  {
    name: 'invert: rank-3 .npy',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.rank3),
    expectExit: 2,
    stderr: /f4_3d\.npy.*(rank|dimension|1-D|2-D|\(2, 2, 2\))/,
  },
  {
    name: 'invert: empty .npy (0 rows)',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.empty),
    expectExit: 2,
    stderr: /empty\.npy/,
  },
  {
    name: 'invert: .npy of 4-d rows for a 16-d model',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.dim4),
    expectExit: 2,
    stderr: /f4_2d\.npy.*\b4\b.*\b16\b|f4_2d\.npy.*\b16\b.*\b4\b/,
  },
  {
    name: 'invert: .npy with NaN',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.nan),
    expectExit: 2,
    stderr: /nan\.npy/,
  },
  {
    name: 'invert: .npy header shape that overflows prints the shape',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', c.fx.npy.overflow),
    expectExit: 2,
    stderr: /overflow\.npy.*4294967296, ?4294967296/,
    notStderr: /\d{17,} data bytes/,
  },
  {
    name: 'invert: --embedding /dev/zero is refused at once',
    args: (c) => invertArgs(c, at(c, 'out'), '--embedding', '/dev/zero'),
    expectExit: 2,
    stderr: /\/dev\/zero.*(not a regular file|too large)/,
    timeoutMs: 10_000,
  },
  {
    name: 'embed: no images under --images',
    setup: async (c) => fsp.mkdir(at(c, 'empty')),
    args: (c) => embedArgs(c, c.fx.model, [at(c, 'empty')]),
    expectExit: 2,
    stderr: /no image files .* found in .*empty$/,
  },
  {
    name: 'embed: --images path missing',
    args: (c) => embedArgs(c, c.fx.model, [at(c, 'nowhere')]),
    expectExit: 2,
    stderr: /nowhere/,
  },
  {
    name: 'eval: pairs file missing (no raw errno)',
    args: (c) => ['eval', '--model', c.fx.model, '--pairs', at(c, 'nope.txt'), '--images', c.fx.crops],
    expectExit: 2,
    stderr: /cannot read (--pairs|pairs file) .*nope\.txt/,
    notStderr: /ENOENT/,
  },
  {
    name: 'eval: malformed pairs file',
    args: (c) => ['eval', '--model', c.fx.model, '--pairs', c.fx.pairs.malformed, '--images', c.fx.crops],
    expectExit: 2,
    stderr: /pairs-malformed\.txt/,
  },
  {
    name: 'train: data folder missing',
    args: (c) => ['train', '--data', at(c, 'nope'), '--out', at(c, 'run'), ...c.fx.trainFlags],
    expectExit: 2,
    stderr: /image folder not found.*nope/,
  },
  {
    name: 'train: --csv manifest missing',
    args: (c) => ['train', '--csv', at(c, 'nope.csv'), '--out', at(c, 'run'), ...c.fx.trainFlags],
    expectExit: 2,
    stderr: /nope\.csv/,
  },
  {
    name: 'train: --eval-pairs missing',
    args: (c) => [
      'train',
      '--data',
      c.fx.faces,
      '--out',
      at(c, 'run'),
      ...c.fx.trainFlags,
      '--eval-pairs',
      at(c, 'p.txt'),
      '--eval-images',
      c.fx.faces,
    ],
    expectExit: 2,
    stderr: /cannot read --eval-pairs .*p\.txt/,
  },
  {
    name: 'import: --onnx missing',
    args: (c) => ['import', '--onnx', at(c, 'nope.onnx'), '--out', at(c, 'm')],
    expectExit: 2,
    stderr: /nope\.onnx/,
  },
  {
    name: 'import: truncated ONNX',
    args: (c) => ['import', '--onnx', c.fx.onnx.truncated, '--out', at(c, 'm')],
    expectExit: 2,
    stderr: /cut\.onnx.*(truncated|not a readable ONNX)/,
  },
  {
    name: 'import: not an ONNX file',
    args: (c) => ['import', '--onnx', c.fx.onnx.text, '--out', at(c, 'm')],
    expectExit: 2,
    stderr: /text\.onnx is not (a readable ONNX model|an ONNX model)/,
  },
  {
    name: 'import: unsupported operator',
    args: (c) => ['import', '--onnx', c.fx.onnx.sigmoid, '--out', at(c, 'm')],
    expectExit: 2,
    stderr: /unsupported ONNX operator Sigmoid .* at node '/,
  },
  {
    name: 'leakage: --reconstructions missing',
    args: (c) => [
      'leakage',
      '--model',
      c.fx.model,
      '--reconstructions',
      at(c, 'nope'),
      '--judge',
      'none',
      '--out',
      at(c, 'out'),
    ],
    expectExit: 2,
    stderr: /nope/,
  },
  {
    name: 'leakage: --impostor-pairs malformed',
    args: (c) => [
      'leakage',
      '--model',
      c.fx.model,
      '--invert',
      '--targets',
      c.fx.faces32,
      '--impostor-pairs',
      c.fx.pairs.malformed,
      '--out',
      at(c, 'out'),
    ],
    expectExit: 2,
    stderr: /pairs-malformed\.txt/,
  },
  {
    name: 'train --resume: a folder without a checkpoint',
    setup: async (c) => fsp.mkdir(at(c, 'run')),
    args: (c) => ['train', '--resume', at(c, 'run'), '--backend', 'wasm'],
    expectExit: 2,
    stderr: /no training checkpoint in .*run/,
  },
  {
    name: 'train --resume: corrupt state.json',
    setup: async (c) => {
      await fsp.cp(c.fx.run, at(c, 'run'), { recursive: true });
      const ptr = JSON.parse(await fsp.readFile(at(c, 'run', 'checkpoint.json'), 'utf8'));
      await fsp.writeFile(at(c, 'run', ptr.path, 'state.json'), '{"step": 2, "epo');
    },
    args: (c) => ['train', '--resume', at(c, 'run'), '--backend', 'wasm'],
    expectExit: 2,
    stderr: /state\.json/,
  },
  {
    name: 'train --resume: dangling checkpoint pointer',
    setup: async (c) => {
      await fsp.cp(c.fx.run, at(c, 'run'), { recursive: true });
      await fsp.writeFile(at(c, 'run', 'checkpoint.json'), '{"path": "checkpoints/step-00000999", "step": 999}\n');
    },
    args: (c) => ['train', '--resume', at(c, 'run'), '--backend', 'wasm'],
    expectExit: 2,
    stderr: /step-00000999/,
  },
  {
    name: 'invert: a listing entry outside its folder (../) is refused and reported',
    setup: async (c) => {
      await fsp.mkdir(at(c, 'in'));
      await fsp.copyFile(c.fx.vec, at(c, 'in', 'vec.npy'));
      await fsp.copyFile(path.join(c.fx.crops, 'a.png'), at(c, 'outside.png'));
      await fsp.copyFile(path.join(c.fx.crops, 'b.png'), at(c, 'in', 'b.png'));
      await fsp.writeFile(at(c, 'in', 'vec.txt'), '../outside.png\nb.png\n');
    },
    args: (c) => [...invertArgs(c, at(c, 'out')), '--embedding', at(c, 'in', 'vec.npy')],
    expectExit: [0, 2],
    stderr: /outside\.png/,
    untouched: (c) => [at(c, 'in')],
    check: async (c) => {
      if (!existsSync(at(c, 'out', 'report.json'))) return;
      expect(await fsp.readFile(at(c, 'out', 'report.json'), 'utf8')).not.toContain('outside.png');
    },
  },

  // ── bad images in a batch: skipped and listed; nothing usable left is exit 2 ──
  {
    name: 'embed: only corrupt images',
    args: (c) => embedArgs(c, c.fx.model, [c.fx.corrupt]),
    expectExit: 2,
    stderr: /corrupt\.png|no face|no usable/,
  },
  {
    name: 'embed: a corrupt image among good ones is skipped and listed',
    args: (c) => embedArgs(c, c.fx.model, [c.fx.crops, c.fx.corrupt]),
    expectExit: 0,
    stderr: /skipped .*corrupt\.png/,
    check: async (c) => {
      const listing = (await fsp.readFile(at(c, 'out', 'e.jsonl'), 'utf8')).trim().split('\n');
      expect(listing.map((l) => path.basename(JSON.parse(l) as string)).sort()).toEqual(['a.png', 'b.png']);
    },
  },
  {
    name: 'align: a photo without a face only',
    args: (c) => ['align', c.fx.crops, '--out', at(c, 'out')],
    expectExit: 2,
    stderr: /no face found in any of the 2 photo\(s\)/,
  },
  {
    name: 'align: a 20×20 photo is skipped and listed, the face is aligned',
    args: (c) => ['align', c.fx.photo, c.fx.tiny20, '--out', at(c, 'out')],
    expectExit: 0,
    stderr: /skipped .*tiny20\.png/,
    check: async (c) => {
      const manifest = JSON.parse(await fsp.readFile(at(c, 'out', 'align.json'), 'utf8'));
      expect(manifest.aligned).toHaveLength(1);
      expect(JSON.stringify(manifest.skipped)).toContain('tiny20.png');
    },
  },
  {
    name: 'align: only tiny photos is exit 2',
    args: (c) => ['align', c.fx.tiny20, c.fx.tiny24, '--out', at(c, 'out')],
    expectExit: 2,
    stderr: /none of the 2 image\(s\) could be used: too small to align/,
  },
  {
    name: 'embed --align auto: a 20×20 photo is skipped, the crops embedded',
    args: (c) => embedArgs(c, c.fx.model, [c.fx.crops, c.fx.tiny20]),
    expectExit: 0,
    stderr: /skipped .*tiny20\.png/,
    check: async (c) => {
      expect((await fsp.readFile(at(c, 'out', 'e.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(2);
    },
  },
  {
    name: 'align: a 12000×12000 PNG is bounded or refused',
    setup: async (c) => flatPng(at(c, 'huge.png'), 12000, 12000),
    args: (c) => ['align', at(c, 'huge.png'), '--out', at(c, 'out')],
    expectExit: 2,
    stderr: /huge\.png|no face|pixel/,
    // Decoded shrunk to 2048 px (peak RSS about 0.55 GB, tests/cli/align.test.ts measures it); about 20 s.
    timeoutMs: 90_000,
  },
  {
    name: 'embed: a newline in a file name round-trips to invert without losing rows',
    setup: async (c) => {
      await fsp.mkdir(at(c, 'photos'));
      await fsp.copyFile(path.join(c.fx.crops, 'a.png'), at(c, 'photos', 'new\nline.png'));
      await fsp.copyFile(path.join(c.fx.crops, 'b.png'), at(c, 'photos', 'b.png'));
    },
    args: (c) => embedArgs(c, c.fx.model, [at(c, 'photos')], at(c, 'emb', 'e.npy')),
    expectExit: 0,
    check: async (c) => {
      // The photos sit outside the listing's folder: --listing-root names where listed photos may be read.
      const invert = [...invertArgs(c, at(c, 'out')), '--embedding', at(c, 'emb', 'e.npy'), '--listing-root', c.tmp];
      const r = await runArcinvert(invert, {
        cwd: c.tmp,
        timeoutMs: 60_000,
      });
      expect(r.code).toBe(0);
      const report = JSON.parse(await fsp.readFile(at(c, 'out', 'report.json'), 'utf8'));
      expect(report.targets.map((t: { source: string | null }) => t.source && path.basename(t.source)).sort()).toEqual([
        'b.png',
        'new\nline.png',
      ]);
    },
  },

  // ── bad models ──
  {
    name: 'embed: model folder missing',
    args: (c) => embedArgs(c, at(c, 'nope'), [c.fx.crops]),
    expectExit: 2,
    stderr: /model directory .*nope does not exist/,
  },
  {
    name: 'embed: folder without model.json',
    args: (c) => embedArgs(c, c.fx.notModel, [c.fx.crops]),
    expectExit: 2,
    stderr: /not-a-model/,
  },
  {
    name: 'invert: model.json not JSON',
    args: (c) => invertArgs(c, at(c, 'out'), '--model', c.fx.garbageModel),
    expectExit: 2,
    stderr: /garbage-model/,
  },
  {
    name: 'calibrate: model folder missing',
    args: (c) => ['calibrate', '--model', at(c, 'nope'), '--images', c.fx.crops],
    expectExit: 2,
    stderr: /nope/,
  },
  {
    name: 'eval: model folder missing',
    args: (c) => ['eval', '--model', at(c, 'nope'), '--pairs', c.fx.pairs.malformed, '--images', c.fx.crops],
    expectExit: 2,
    stderr: /nope.*does not exist|no model in .*nope/,
  },
  {
    name: 'embed: a model whose weights are NaN is refused',
    args: (c) => embedArgs(c, c.fx.nanModel, [c.fx.crops]),
    expectExit: 2,
    stderr: /nan-model.*(NaN|non-finite|not finite)/i,
  },
  {
    name: 'embed: metadata embedding size ≠ topology',
    args: (c) => embedArgs(c, c.fx.badMetaModel, [c.fx.crops]),
    expectExit: 2,
    stderr: /bad-meta-model.*\b17\b.*\b16\b|bad-meta-model.*\b16\b.*\b17\b/,
  },
  {
    name: 'invert: metadata embedding size ≠ topology',
    args: (c) => ['invert', '--model', c.fx.badMetaModel, '--random', '1', '--steps', '2', '--out', at(c, 'out')],
    expectExit: 2,
    stderr: /bad-meta-model.*\b1[67]\b/,
  },

  // ── outputs that cannot be staged, or exist ──
  {
    name: 'invert: --out is a file',
    setup: async (c) => fsp.writeFile(at(c, 'out'), 'a file'),
    args: (c) => invertArgs(c, at(c, 'out')),
    expectExit: 2,
    stderr: /out/,
  },
  {
    name: 'invert: --out not empty, no --overwrite',
    setup: async (c) => oldOutput(at(c, 'out')),
    args: (c) => invertArgs(c, at(c, 'out')),
    expectExit: 2,
    stderr: /--overwrite/,
  },
  {
    name: 'import: --out not empty, no --overwrite',
    setup: async (c) => oldOutput(at(c, 'm')),
    args: (c) => ['import', '--onnx', c.fx.onnx.good, '--out', at(c, 'm'), '--no-verify'],
    expectExit: 2,
    stderr: /--overwrite/,
  },
  {
    name: 'train: --out already holds a run',
    setup: async (c) => fsp.cp(c.fx.run, at(c, 'run'), { recursive: true }),
    args: (c) => ['train', '--data', c.fx.faces, '--out', at(c, 'run'), ...c.fx.trainFlags],
    expectExit: 2,
    stderr: /already holds a training run/,
  },
  {
    name: 'invert --out . is refused before any work',
    args: (c) => invertArgs(c, '.'),
    expectExit: 2,
    stderr: /--out '?\.'?/,
    notStderr: /^inverting /m,
  },
  {
    name: 'invert: a 250-character --out name is refused before any work',
    args: (c) => invertArgs(c, at(c, 'x'.repeat(250))),
    expectExit: 2,
    stderr: /x{250}.*(long|NAME_MAX|too)|(long|NAME_MAX).*x{250}/,
    notStderr: /^inverting /m,
  },
  {
    name: 'invert --overwrite: --out holding the input .npy is refused',
    setup: async (c) => {
      await oldOutput(at(c, 'out'));
      await fsp.copyFile(c.fx.vec, at(c, 'out', 'vec.npy'));
    },
    args: (c) => [...invertArgs(c, at(c, 'out'), '--overwrite'), '--embedding', at(c, 'out', 'vec.npy')],
    expectExit: 2,
    stderr: /vec\.npy/,
  },
  {
    name: 'leakage: an existing report is not replaced without --overwrite',
    setup: async (c) => {
      await fsp.mkdir(at(c, 'out'));
      await fsp.writeFile(at(c, 'out', 'leakage.md'), '# an earlier report\n');
    },
    args: (c) => [
      'leakage',
      '--model',
      c.fx.model,
      '--invert',
      '--targets',
      c.fx.faces32,
      '--limit',
      '2',
      '--steps',
      '2',
      '--seeds',
      '1',
      '--workers',
      '1',
      '--judge',
      'none',
      '--backend',
      'wasm',
      '--out',
      at(c, 'out'),
    ],
    expectExit: 2,
    stderr: /--overwrite/,
    timeoutMs: 60_000,
  },
  {
    name: 'invert: a stale staging folder of a dead process is removed and mentioned',
    setup: async (c) => {
      await fsp.mkdir(at(c, '.out.partial-999999'));
      await fsp.writeFile(at(c, '.out.partial-999999', 't000_s0.png'), 'stale');
    },
    args: (c) => invertArgs(c, at(c, 'out')),
    expectExit: 0,
    stderr: /\.out\.partial-999999/,
    check: async (c) => expect(existsSync(at(c, '.out.partial-999999'))).toBe(false),
  },

  // ── signals during invert ──
  {
    name: 'invert: SIGINT writes the best images and the report, exit 130',
    args: (c) => longInvert(c, at(c, 'out'), 1),
    fault: whenInverting('SIGINT', 1500),
    expectExit: 130,
    stderr: /^arcinvert: interrupted/,
    untouched: () => [],
    check: wroteBest,
  },
  {
    name: 'invert --workers 2: SIGINT writes the best images and the report, exit 130',
    args: (c) => longInvert(c, at(c, 'out'), 2),
    fault: whenInverting('SIGINT', 4000),
    expectExit: 130,
    stderr: /^arcinvert: interrupted/,
    untouched: () => [],
    check: wroteBest,
  },
  {
    name: 'invert: SIGTERM writes the best images and the report, exit 143',
    args: (c) => longInvert(c, at(c, 'out'), 1),
    fault: whenInverting('SIGTERM', 1500),
    expectExit: 143,
    stderr: /^arcinvert: interrupted/,
    untouched: () => [],
    check: wroteBest,
    timeoutMs: 30_000,
  },
  {
    name: 'invert --workers 2: SIGTERM writes the best images and the report, exit 143',
    args: (c) => longInvert(c, at(c, 'out'), 2),
    fault: whenInverting('SIGTERM', 4000),
    expectExit: 143,
    stderr: /^arcinvert: interrupted/,
    untouched: () => [],
    check: wroteBest,
    timeoutMs: 30_000,
  },
  {
    name: 'invert --overwrite: SIGKILL leaves the previous --out byte-identical',
    setup: async (c) => oldOutput(at(c, 'out')),
    args: (c) => longInvert(c, at(c, 'out'), 1, '--overwrite'),
    fault: whenInverting('SIGKILL', 1000),
    expectExit: 'killed',
    untouched: (c) => [at(c, 'out')],
  },
  {
    name: 'invert --overwrite --workers 2: SIGKILL leaves the previous --out byte-identical',
    setup: async (c) => oldOutput(at(c, 'out')),
    args: (c) => longInvert(c, at(c, 'out'), 2, '--overwrite'),
    fault: whenInverting('SIGKILL', 3000),
    expectExit: 'killed',
    untouched: (c) => [at(c, 'out')],
  },

  // ── crashes during training, resume ──
  {
    // The in-process twin (checkpoint + resume bit for bit, no process boundary) is
    // tests/train/resume.test.ts '8 steps straight equal 4 steps + checkpoint + resume + 4 steps, bit for bit'.
    name: 'train: SIGKILL, then --resume, gives the weights of an uninterrupted run',
    setup: async (c) => {
      const straight = await runArcinvert(
        ['train', '--data', c.fx.faces, '--out', at(c, 'straight'), ...trainLong(c), '--max-steps', '9'],
        { cwd: c.tmp, timeoutMs: 60_000 },
      );
      expect(straight.code).toBe(0);
    },
    args: (c) => ['train', '--data', c.fx.faces, '--out', at(c, 'killed'), ...trainLong(c)],
    fault: { signal: 'SIGKILL', when: (s) => /checkpoint step [3-8] /.test(s) },
    expectExit: 'killed',
    untouched: () => [],
    timeoutMs: 60_000,
    check: async (c) => {
      const ptr = JSON.parse(await fsp.readFile(at(c, 'killed', 'checkpoint.json'), 'utf8'));
      expect(ptr.step).toBeLessThan(9);
      const resumed = await runArcinvert(['train', '--resume', at(c, 'killed'), '--max-steps', '9', '--workers', '1'], {
        cwd: c.tmp,
        timeoutMs: 60_000,
      });
      expect(resumed.code).toBe(0);
      const [a, b] = [await checkpointBins(at(c, 'straight')), await checkpointBins(at(c, 'killed'))];
      expect(Object.keys(b)).toEqual(Object.keys(a));
      for (const k of Object.keys(a)) expect({ [k]: b[k].equals(a[k]) }).toEqual({ [k]: true });
    },
  },
  {
    name: 'train --resume on a run another train process holds is refused',
    setup: async (c) => {
      const r = await runArcinvert(
        ['train', '--data', c.fx.faces, '--out', at(c, 'run'), ...trainLong(c), '--max-steps', '2'],
        { cwd: c.tmp, timeoutMs: 60_000 },
      );
      expect(r.code).toBe(0);
    },
    args: (c) => ['train', '--resume', at(c, 'run'), '--backend', 'wasm'],
    expectExit: 2,
    stderr: /lock|in use|another/,
    untouched: () => [],
  },
];

/** Flags of a training run long enough to be killed: 50 epochs of 6 steps, a checkpoint after every step. */
const trainLong = (c: Ctx): string[] => [
  ...c.fx.trainFlags,
  '--epochs',
  '50',
  '--checkpoint-every',
  '0.00001',
  '--workers',
  '1',
];

/** The lock row holds the run with a second, long `train --resume` while the row's own one runs. */
const LOCK_ROW = 'train --resume on a run another train process holds is refused';

const pool = new Pool(2);
const suiteRoot = fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-rows-'));
afterAll(async () => {
  await fsp.rm(await suiteRoot, { recursive: true, force: true });
  await removeFixtures();
});

const commandOf = (row: Row, fx: Fixtures): Cmd => row.args({ tmp: '/t', fx })[0] as Cmd;

async function runRow(row: Row, index: number): Promise<void> {
  const fx = await fixtures();
  const tmp = path.join(await suiteRoot, `row${String(index).padStart(3, '0')}`);
  await fsp.mkdir(tmp);
  const c: Ctx = { tmp, fx };
  await row.setup?.(c);
  const watched = row.untouched ? row.untouched(c) : row.expectExit === 0 ? [] : [tmp];
  const before = await Promise.all(watched.map(hashTree));
  const r = await pool.use(async () => {
    if (row.name !== LOCK_ROW)
      return runArcinvert(row.args(c), { cwd: tmp, timeoutMs: row.timeoutMs ?? 60_000, fault: row.fault });
    // Killed by its timeout once the second one is done.
    const holder = runArcinvert(['train', '--resume', at(c, 'run')], { cwd: tmp, timeoutMs: 10_000 });
    await new Promise((res) => setTimeout(res, 4000));
    const second = await runArcinvert(row.args(c), { cwd: tmp, timeoutMs: 30_000 });
    await holder.then(
      () => undefined,
      () => undefined,
    );
    return second;
  });
  const context = `${commandOf(row, fx)} exit ${r.code} signal ${r.signal} after ${r.ms} ms, stderr:\n${r.stderr}`;
  expect({ timedOut: r.timedOut, context }).toEqual({ timedOut: false, context });
  if (row.expectExit === 'killed') expect({ signal: r.signal, context }).toEqual({ signal: 'SIGKILL', context });
  else {
    const allowed = Array.isArray(row.expectExit) ? row.expectExit : [row.expectExit];
    expect({ allowed: allowed.includes(r.code as number), context }).toEqual({ allowed: true, context });
    expect(r.stderr).not.toMatch(CRASH);
    if (r.code !== 0) {
      const errors = errorLines(r.stderr);
      expect({ errors, context }).toEqual({ errors: [expect.stringMatching(row.stderr ?? /./)], context });
      expect(linesOf(r.stderr).at(-1)).toBe(errors[0]);
    } else if (row.stderr) expect(linesOf(r.stderr)).toContainEqual(expect.stringMatching(row.stderr));
    if (row.notStderr) expect(r.stderr).not.toMatch(row.notStderr);
  }
  const after = await Promise.all(watched.map(hashTree));
  expect(after).toEqual(before);
  await row.check?.(c, r);
}

describe('bad inputs and faults through the built CLI', () => {
  ROWS.forEach((row, i) => {
    test.concurrent(row.name, () => runRow(row, i), 180_000);
  });

  test('the table covers every command and at least 40 rows', async () => {
    const fx = await fixtures();
    const commands = new Set(ROWS.map((r) => commandOf(r, fx)));
    expect([...commands].sort()).toEqual(
      ['align', 'calibrate', 'embed', 'eval', 'import', 'invert', 'leakage', 'train'].sort(),
    );
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
  });
});

test('repeated library calls (load, embed, invert) leave no tensors behind', async () => {
  const fx = await fixtures();
  const files = [path.join(fx.crops, 'a.png'), path.join(fx.crops, 'b.png')];
  const config = resolveInvertConfig({ outputSize: 0, steps: 2, seeds: 1, batchSize: 2 });
  const once = async (): Promise<void> => {
    const fm = await loadFaceModel(fx.model);
    const embeddings = await embedFiles(fm, files);
    await invert(fm, { embeddings, dim: fm.meta.embeddingSize }, config);
    fm.model.dispose();
  };
  await once();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await once();
  expect(tf.memory().numTensors).toBe(before);
});
