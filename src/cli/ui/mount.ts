/**
 * Mounts the Ink view of `arcinvert invert` on an interactive stdout. Ink, React and the view
 * are imported with `await import()` inside `mountInvertView`, so importing this module loads
 * no UI code (the core and the non-TTY path never pay for it).
 */
import type { InvertProgress } from '../../invert/types.js';
import type { FinishedItem } from './InvertView.js';
import type { ProgressReporter } from './plain.js';

export type { FinishedItem };

export interface MountOptions {
  /** Preview width in cells (see `InvertViewProps.previewCols`). */
  previewCols?: number;
  /** Stream to draw on (default `process.stdout`). */
  stdout?: NodeJS.WriteStream;
}

/**
 * Renders `InvertView` and returns a handle: `update` shows a progress event, `finish` adds a
 * finished image (printed once above the live region), `unmount` leaves the last frame on
 * screen and releases the terminal.
 */
export async function mountInvertView(title: string, options: MountOptions = {}): Promise<ProgressReporter> {
  // One at a time: the three share a module graph, and Jest's ESM loader fails on parallel
  // dynamic imports of shared modules.
  const { render } = await import('ink');
  const React = await import('react');
  const { InvertView } = await import('./InvertView.js');
  let progress: InvertProgress | null = null;
  const finished: FinishedItem[] = [];
  const element = () =>
    React.createElement(InvertView, { progress, finished: [...finished], title, previewCols: options.previewCols });
  const instance = render(element(), {
    stdout: options.stdout ?? process.stdout,
    patchConsole: false,
  });
  let mounted = true;
  return {
    update(p) {
      if (!mounted) return;
      progress = p;
      instance.rerender(element());
    },
    finish(item) {
      if (!mounted) return;
      finished.push({ label: item.label, bestCosine: item.bestCosine });
      instance.rerender(element());
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      instance.unmount();
    },
  };
}
