/**
 * `arcinvert protect-eval --model DIR --pairs pairs.txt --images DIR --scheme SPEC…`: what each
 * protection scheme costs in verification accuracy on an LFW-format pairs file
 * (`src/protect/utility.ts`): 10-fold accuracy and TAR at FAR 1e-2 / 1e-3 of the unprotected
 * model and of each scheme under user-specific keys and under one shared (stolen) key. The
 * embeddings are computed once (flip TTA, as `eval`).
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readPairsFile } from '../metrics/verification.js';
import { loadFaceModel } from '../model/store.js';
import { checkSchemeOptions, parseSchemeSpec } from '../protect/schemes.js';
import { protectedUtility, unprotectedUtility, type KeyPolicy, type Utility } from '../protect/utility.js';
import { embedPairRows, type PairRows } from './pairRows.js';
import { ArcinvertError } from '../errors.js';
import type { CliContext } from './context.js';
import { backendOption, nonNegativeInt, useBackend } from './options.js';

interface ProtectEvalFlags {
  model: string;
  pairs: string;
  images: string;
  scheme: string[];
  keys: KeyPolicy[];
  seed: number;
  flip: boolean;
  out?: string;
  backend: BackendPreference;
}

/** The pairs as rows of one embedding matrix (`embedPairRows`), every scheme's options checked first. */
async function embedPairs(ctx: CliContext, f: ProtectEvalFlags): Promise<PairRows> {
  const parsed = await readPairsFile(f.pairs);
  const fm = await loadFaceModel(f.model);
  try {
    // Every scheme's options, before the embedding work.
    for (const spec of f.scheme.map(parseSchemeSpec))
      checkSchemeOptions(spec.scheme, fm.meta.embeddingSize, spec.options);
    const rows = await embedPairRows(fm, parsed.pairs, f.images, f.flip);
    ctx.err(`embedded ${rows.identities.length} images of ${rows.pairs.length} pairs with ${f.model}`);
    return rows;
  } finally {
    fm.model.dispose();
  }
}

const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;

async function runProtectEval(ctx: CliContext, f: ProtectEvalFlags): Promise<void> {
  const specs = f.scheme.map(parseSchemeSpec);
  if (f.out && !f.out.endsWith('.json')) throw new ArcinvertError(`--out must name a .json file, got ${f.out}`);
  await useBackend(ctx, f.backend);
  const { x, dim, identities, pairs } = await embedPairs(ctx, f);
  const rows: Array<{ scheme: string; keys: KeyPolicy | null; utility: Utility }> = [
    { scheme: 'unprotected', keys: null, utility: unprotectedUtility(x, dim, pairs) },
  ];
  for (const [i, spec] of specs.entries())
    for (const policy of f.keys)
      rows.push({
        scheme: f.scheme[i],
        keys: policy,
        utility: protectedUtility(x, dim, identities, pairs, { ...spec, seed: f.seed, policy }),
      });
  ctx.out('| scheme | keys | accuracy | TAR @ FAR 1e-2 | TAR @ FAR 1e-3 |');
  ctx.out('|---|---|---|---|---|');
  for (const r of rows)
    ctx.out(
      `| ${r.scheme} | ${r.keys ?? '—'} | ${pct(r.utility.accuracy)} ± ${pct(r.utility.std)} | ${pct(r.utility.tarAtFar1e2.tar)} | ${pct(r.utility.tarAtFar1e3.tar)} |`,
    );
  if (f.out) {
    const report = {
      format: 'arcinvert-protect-eval/1',
      model: f.model,
      pairs: f.pairs,
      seed: f.seed,
      flip: f.flip,
      rows,
    };
    await writeFileAtomic(f.out, `${JSON.stringify(report, null, 2)}\n`);
    ctx.out(`wrote ${path.resolve(f.out)}`);
  }
}

export function protectEvalCommand(ctx: CliContext): Command {
  return new Command('protect-eval')
    .description('verification accuracy of protected templates (each scheme) beside the unprotected model')
    .requiredOption('--model <dir>', 'the face model whose embeddings are protected')
    .requiredOption('--pairs <file>', 'LFW-format pairs file')
    .requiredOption('--images <dir>', 'image folder of the pairs (aligned crops)')
    .requiredOption(
      '--scheme <spec...>',
      'schemes with options, name[:key=value…]: noise:sigma=0.5, quantize:bits=2, sign, project:dim=256, biohash:bits=256, mlphash:layers=1024x512, polyprotect:window=5:overlap=2',
    )
    .addOption(
      new Option('--keys <policies...>', 'keys: each identity its own (user), or one for all (shared: a stolen key)')
        .choices(['user', 'shared'])
        .default(['user', 'shared']),
    )
    .option('--seed <n>', 'seed of the keys', nonNegativeInt('--seed'), 0)
    .option('--no-flip', 'do not add the flipped image embedding')
    .option('--out <file.json>', 'the table as JSON')
    .addOption(backendOption())
    .action((f: ProtectEvalFlags) => runProtectEval(ctx, f));
}
