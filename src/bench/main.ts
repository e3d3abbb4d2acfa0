/**
 * `npm run bench`: ms per image-step of inversion and training for MobileFaceNet at 112×112,
 * on the selected backend. Prints a table and rewrites the measured section of
 * docs/PERFORMANCE.md (between the `bench:start` / `bench:end` markers), with the machine
 * and the command. A benchmark, never a test.
 *
 *   npm run bench -- [--backend auto|wasm|cpu] [--batches 8,32] [--steps 3] [--no-write]
 *                    [--workers N] [--compare-pytorch [--pytorch-threads 1] [--python python3]]
 *   npm run bench -- --profile [--batches 8]   (per-kernel times of one step of each; no table)
 *
 * Batches default to 8,32, or 8,16 on wasm, whose 4 GiB heap cannot hold a batch of 32
 * (≈190 MiB per image in inversion). `--workers N` adds the inversion's throughput on N
 * worker threads (`invertParallel`). `--compare-pytorch` runs benchmarks/pytorch_bench.py
 * (the same steps in PyTorch on the CPU; needs python3 with torch) and adds its times and
 * the tfjs / PyTorch ratio.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { buildBackbone } from '../backbone/registry.js';
import { parseBackendPreference, selectBackend } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { describeMachine } from './machine.js';
import { formatProfile, profileInversionStep, profileTrainingStep } from './profile.js';
import { timeInversionStep, timeParallelInversionStep, timeTrainingStep, type StepTiming } from './steps.js';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

interface Row {
  name: string;
  kind: 'inversion' | 'training';
  timing: StepTiming;
  /** PyTorch's ms per image-step for the same step and batch, with --compare-pytorch. */
  pytorch?: number;
}

interface PytorchReport {
  machine: string;
  rows: Array<{ step: 'inversion' | 'training'; batch: number; msPerImage: number }>;
}

function table(rows: readonly Row[]): string {
  const withTorch = rows.some((r) => r.pytorch !== undefined);
  const head = withTorch
    ? ['| step | batch | ms / step | ms / image-step | PyTorch ms / image-step | tfjs / PyTorch |', '|---|---|---|---|---|---|']
    : ['| step | batch | ms / step | ms / image-step |', '|---|---|---|---|'];
  const lines = rows.map((r) => {
    const cells = [r.name, String(r.timing.batch), r.timing.msPerStep.toFixed(0), r.timing.msPerImage.toFixed(1)];
    if (withTorch) {
      cells.push(r.pytorch === undefined ? '–' : r.pytorch.toFixed(1));
      cells.push(r.pytorch === undefined ? '–' : `${(r.timing.msPerImage / r.pytorch).toFixed(2)}×`);
    }
    return `| ${cells.join(' | ')} |`;
  });
  return [...head, ...lines].join('\n');
}

/** Runs the PyTorch reference with the same batches and steps. */
async function runPytorch(python: string, batches: readonly number[], steps: number, threads: number): Promise<PytorchReport> {
  const script = path.resolve('benchmarks/pytorch_bench.py');
  const args = [script, '--batches', batches.join(','), '--steps', String(steps), '--threads', String(threads), '--json'];
  try {
    const { stdout } = await promisify(execFile)(python, args, { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as PytorchReport;
  } catch (e) {
    const reason = (e as { stderr?: string }).stderr?.trim().split('\n').pop() ?? (e instanceof Error ? e.message : String(e));
    throw new ArcinvertError(`--compare-pytorch: ${python} ${path.relative(process.cwd(), script)} failed (${reason}); it needs torch (Debian: apt-get install python3-torch; --python picks the interpreter)`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'auto' },
      batches: { type: 'string' },
      steps: { type: 'string', default: '3' },
      workers: { type: 'string' },
      'compare-pytorch': { type: 'boolean', default: false },
      'pytorch-threads': { type: 'string', default: '1' },
      python: { type: 'string', default: 'python3' },
      'no-write': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      doc: { type: 'string', default: 'docs/PERFORMANCE.md' },
    },
  });
  const info = await selectBackend(parseBackendPreference(values.backend as string));
  const batchesArg = (values.batches as string | undefined) ?? (info.name === 'wasm' ? '8,16' : '8,32');
  const batches = batchesArg.split(',').map(Number);
  const steps = Number(values.steps);
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  const fm = buildBackbone('mobilefacenet', { seed: 1 });
  const machine = describeMachine(info.device);
  console.log(`machine: ${machine}`);
  if (values.profile) {
    for (const b of batches) console.log(formatProfile(`inversion step, batch ${b}`, await profileInversionStep(fm, b)));
    for (const b of batches) console.log(formatProfile(`training step, batch ${b}`, await profileTrainingStep(fm, b)));
    fm.model.dispose();
    return;
  }
  const rows: Row[] = [];
  const add = (row: Row): void => {
    rows.push(row);
    console.log(`${row.name}, batch ${row.timing.batch}: ${row.timing.msPerImage.toFixed(1)} ms/image-step`);
  };
  for (const b of batches) add({ name: 'inversion (input gradient + BN prior, Adam)', kind: 'inversion', timing: await timeInversionStep(fm, b, steps) });
  if (workers !== undefined) {
    for (const b of batches) {
      add({ name: `inversion on ${workers} worker threads (throughput)`, kind: 'inversion', timing: await timeParallelInversionStep(fm, b, steps, workers) });
    }
  }
  for (const b of batches) add({ name: 'training (all weights, sub-center ArcFace K=3, SGD)', kind: 'training', timing: await timeTrainingStep(fm, b, steps) });
  const params = fm.model.countParams();
  fm.model.dispose();
  let torchLine = '';
  if (values['compare-pytorch']) {
    const torch = await runPytorch(values.python as string, batches, steps, Number(values['pytorch-threads']));
    for (const r of rows) {
      if (r.name.includes('worker')) continue;
      r.pytorch = torch.rows.find((t) => t.step === r.kind && t.batch === r.timing.batch)?.msPerImage;
    }
    torchLine = `PyTorch reference (\`benchmarks/pytorch_bench.py\`, same network and steps): ${torch.machine}.`;
  }
  const flags = [`--backend ${values.backend}`, `--batches ${batchesArg}`, `--steps ${steps}`];
  if (workers !== undefined) flags.push(`--workers ${workers}`);
  if (values['compare-pytorch']) flags.push(`--compare-pytorch --pytorch-threads ${values['pytorch-threads']} --python ${values.python}`);
  const section = [
    START,
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- ${flags.join(' ')}\``,
    `(MobileFaceNet, insightface layout, width 64, 112×112, 512-d, ${params.toLocaleString('en-US')} parameters, 50 BN layers; ${steps} timed steps after warm-up).`,
    '',
    `Machine: ${machine}.${torchLine ? `\n${torchLine}` : ''}`,
    '',
    table(rows),
    END,
  ].join('\n');
  console.log(`\n${table(rows)}`);
  if (values['no-write']) return;
  const doc = path.resolve(values.doc as string);
  const old = await fsp.readFile(doc, 'utf8').catch(() => `# Performance\n\n${START}\n${END}\n`);
  const i = old.indexOf(START);
  const j = old.indexOf(END);
  const next = i >= 0 && j > i ? `${old.slice(0, i)}${section}${old.slice(j + END.length)}` : `${old.trimEnd()}\n\n${section}\n`;
  await writeFileAtomic(doc, next);
  console.log(`updated ${path.relative(process.cwd(), doc)}`);
}

await main();
