/**
 * The module a worker thread runs. Worker threads load plain JavaScript, so when arcinvert
 * itself runs from its TypeScript source (jest through ts-jest, a ts runner) a worker runs
 * the build's copy in `dist/` instead of the source beside its caller. A stale build would
 * then put other code under test than the source: the `dist/` copy is only used after
 * checking that every source file under `src/` has a compiled file in `dist/` at least as
 * new as itself, and otherwise this throws, naming the file and `npm run build`. (`npm test`
 * builds first, so the check only fires when someone runs jest past the build.)
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository's `src/` and `dist/` directories, as seen from this module's source. */
const SRC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST_DIR = path.resolve(SRC_DIR, '..', 'dist');

/**
 * The first source file under `srcDir` (`.ts` / `.tsx`, not `.d.ts`) whose compiled `.js`
 * under `distDir` is missing or older than it, as a path relative to `srcDir`; null when the
 * build is fresh.
 */
export function staleSource(srcDir: string, distDir: string): string | null {
  const walk = (dir: string): string | null => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = walk(file);
        if (found) return found;
        continue;
      }
      if (!/\.tsx?$/.test(entry.name) || entry.name.endsWith('.d.ts')) continue;
      const rel = path.relative(srcDir, file);
      const compiled = path.join(distDir, rel.replace(/\.tsx?$/, '.js'));
      let built: number;
      try {
        built = statSync(compiled).mtimeMs;
      } catch {
        return rel;
      }
      if (built < statSync(file).mtimeMs) return rel;
    }
    return null;
  };
  return walk(srcDir);
}

/**
 * The URL of the worker module `name` (without extension) beside the module at `callerUrl`
 * (its `import.meta.url`). From the build: the `.js` beside the caller. From the TypeScript
 * source: the same file in `dist/`, after the freshness check above (on every call: a few
 * milliseconds of `stat`s, and a source edited while jest runs is still caught).
 */
export function workerScript(callerUrl: string, name: string): URL {
  if (!/\.tsx?$/.test(new URL(callerUrl).pathname)) return new URL(`./${name}.js`, callerUrl);
  const stale = staleSource(SRC_DIR, DIST_DIR);
  if (stale !== null)
    throw new Error(
      `dist/ is older than src/${stale.split(path.sep).join('/')}: worker threads run the compiled code in dist/, ` +
        'so a stale build would test other code than the source; run `npm run build` (npm test does)',
    );
  const callerDir = path.dirname(fileURLToPath(callerUrl));
  return pathToFileURL(path.join(DIST_DIR, path.relative(SRC_DIR, callerDir), `${name}.js`));
}
