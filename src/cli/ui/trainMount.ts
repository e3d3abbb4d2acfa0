/**
 * Mounts the Ink view of `arcinvert train` on an interactive stdout. Ink, React and the view
 * are imported with `await import()` inside `mountTrainView`, so importing this module loads
 * no UI code (the core and the non-TTY path never pay for it).
 */
import type { EpochRecord, StepProgress } from '../../train/loop.js';
import type { TrainReporter } from './trainPlain.js';

export interface TrainMountOptions {
  /** Stream to draw on (default `process.stdout`). */
  stdout?: NodeJS.WriteStream;
  /** Redraw at most every this many milliseconds for steps (default 100). */
  minIntervalMs?: number;
}

/** Renders `TrainView`; `unmount` leaves the last frame on screen and releases the terminal. */
export async function mountTrainView(title: string, options: TrainMountOptions = {}): Promise<TrainReporter> {
  // One at a time: Jest's ESM loader fails on parallel dynamic imports of shared modules.
  const { render } = await import('ink');
  const React = await import('react');
  const { TrainView } = await import('./TrainView.js');
  const { smoothRate } = await import('./trainPlain.js');
  let progress: StepProgress | null = null;
  let rate: number | undefined;
  const epochs: EpochRecord[] = [];
  const messages: string[] = [];
  const element = () =>
    React.createElement(TrainView, {
      title,
      progress,
      imagesPerSec: rate ?? NaN,
      epochs: [...epochs],
      messages: [...messages],
    });
  const instance = render(element(), { stdout: options.stdout ?? process.stdout, patchConsole: false });
  const interval = options.minIntervalMs ?? 100;
  let last = -Infinity;
  let mounted = true;
  const redraw = () => {
    if (mounted) instance.rerender(element());
  };
  return {
    step(p) {
      progress = p;
      rate = smoothRate(rate, p.imagesPerSec);
      const t = Date.now();
      if (t - last < interval && p.step < p.totalSteps) return;
      last = t;
      redraw();
    },
    epoch(e) {
      epochs.push(e);
      redraw();
    },
    message(line) {
      messages.push(line);
      redraw();
    },
    unmount() {
      if (!mounted) return;
      redraw();
      mounted = false;
      instance.unmount();
    },
  };
}
