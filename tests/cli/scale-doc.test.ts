/**
 * docs/SCALE.md's scheduler examples, run here: the Kubernetes Indexed Job's command with
 * JOB_COMPLETION_INDEX = 0, 1, 2 and the merge Job's command, then the Slurm array script's
 * command with SLURM_ARRAY_TASK_ID = 0, 1, 2 and its dependent merge. Both merged outputs equal a
 * single unsharded run, byte for byte. The commands are taken from the page as written; the test
 * appends only what makes them fast and small (`--steps 2 --batch-size 2 --workers 1`: 8
 * targets in 4 batches, so each of the 3 shards has work) and runs from the repository root
 * instead of the container's /opt/arcinvert.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DOC = path.resolve('docs/SCALE.md');
const FAST = ' --steps 2 --batch-size 2 --workers 1';

let tmp: string;
let doc: string;

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-scale-doc-'));
  doc = await fsp.readFile(DOC, 'utf8');
});

afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

/** The fenced blocks of one language, in order. */
function blocks(lang: string): string[] {
  return [...doc.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/** The folded scalar (`- >-`) under a manifest's `args:`, joined as YAML folds it (lines by spaces). */
function manifestCommand(manifest: string): string {
  const lines = manifest.split('\n');
  const at = lines.findIndex((l) => l.trim() === '- >-');
  expect(at).toBeGreaterThan(0);
  const indent = (l: string): number => l.length - l.trimStart().length;
  const body: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() === '' || indent(l) <= indent(lines[at])) break;
    body.push(l.trim());
  }
  return body.join(' ');
}

/**
 * Runs a command line in the repository root with `env` added, under `shell` (the manifests'
 * `bash -c`; sbatch --wrap's /bin/sh); fails the test on a non-zero exit.
 */
async function sh(command: string, env: Record<string, string>, shell = 'bash'): Promise<void> {
  try {
    await run(shell, ['-c', command], { env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command}\n${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Each PNG of `dir` (sorted) with its bytes. */
async function pngs(dir: string): Promise<Array<[string, Buffer]>> {
  const files = (await fsp.readdir(dir)).filter((f) => /^t\d+_s\d+\.png$/.test(f)).sort();
  return Promise.all(files.map(async (f) => [f, await fsp.readFile(path.join(dir, f))] as [string, Buffer]));
}

const env = (results: string): Record<string, string> => ({
  TEMPLATES: path.resolve('samples/vec.npy'),
  RESULTS: results,
});

/** The single run the shards must reproduce: the shard command without `--shard`. */
async function singleRun(invert: string, results: string): Promise<string> {
  const out = path.join(results, 'single');
  const single = invert.replace(/ --shard auto\/3/, '').replace(/--out "[^"]+"/, `--out "${out}"`);
  expect(single).not.toContain('--shard');
  await sh(single + FAST, env(results));
  return out;
}

it('the Kubernetes Indexed Job and its merge Job reproduce the single run', async () => {
  const [job, mergeJob] = blocks('yaml').map(manifestCommand);
  expect(job).toMatch(
    /^node bin\/arcinvert\.js invert .*--shard auto\/3 .*--out "\$RESULTS\/shard-\$JOB_COMPLETION_INDEX"/,
  );
  expect(mergeJob).toMatch(/^node bin\/arcinvert\.js merge /);
  const results = path.join(tmp, 'k8s');
  for (const i of ['0', '1', '2']) await sh(job + FAST, { ...env(results), JOB_COMPLETION_INDEX: i });
  await sh(mergeJob, env(results));
  const single = await singleRun(job, results);
  const merged = await pngs(path.join(results, 'merged'));
  expect(merged.map(([f]) => f)).toEqual(Array.from({ length: 8 }, (_, t) => `t00${t}_s0.png`));
  expect(merged).toEqual(await pngs(single));
  const report = JSON.parse(await fsp.readFile(path.join(results, 'shard-2', 'report.json'), 'utf8'));
  expect(report.shard).toMatchObject({ index: 2, count: 3 });
}, 300_000);

it('the Slurm array script and its dependent merge reproduce the single run', async () => {
  const bash = blocks('bash');
  const script = bash.find((b) => b.includes('#SBATCH --array=0-2'));
  const submit = bash.find((b) => b.includes('sbatch --dependency'));
  expect(script && submit).toBeTruthy();
  // The script's command: its lines after `cd`, continuation backslashes joined.
  const lines = script!.replace(/\\\n\s*/g, '').split('\n');
  const invert = lines.find((l) => l.startsWith('node bin/arcinvert.js invert'))!;
  expect(invert).toContain('--out "$RESULTS/shard-$SLURM_ARRAY_TASK_ID"');
  // The merge wrapped by sbatch, without its `cd` into the container's folder.
  const wrap = /--wrap \\\n\s*'cd \/opt\/arcinvert && (.*)'/.exec(submit!);
  expect(wrap).not.toBeNull();
  const results = path.join(tmp, 'slurm');
  for (const i of ['0', '1', '2'])
    await sh(invert + FAST, {
      ...env(results),
      SLURM_ARRAY_TASK_ID: i,
      SLURM_ARRAY_TASK_MIN: '0',
      SLURM_ARRAY_TASK_COUNT: '3',
    });
  await sh(wrap![1], env(results), '/bin/sh');
  const single = await singleRun(invert, results);
  expect(await pngs(path.join(results, 'merged'))).toEqual(await pngs(single));
  expect(existsSync(path.join(results, 'merged', 'report.json'))).toBe(true);
}, 300_000);
