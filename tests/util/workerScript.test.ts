import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { staleSource, workerScript } from '../../src/util/workerScript.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('staleSource', () => {
  let dir: string;
  const touch = (file: string, seconds: number): void => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '');
    utimesSync(file, seconds, seconds);
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'arcinvert-stale-'));
    touch(path.join(dir, 'src/a.ts'), 1000);
    touch(path.join(dir, 'src/ui/b.tsx'), 1000);
    touch(path.join(dir, 'src/types.d.ts'), 5000);
    touch(path.join(dir, 'src/notes.md'), 5000);
    touch(path.join(dir, 'dist/a.js'), 2000);
    touch(path.join(dir, 'dist/ui/b.js'), 2000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('null when every source has a compiled file at least as new (.d.ts and other files ignored)', () => {
    expect(staleSource(path.join(dir, 'src'), path.join(dir, 'dist'))).toBeNull();
  });

  test('names a source edited after the build', () => {
    utimesSync(path.join(dir, 'src/ui/b.tsx'), 3000, 3000);
    expect(staleSource(path.join(dir, 'src'), path.join(dir, 'dist'))).toBe(path.join('ui', 'b.tsx'));
  });

  test('names a source the build lacks', () => {
    touch(path.join(dir, 'src/c.ts'), 1000);
    expect(staleSource(path.join(dir, 'src'), path.join(dir, 'dist'))).toBe('c.ts');
  });
});

describe('workerScript', () => {
  test('from the build: the .js beside the caller', () => {
    expect(workerScript('file:///x/dist/invert/parallel.js', 'parallelWorker').href).toBe(
      'file:///x/dist/invert/parallelWorker.js',
    );
  });

  test('from the source: the same file in dist/ (npm test builds first, so the build is fresh)', () => {
    const caller = pathToFileURL(path.join(repoRoot, 'src/invert/parallel.ts')).href;
    expect(workerScript(caller, 'parallelWorker').href).toBe(
      pathToFileURL(path.join(repoRoot, 'dist/invert/parallelWorker.js')).href,
    );
  });
});
