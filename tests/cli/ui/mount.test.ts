import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { mountInvertView } from '../../../src/cli/ui/mount.js';
import { sampleProgress, stripSgr } from './progressFixture.js';

/** A stand-in terminal that records what is written to it. */
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

describe('mountInvertView', () => {
  it('has no static import of ink, react or the view', () => {
    const source = readFileSync(new URL('../../../src/cli/ui/mount.ts', import.meta.url), 'utf8');
    const staticImports = source.match(/^import\s+(?!type\b)[^;]*;/gm) ?? [];
    expect(staticImports).toEqual([]);
    expect(source).toContain("import('ink')");
  });

  it('renders progress and finished images on the given stream', async () => {
    const stdout = new FakeStdout();
    const view = await mountInvertView('invert model-a', { stdout: stdout as unknown as NodeJS.WriteStream });
    view.update(sampleProgress());
    view.finish({ label: 'target 0 seed 0', bestCosine: 0.8123 });
    view.update(sampleProgress({ step: 130, globalStep: 130 }));
    view.unmount();
    view.update(sampleProgress({ step: 140, globalStep: 140 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const all = stripSgr(stdout.written.join(''));
    expect(all).toContain('invert model-a');
    expect(all).toContain('✓ target 0 seed 0  best cos 0.812');
    expect(all).toContain('step 130/400');
    expect(all).not.toContain('step 140/400');
  });
});
