/**
 * `npm run bench`: ms per image-step of inversion and training for MobileFaceNet, on one
 * thread and on `--workers` worker threads, optionally beside an older build of arcinvert
 * (`--baseline REF`) and the PyTorch reference (`--compare-pytorch`). Prints a table and
 * rewrites the measured section of docs/PERFORMANCE.md (between the `bench:start` /
 * `bench:end` markers), with the machine and the command. A benchmark, never a test.
 *
 *   npm run bench -- [--width 32] [--sizes 112,64] [--batches 8,32] [--steps 3]
 *                    [--workers N (default: cores)] [--baseline REF] [--backend wasm]
 *                    [--compare-pytorch [--python python3]] [--no-write] [--doc FILE]
 *   npm run bench -- --profile [--width 32] [--sizes 112] [--batches 8]
 *                    (per-kernel times of one step of each; no table)
 *   npm run bench -- --inference [--width 64] [--sizes 112,64] [--batches 8,32]
 *                    (embedding forward passes: tfjs against onnxruntime; `inference.ts`)
 *   npm run bench -- --kernels [--compare-pytorch]
 *                    (single kernels at MobileFaceNet's shapes, GFLOP/s or GB/s; `kernels.ts`)
 *
 * Every measurement runs in a process of its own (`measure.ts`): fresh engine, and a batch
 * that overflows the wasm heap fails one cell, not the run. With N workers a step of B
 * images is B / N images per worker at once (inversion: `invertParallel`, each worker's BN
 * statistics over its share; training: `ParallelTrainer`, gradients summed). `--baseline REF`
 * builds the commit REF (`git archive` into a temporary directory, compiled with this
 * checkout's node_modules) and times its own `invert` and `trainStep` the same way.
 * `--compare-pytorch` runs benchmarks/pytorch_bench.py (the same network and steps; needs
 * python3 with torch) with 1 and with N threads.
 *
 * The bench is not part of the product (not in `dist/`, not published). It imports the
 * product by relative paths into `src/` (`../src/...`), so `npm run typecheck` checks it
 * against the source, and `benchmarks/tsconfig.json` compiles it together with all of `src/`
 * into `dist-bench/` (`dist-bench/benchmarks/*.js`, `dist-bench/src/**`): `npm run bench`
 * builds that first and measures the source of this checkout as it is now.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { buildBackbone } from '../src/model/build.js';
import { parseBackendPreference, selectBackend } from '../src/engine/backend.js';
import { GLIBC_MALLOC_TUNABLES } from '../src/engine/nativeGemm.js';
import { ArcinvertError } from '../src/errors.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { describeMachine } from './machine.js';
import type { MeasureRequest, MeasureResult } from './measure.js';
import { timeKernels, type KernelTiming } from './kernels.js';
import { inferenceTable, timeInference } from './inference.js';
import { formatProfile, profileInversionStep, profileTrainingStep } from './profile.js';

const MARKERS = {
  steps: ['<!-- bench:start -->', '<!-- bench:end -->'],
  kernels: ['<!-- kernels:start -->', '<!-- kernels:end -->'],
} as const;
const run = promisify(execFile);

type Step = MeasureRequest['step'];
/** ms per image-step, or the one-line reason a measurement failed. */
type Cell = number | string;

interface Row {
  step: Step;
  size: number;
  batch: number;
  baseline?: Cell;
  one: Cell;
  many?: Cell;
  torchOne?: Cell;
  torchMany?: Cell;
}

interface PytorchReport {
  machine: string;
  rows: Array<{ step: Step; batch: number; msPerImage: number }>;
}

const fmt = (c: Cell | undefined): string => (c === undefined ? '–' : typeof c === 'number' ? c.toFixed(1) : 'failed¹');
const ratio = (a: Cell | undefined, b: Cell | undefined, digits = 2): string =>
  typeof a === 'number' && typeof b === 'number' ? `${(a / b).toFixed(digits)}×` : '–';

