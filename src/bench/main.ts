/**
 * `npm run bench`: ms per image-step of inversion and training for MobileFaceNet at 112×112,
 * batch 8 and 32, on the selected backend. Prints a table and rewrites the measured section
 * of docs/PERFORMANCE.md (between the `bench:start` / `bench:end` markers), with the machine
 * and the command. A benchmark, never a test.
 *
 *   npm run bench -- [--backend auto|wasm|cpu] [--batches 8,32] [--steps 3] [--no-write]
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildBackbone } from '../backbone/registry.js';
import { parseBackendPreference, selectBackend } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import { describeMachine } from './machine.js';
import { timeInversionStep, timeTrainingStep, type StepTiming } from './steps.js';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

function table(rows: Array<[string, StepTiming]>): string {
  const lines = ['| step | batch | ms / step | ms / image-step |', '|---|---|---|---|'];
  for (const [name, t] of rows) lines.push(`| ${name} | ${t.batch} | ${t.msPerStep.toFixed(0)} | ${t.msPerImage.toFixed(1)} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'auto' },
      batches: { type: 'string', default: '8,32' },
      steps: { type: 'string', default: '3' },
      'no-write': { type: 'boolean', default: false },
      doc: { type: 'string', default: 'docs/PERFORMANCE.md' },
    },
  });
  const info = await selectBackend(parseBackendPreference(values.backend as string));
  const batches = (values.batches as string).split(',').map(Number);
  const steps = Number(values.steps);
  const fm = buildBackbone('mobilefacenet', { seed: 1 });
  const machine = describeMachine(info.device);
  console.log(`machine: ${machine}`);
  const rows: Array<[string, StepTiming]> = [];
  for (const b of batches) {
    const t = await timeInversionStep(fm, b, steps);
    rows.push(['inversion (input gradient + BN prior, Adam)', t]);
    console.log(`inversion batch ${b}: ${t.msPerImage.toFixed(1)} ms/image-step`);
  }
  for (const b of batches) {
    const t = await timeTrainingStep(fm, b, steps);
    rows.push(['training (all weights, sub-center ArcFace K=3, SGD)', t]);
    console.log(`training batch ${b}: ${t.msPerImage.toFixed(1)} ms/image-step`);
  }
  fm.model.dispose();
  const section = [
    START,
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --backend ${values.backend} --batches ${values.batches} --steps ${steps}\``,
    `(MobileFaceNet, insightface layout, width 64, 112×112, 512-d, ${fm.model.countParams().toLocaleString('en-US')} parameters, 50 BN layers; ${steps} timed steps after warm-up).`,
    '',
    `Machine: ${machine}.`,
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
