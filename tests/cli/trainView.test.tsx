import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { render } from 'ink-testing-library';
import { TrainView } from '../../src/cli/ui/TrainView.js';
import { mountTrainView } from '../../src/cli/ui/trainMount.js';
import { formatEpochLine, formatStepLine, plainTrainReporter, smoothRate } from '../../src/cli/ui/trainPlain.js';
import type { VerificationReport } from '../../src/metrics/pairEval.js';
import type { EpochRecord, StepProgress } from '../../src/train/loop.js';

// eslint-disable-next-line no-control-regex -- strips ANSI colour codes
const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

function step(over: Partial<StepProgress> = {}): StepProgress {
  return {
    step: 120,
    epoch: 2,
    batch: 4,
    loss: 12.3456,
    lr: 0.0951,
    imagesPerSec: 312.4,
    time: 60,
    gradNorm: 3,
    totalSteps: 800,
    stepsPerEpoch: 40,
    epochs: 20,
    etaSeconds: 185,
    ...over,
  };
}

function report(accuracy: number, std: number): VerificationReport {
  const tar = { tar: 0.5, far: 0.001, threshold: 0.4 };
  return {
    accuracy,
    std,
    threshold: 0.3,
    folds: [],
    tarAtFar1e2: tar,
    tarAtFar1e3: tar,
    pairs: 600,
    images: 900,
    skippedImages: [],
    skippedPairs: 0,
  };
}

const epoch: EpochRecord = {
  epoch: 2,
  epochs: 20,
  step: 120,
  trainLoss: 13.5,
  val: report(0.8123, 0.015),
  bench: report(0.70125, 0.02),
  best: true,
};

test('plain lines: step and epoch summaries', () => {
  expect(formatStepLine(step())).toBe('step 120/800 epoch 3/20 batch 5/40 loss 12.35 lr 0.0951 312 img/s eta 3m05s');
  expect(formatEpochLine(epoch)).toBe(
    'epoch 3/20: train loss 13.50, val 0.8123 ± 0.0150 (best), bench 0.7013 ± 0.0200',
  );
  expect(formatEpochLine({ ...epoch, val: null, bench: null })).toBe('epoch 3/20: train loss 13.50');
  expect(smoothRate(undefined, 10)).toBe(10);
  expect(smoothRate(10, 20)).toBe(11);
});

test('plainTrainReporter throttles step lines but always writes the last step and epochs', () => {
  const lines: string[] = [];
  let t = 0;
  const r = plainTrainReporter((l) => lines.push(l), { minIntervalMs: 1000, now: () => t });
  r.step(step({ step: 1 }));
  t = 500;
  r.step(step({ step: 2 }));
  t = 1200;
  r.step(step({ step: 3 }));
  t = 1300;
  r.step(step({ step: 800 }));
  r.epoch(epoch);
  expect(lines.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([
    'step 1/800',
    'step 3/800',
    'step 800/800',
    'epoch 3/20:',
  ]);
});

test('TrainView: waiting line, then progress bars, loss, LR, speed, ETA and the latest evaluation', () => {
  const { lastFrame, rerender, unmount } = render(
    <TrainView
      title="train mobilefacenet → /tmp/run"
      progress={null}
      imagesPerSec={NaN}
      epochs={[]}
      messages={['training 45 identities']}
    />,
  );
  let text = strip(lastFrame() ?? '');
  expect(text).toContain('train mobilefacenet → /tmp/run');
  expect(text).toContain('training 45 identities');
  expect(text).toContain('waiting for the first step');
  rerender(
    <TrainView title="t" progress={step()} imagesPerSec={300} epochs={[epoch]} messages={['training 45 identities']} />,
  );
  text = strip(lastFrame() ?? '');
  expect(text).toContain('epoch 3/20');
  expect(text).toContain('5/40 batches');
  expect(text).toContain('120/800 steps');
  expect(text).toContain('15%');
  expect(text).toContain('loss 12.35');
  expect(text).toContain('lr 0.0951  300 img/s  eta 3m05s');
  expect(text).toContain('last eval (epoch 3): val 0.8123 ± 0.0150  bench 0.7013 ± 0.0200');
  expect(text).toContain('epoch 3/20: train loss 13.50, val 0.8123 ± 0.0150 (best)');
  unmount();
});

class FakeStdout extends EventEmitter {
  columns = 100;
  rows = 40;
  isTTY = true;
  written: string[] = [];
  write = (chunk: string) => {
    this.written.push(chunk);
    return true;
  };
}

test('mountTrainView imports Ink lazily and draws on the given stream', async () => {
  const source = readFileSync(new URL('../../src/cli/ui/trainMount.ts', import.meta.url), 'utf8');
  expect(source.match(/^import\s+(?!type\b)[^;]*;/gm) ?? []).toEqual([]);
  const stdout = new FakeStdout();
  const view = await mountTrainView('train x', { stdout: stdout as unknown as NodeJS.WriteStream, minIntervalMs: 0 });
  view.message('checkpoint step 5');
  view.step(step({ step: 5 }));
  view.epoch(epoch);
  view.unmount();
  view.step(step({ step: 9 }));
  await new Promise((r) => setTimeout(r, 50));
  const all = strip(stdout.written.join(''));
  expect(all).toContain('train x');
  expect(all).toContain('checkpoint step 5');
  expect(all).toContain('5/800 steps');
  expect(all).not.toContain('9/800 steps');
});
