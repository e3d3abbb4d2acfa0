/**
 * The published package works from a fresh install: `scripts/pack-check.sh` packs the build
 * (`npm test` builds first), installs the tarball into a temporary project and imports the
 * library from 'arcinvert' in an ES module and in TypeScript. Skipped, visibly, only where
 * npm itself cannot run.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const npmRuns = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

(npmRuns ? test : test.skip)(
  npmRuns
    ? 'npm pack → fresh install → import { invert, loadFaceModel } from "arcinvert"'
    : 'npm pack check: npm cannot run here',
  async () => {
    const { stdout } = await run('sh', [path.join(root, 'scripts/pack-check.sh')], { cwd: root, maxBuffer: 1 << 22 });
    expect(stdout).toMatch(/import from 'arcinvert': ok \(default model mobilefacenet, 512-d; tensors 0\)/);
    expect(stdout).toMatch(/tsc against 'arcinvert' types: ok/);
    expect(stdout).toMatch(/pack check: ok \(arcinvert-[\d.]+\.tgz\)/);
  },
  180_000,
);