/** The markdown table of the rows; `workers` names the many-thread columns. */
export function benchTable(rows: readonly Row[], workers: number): string {
  const withBase = rows.some((r) => r.baseline !== undefined);
  const withMany = rows.some((r) => r.many !== undefined);
  const withTorch = rows.some((r) => r.torchOne !== undefined || r.torchMany !== undefined);
  const head = ['step', 'input', 'batch'];
  if (withBase) head.push('baseline, 1 thread');
  head.push('arcinvert, 1 thread');
  if (withMany) head.push(`arcinvert, ${workers} workers`);
  if (withTorch) head.push('PyTorch, 1 thread', `PyTorch, ${workers} threads`);
  if (withBase) head.push('speed-up over baseline');
  if (withTorch) head.push('arcinvert / PyTorch, 1 thread', `arcinvert / PyTorch, ${workers}`);
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const cells = [r.step, `${r.size}×${r.size}`, String(r.batch)];
    if (withBase) cells.push(fmt(r.baseline));
    cells.push(fmt(r.one));
    if (withMany) cells.push(fmt(r.many));
    if (withTorch) cells.push(fmt(r.torchOne), fmt(r.torchMany));
    const best = typeof r.many === 'number' && (typeof r.one !== 'number' || r.many < r.one) ? r.many : r.one;
    if (withBase) cells.push(ratio(r.baseline, best, 1));
    if (withTorch) cells.push(ratio(r.one, r.torchOne), ratio(withMany ? r.many : r.one, r.torchMany));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Runs one measurement in a child process. */
async function measureInChild(request: MeasureRequest): Promise<Cell> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'measure.js');
  try {
    // The malloc settings of the README's quick start (GLIBC_MALLOC_TUNABLES), unless the caller set their own.
    const env = { GLIBC_TUNABLES: GLIBC_MALLOC_TUNABLES, ...process.env };
    const { stdout } = await run(process.execPath, [script, JSON.stringify(request)], { maxBuffer: 1 << 20, env });
    return (JSON.parse(stdout.trim().split('\n').pop()!) as MeasureResult).msPerImage;
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    const lines = (err.stderr ?? '')
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '');
    const abort = lines.find((l) => /Aborted|RuntimeError|out of memory/i.test(l));
    return (abort ?? lines.pop() ?? err.message ?? 'failed').slice(0, 160);
  }
}

