import { render } from 'ink-testing-library';
import { InvertView } from '../../../src/cli/ui/InvertView.js';
import { makeImage, sampleProgress, stripSgr } from './progressFixture.js';

const frameOf = (lastFrame: () => string | undefined): string => lastFrame() ?? '';

describe('InvertView', () => {
  it('shows the title and a waiting line before the first step', () => {
    const { lastFrame, unmount } = render(<InvertView title="invert model-a" progress={null} finished={[]} />);
    const text = stripSgr(frameOf(lastFrame));
    expect(text).toContain('invert model-a');
    expect(text).toContain('waiting for the first step');
    unmount();
  });

  it('shows batch, step, losses, cosines, speed and ETA, and no preview when none is given', () => {
    const { lastFrame, unmount } = render(<InvertView title="t" progress={sampleProgress()} finished={[]} />);
    const frame = frameOf(lastFrame);
    const text = stripSgr(frame);
    expect(text).toContain('batch 1/2');
    expect(text).toContain('step 120/400');
    expect(text).toContain('120/800 steps');
    expect(text).toContain('15%');
    expect(text).toContain('res 112×112');
    expect(text).toContain('lr 0.050');
    expect(text).toContain('loss 0.4123');
    expect(text).toContain('id 0.2100');
    expect(text).toContain('bn 1.234');
    expect(text).toContain('tv 0.01234/5.000e-4');
    expect(text).toContain('l2 0.1234');
    expect(text).toContain('cos 0.790  min 0.700  max 0.850  best 0.810');
    expect(text).toContain('12.3 step/s  eta 3m05s');
    expect(frame).not.toContain('▀');
    expect(frame).not.toContain('\x1b[38;2;');
    expect(text.split('\n').length).toBeLessThanOrEqual(20);
    unmount();
  });

  it('lists finished images once each, above the live region', () => {
    const finished = [
      { label: 'target 3 seed 0', bestCosine: 0.8123 },
      { label: 'target 3 seed 1', bestCosine: 0.7 },
    ];
    const { lastFrame, unmount } = render(<InvertView title="t" progress={sampleProgress()} finished={finished} />);
    const text = stripSgr(frameOf(lastFrame));
    expect(text).toContain('✓ target 3 seed 0  best cos 0.812');
    expect(text).toContain('✓ target 3 seed 1  best cos 0.700');
    expect(text.indexOf('✓ target 3 seed 1')).toBeLessThan(text.indexOf('batch 1/2'));
    unmount();
  });

  it('draws the preview in half blocks beside the numbers', () => {
    const preview = makeImage(4, 4, (x, y) => [x * 60, y * 60, 200]);
    const { lastFrame, unmount } = render(
      <InvertView title="t" progress={sampleProgress({ preview })} finished={[]} previewCols={4} />,
    );
    const frame = frameOf(lastFrame);
    const lines = frame.split('\n').filter((l) => l.includes('▀'));
    // 4×4 pixels → two lines of four cells, on the same lines as the numbers.
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.split('▀')).toHaveLength(5);
    expect(frame).toContain('\x1b[38;2;0;0;200m\x1b[48;2;0;60;200m▀');
    expect(lines[0]).toContain('████');
    unmount();
  });

  it('updates on rerender and keeps a sparkline of the total loss', () => {
    const { lastFrame, rerender, unmount } = render(
      <InvertView
        title="t"
        progress={sampleProgress({ losses: { ...sampleProgress().losses, total: 0.5 } })}
        finished={[]}
      />,
    );
    expect(stripSgr(frameOf(lastFrame))).toContain('loss 0.5000  ▁');
    rerender(
      <InvertView
        title="t"
        progress={sampleProgress({ step: 130, globalStep: 130, losses: { ...sampleProgress().losses, total: 0.4 } })}
        finished={[{ label: 'target 0 seed 0', bestCosine: 0.9 }]}
      />,
    );
    let text = stripSgr(frameOf(lastFrame));
    expect(text).toContain('step 130/400');
    expect(text).not.toContain('step 120/400');
    expect(text).toContain('loss 0.4000  █▁');
    expect(text).toContain('✓ target 0 seed 0  best cos 0.900');
    rerender(
      <InvertView
        title="t"
        progress={sampleProgress({ step: 140, globalStep: 140, losses: { ...sampleProgress().losses, total: 0.45 } })}
        finished={[{ label: 'target 0 seed 0', bestCosine: 0.9 }]}
      />,
    );
    text = stripSgr(frameOf(lastFrame));
    expect(text).toContain('loss 0.4500  █▁▅');
    // A new batch starts a new curve.
    rerender(
      <InvertView
        title="t"
        progress={sampleProgress({
          batch: 1,
          step: 10,
          globalStep: 410,
          losses: { ...sampleProgress().losses, total: 2 },
        })}
        finished={[{ label: 'target 0 seed 0', bestCosine: 0.9 }]}
      />,
    );
    text = stripSgr(frameOf(lastFrame));
    expect(text).toContain('batch 2/2');
    expect(text).toMatch(/loss 2\.000 {2}▁\n/);
    unmount();
  });
});
