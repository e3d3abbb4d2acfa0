import { formatProgressJson, formatProgressLine, plainReporter } from '../../../src/cli/ui/plain.js';
import { makeImage, sampleProgress } from './progressFixture.js';

describe('formatProgressLine', () => {
  it('writes one line with every number', () => {
    expect(formatProgressLine(sampleProgress())).toBe(
      'batch 1/2 step 120/400 res 112x112 lr 0.050 loss 0.4123 id 0.2100 bn 1.234 tv 0.01234/5.000e-4 ' +
        'l2 0.1234 cos 0.790 [0.700..0.850] (best 0.810) 12.3 step/s eta 3m05s',
    );
  });
  it('ignores the preview and shows an unknown ETA as a dash', () => {
    const line = formatProgressLine(sampleProgress({ preview: makeImage(2, 2, () => [9, 9, 9]), etaSeconds: NaN }));
    expect(line).not.toContain('\x1b');
    expect(line.endsWith('eta —')).toBe(true);
    expect(line).not.toContain('\n');
  });
});

describe('formatProgressJson', () => {
  it('is the event without the preview', () => {
    const p = sampleProgress({ preview: makeImage(2, 2, () => [9, 9, 9]) });
    const json = formatProgressJson(p);
    expect(json).not.toContain('\n');
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(parsed).not.toHaveProperty('preview');
    expect(parsed).toEqual(JSON.parse(JSON.stringify(sampleProgress())));
    expect(p.preview).toBeDefined();
  });
});

describe('plainReporter', () => {
  it('writes text lines, throttled, always keeping the end of a batch', () => {
    const lines: string[] = [];
    let t = 0;
    const r = plainReporter((l) => lines.push(l), { minIntervalMs: 1000, now: () => t });
    r.update(sampleProgress({ step: 10 }));
    t = 500;
    r.update(sampleProgress({ step: 20 }));
    t = 600;
    r.update(sampleProgress({ step: 400 }));
    t = 1200;
    r.update(sampleProgress({ step: 30 }));
    t = 1700;
    r.update(sampleProgress({ step: 40 }));
    r.finish({ label: 'target 0 seed 1', bestCosine: 0.8123 });
    r.unmount();
    expect(lines).toHaveLength(4);
    expect(lines.slice(0, 3).map((l) => l.split(' ').slice(0, 4).join(' '))).toEqual([
      'batch 1/2 step 10/400',
      'batch 1/2 step 400/400',
      'batch 1/2 step 40/400',
    ]);
    expect(lines[3]).toBe('✓ target 0 seed 1  best cos 0.812');
  });

  it('writes JSON lines', () => {
    const lines: string[] = [];
    const r = plainReporter((l) => lines.push(l), { json: true });
    r.update(sampleProgress());
    r.finish({ label: 'target 0 seed 0', bestCosine: 0.5 });
    expect(JSON.parse(lines[0])).toMatchObject({ batch: 0, step: 120 });
    expect(JSON.parse(lines[1])).toEqual({ finished: { label: 'target 0 seed 0', bestCosine: 0.5 } });
  });
});