/** The single-kernel table: this engine, then PyTorch with 1 and with N threads where measured. */
export function kernelTable(
  own: readonly KernelTiming[],
  torch: ReadonlyArray<{ threads: number; rows: ReadonlyArray<{ name: string; ms: number; rate: number }> }>,
): string {
  const head = [
    'kernel',
    'shape',
    'arcinvert ms',
    'arcinvert rate',
    ...torch.flatMap((t) => [`PyTorch ${t.threads} thr. ms`, `PyTorch ${t.threads} thr. rate`]),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const k of own) {
    const cells = [k.name, k.shape, k.ms.toFixed(2), `${k.rate.toFixed(1)} ${k.unit}`];
    for (const t of torch) {
      const r = t.rows.find((x) => x.name === k.name);
      cells.push(r ? r.ms.toFixed(2) : '–', r ? `${r.rate.toFixed(1)} ${k.unit}` : '–');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Replaces the text between a pair of markers in `docPath` (or appends the section). */
async function writeSection(docPath: string, [start, end]: readonly [string, string], body: string): Promise<void> {
  const doc = path.resolve(docPath);
  const old = await fsp.readFile(doc, 'utf8').catch(() => '# Performance\n');
  const section = `${start}\n${body}\n${end}`;
  const i = old.indexOf(start);
  const j = old.indexOf(end);
  const next =
    i >= 0 && j > i ? `${old.slice(0, i)}${section}${old.slice(j + end.length)}` : `${old.trimEnd()}\n\n${section}\n`;
  await writeFileAtomic(doc, next);
  console.log(`wrote ${path.relative(process.cwd(), doc)}`);
}

/** Runs the PyTorch reference for one input size. */
async function runPytorch(
  python: string,
  width: number,
  size: number,
  batches: readonly number[],
  steps: number,
  threads: number,
): Promise<PytorchReport> {
  const script = path.resolve('benchmarks/pytorch_bench.py');
  const args = [
    script,
    '--width',
    String(width),
    '--size',
    String(size),
    '--batches',
    batches.join(','),
    '--steps',
    String(steps),
    '--threads',
    String(threads),
    '--json',
  ];
  try {
    const { stdout } = await run(python, args, { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as PytorchReport;
  } catch (e) {
    const reason =
      (e as { stderr?: string }).stderr?.trim().split('\n').pop() ?? (e instanceof Error ? e.message : String(e));
    throw new ArcinvertError(
      `--compare-pytorch: ${python} ${path.relative(process.cwd(), script)} failed (${reason}); it needs torch (Debian: apt-get install python3-torch; --python picks the interpreter)`,
    );
  }
}

/** Builds commit `ref` of this repository in a temporary directory; returns its dist/ and a clean-up. */
async function buildBaseline(ref: string): Promise<{ dist: string; cleanup: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-baseline-'));
  const cleanup = (): Promise<void> => fsp.rm(dir, { recursive: true, force: true });
  try {
    const { stdout: sha } = await run('git', ['rev-parse', '--verify', `${ref}^{commit}`]);
    await run('sh', ['-c', `git archive ${sha.trim()} | tar -x -C '${dir}'`]);
    await fsp.symlink(path.resolve('node_modules'), path.join(dir, 'node_modules'), 'dir');
    await run(
      process.execPath,
      [path.resolve('node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.build.json')],
      { cwd: dir },
    );
    return { dist: path.join(dir, 'dist'), cleanup };
  } catch (e) {
    await cleanup();
    const err = e as { stdout?: string; stderr?: string; message?: string };
    const line = `${err.stderr ?? ''}${err.stdout ?? ''}`.trim().split('\n')[0] || err.message;
    throw new ArcinvertError(`--baseline ${ref}: could not build it (${line})`);
  }
}

function numbers(s: string, flag: string): number[] {
  const out = s.split(',').map(Number);
  if (out.some((v) => !Number.isInteger(v) || v < 1))
    throw new ArcinvertError(`${flag} must be comma-separated positive integers, got '${s}'`);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'wasm' },
      width: { type: 'string', default: '32' },
      sizes: { type: 'string', default: '112,64' },
      batches: { type: 'string', default: '8,32' },
      steps: { type: 'string', default: '3' },
      workers: { type: 'string' },
      baseline: { type: 'string' },
      'compare-pytorch': { type: 'boolean', default: false },
      python: { type: 'string', default: 'python3' },
      'no-write': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      kernels: { type: 'boolean', default: false },
      inference: { type: 'boolean', default: false },
      doc: { type: 'string', default: 'docs/PERFORMANCE.md' },
    },
  });
  const backend = parseBackendPreference(values.backend as string);
  const info = await selectBackend(backend);
  const [width] = numbers(values.width as string, '--width');
  const sizes = numbers(values.sizes as string, '--sizes');
  const batches = numbers(values.batches as string, '--batches');
  const [steps] = numbers(values.steps as string, '--steps');
  const workers = values.workers === undefined ? os.availableParallelism() : numbers(values.workers, '--workers')[0];
  const machine = describeMachine(info.device);
  console.log(`machine: ${machine}`);
  if (values.profile) {
    for (const size of sizes) {
      const fm = buildBackbone('mobilefacenet', { seed: 1, width, inputSize: [size, size] });
      for (const b of batches)
        console.log(formatProfile(`inversion step, ${size}×${size}, batch ${b}`, await profileInversionStep(fm, b)));
      for (const b of batches)
        console.log(formatProfile(`training step, ${size}×${size}, batch ${b}`, await profileTrainingStep(fm, b)));
      fm.model.dispose();
    }
    return;
  }
  if (values.inference) {
    const threads = [...new Set([1, workers])];
    const rows = await timeInference(width, sizes, batches, threads);
    console.log(`ms per image, embedding forward pass, MobileFaceNet width ${width}\n${inferenceTable(rows, threads)}`);
    return;
  }
  if (values.kernels) {
    const own = await timeKernels();
    const torch: Array<{ threads: number; rows: Array<{ name: string; ms: number; rate: number }> }> = [];
    let torchMachine = '';
    if (values['compare-pytorch']) {
      for (const threads of workers > 1 ? [1, workers] : [1]) {
        const args = [path.resolve('benchmarks/pytorch_bench.py'), '--kernels', '--threads', String(threads), '--json'];
        const { stdout } = await run(values.python as string, args, { maxBuffer: 1 << 20 }).catch((e: unknown) => {
          throw new ArcinvertError(
            `--compare-pytorch: ${values.python as string} benchmarks/pytorch_bench.py --kernels failed (${(e as { stderr?: string }).stderr?.trim().split('\n').pop() ?? String(e)})`,
          );
        });
        const report = JSON.parse(stdout.trim().split('\n').pop()!) as {
          machine: string;
          kernels: Array<{ name: string; ms: number; rate: number }>;
        };
        torch.push({ threads, rows: report.kernels });
        torchMachine = report.machine.replace(/, \d+ thread\(s\)$/, '');
      }
    }
    const table = kernelTable(own, torch);
    console.log(`\n${table}`);
    if (values['no-write']) return;
    const flags = values['compare-pytorch']
      ? ` --compare-pytorch --python ${values.python as string} --workers ${workers}`
      : '';
    await writeSection(
      values.doc as string,
      MARKERS.kernels,
      [
        `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --kernels${flags}\` (fresh inputs every call, mean of 10 after 2 warm-up calls).`,
        '',
        `Machine: ${machine}.${torchMachine ? `\nPyTorch: ${torchMachine}.` : ''}`,
        '',
        table,
      ].join('\n'),
    );
    return;
  }
  const fm = buildBackbone('mobilefacenet', { seed: 1, width, inputSize: [sizes[0], sizes[0]] });
  const params = fm.model.countParams();
  const bn = fm.model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
  fm.model.dispose();
  const baseline = values.baseline === undefined ? null : await buildBaseline(values.baseline);
  const rows: Row[] = [];
  const failures = new Set<string>();
  const note = (c: Cell): Cell => {
    if (typeof c === 'string') failures.add(c);
    return c;
  };
  try {
    for (const step of ['inversion', 'training'] as const) {
      for (const size of sizes) {
        for (const batch of batches) {
          const req: MeasureRequest = { step, width, size, batch, workers: 1, steps, backend };
          const row: Row = { step, size, batch, one: 0 };
          // Baseline and current alternate, row by row, so slow drifts of a shared machine hit both.
          if (baseline) row.baseline = note(await measureInChild({ ...req, root: baseline.dist }));
          row.one = note(await measureInChild(req));
          if (workers > 1 && batch % workers === 0) row.many = note(await measureInChild({ ...req, workers }));
          rows.push(row);
          console.log(
            `${step} ${size}×${size} batch ${batch}: ${[row.baseline, row.one, row.many].map(fmt).join(' / ')} ms/image-step (baseline / 1 thread / ${workers} workers)`,
          );
        }
      }
    }
  } finally {
    await baseline?.cleanup();
  }
  let torchLine = '';
  if (values['compare-pytorch']) {
    for (const size of sizes) {
      for (const [threads, key] of [
        [1, 'torchOne'],
        [workers, 'torchMany'],
      ] as const) {
        const torch = await runPytorch(values.python as string, width, size, batches, steps, threads);
        for (const r of rows.filter((x) => x.size === size))
          r[key] = torch.rows.find((t) => t.step === r.step && t.batch === r.batch)?.msPerImage;
        torchLine = `PyTorch reference (\`benchmarks/pytorch_bench.py\`, same network and steps): ${torch.machine.replace(/, \d+ thread\(s\)$/, '')}.`;
      }
    }
  }
  const flags = [
    ...(backend === 'wasm' ? [] : [`--backend ${backend}`]),
    `--width ${width}`,
    `--sizes ${sizes.join(',')}`,
    `--batches ${batches.join(',')}`,
    `--steps ${steps}`,
    `--workers ${workers}`,
  ];
  if (values.baseline !== undefined) flags.push(`--baseline ${values.baseline}`);
  if (values['compare-pytorch']) flags.push(`--compare-pytorch --python ${values.python}`);
  const table = benchTable(rows, workers);
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- ${flags.join(' ')}\``,
    `(MobileFaceNet, insightface layout, width ${width}, 512-d, ${params.toLocaleString('en-US')} parameters at ${sizes[0]}×${sizes[0]}, ${bn} BN layers; ms per image-step, ${steps} timed steps after warm-up, each cell in a fresh process).`,
    '',
    `Machine: ${machine}.${torchLine ? `\n${torchLine}` : ''}`,
    '',
    table,
    ...(failures.size > 0 ? ['', `¹ ${[...failures].join('; ')}`] : []),
  ].join('\n');
  console.log(`\n${table}`);
  if (failures.size > 0) console.log(`\n¹ ${[...failures].join('; ')}`);
  if (values['no-write']) return;
  await writeSection(values.doc as string, MARKERS.steps, body);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e instanceof ArcinvertError ? `bench: ${e.message}` : e);
    process.exitCode = 1;
  });
}
