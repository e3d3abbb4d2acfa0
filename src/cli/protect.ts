/**
 * `arcinvert protect --scheme NAME [--seed N | --key FILE] [--opt k=v…] --in emb.npy --out p.npy`:
 * applies a template-protection scheme (`src/protect/`) to embeddings and writes the protected
 * templates (N × d′ float32; bit schemes as 0/1), a listing beside them naming the same photos as
 * the input's, and the key it used at `p.key.json` (unless given with `--key`).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { encodeListing, listingPathFor, readListingFor } from '../io/listing.js';
import { readEmbeddings, writeNpy } from '../io/npy.js';
import { keyPathFor, readKey, writeKey } from '../protect/keyfile.js';
import { makeKey, protect, schemeInfo, SCHEME_NAMES, type SchemeName } from '../protect/schemes.js';
import type { CliContext } from './context.js';
import { nonNegativeInt } from './options.js';

interface ProtectFlags {
  scheme?: SchemeName;
  seed?: number;
  key?: string;
  opt?: string[];
  enrol?: string;
  in: string;
  out: string;
}

/** `k=v` pairs; numbers where they parse as numbers. */
function parseOptions(pairs: string[] = []): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(p);
    if (!m) throw new ArcinvertError(`--opt must be key=value, got '${p}'`);
    const n = Number(m[2]);
    out[m[1]] = m[2].trim() !== '' && Number.isFinite(n) ? n : m[2];
  }
  return out;
}

async function runProtect(ctx: CliContext, f: ProtectFlags): Promise<void> {
  if (!f.out.endsWith('.npy')) throw new ArcinvertError(`--out must name a .npy file, got ${f.out}`);
  if (path.resolve(f.out) === path.resolve(f.in)) throw new ArcinvertError('--out must not be --in');
  if (Boolean(f.key) === (f.scheme !== undefined || f.seed !== undefined))
    throw new ArcinvertError('give either --key FILE, or --scheme NAME with --seed N');
  if (f.key && (f.opt || f.enrol))
    throw new ArcinvertError('--opt and --enrol make a key; with --key the key is given');
  const e = await readEmbeddings(f.in);
  let key;
  if (f.key) key = await readKey(f.key);
  else {
    if (f.scheme === undefined || f.seed === undefined)
      throw new ArcinvertError('--scheme and --seed are needed to make a key');
    const enrol = f.enrol ? await readEmbeddings(f.enrol, { dim: e.dim }) : e;
    key = makeKey(f.scheme, e.dim, f.seed, parseOptions(f.opt), { data: enrol.data, n: enrol.n });
  }
  const p = protect(key, e.data, e.n);
  const listing = await readListingFor(f.in, e.n);
  const outListing = listingPathFor(f.out);
  // What an earlier run left beside --out (a listing, a key) would pair these rows with other
  // photos or another key; the .npy is written last, so its presence marks a complete set.
  await fsp.rm(f.out, { force: true });
  const stale = [outListing, outListing.replace(/\.jsonl$/, '.txt'), keyPathFor(f.out)];
  for (const old of stale) if (!f.key || path.resolve(old) !== path.resolve(f.key)) await fsp.rm(old, { force: true });
  if (listing) {
    const base = listing.format === 'jsonl' ? path.dirname(listing.file) : process.cwd();
    await writeFileAtomic(
      outListing,
      encodeListing(
        outListing,
        listing.entries.map((x) => path.resolve(base, x)),
      ),
    );
  }
  if (!f.key) await writeKey(keyPathFor(f.out), key);
  await writeNpy(f.out, p.data, [p.n, p.dim]);
  const { comparison } = schemeInfo(key.scheme);
  ctx.out(
    `wrote ${f.out} (${p.n}×${p.dim}, ${key.scheme} ${JSON.stringify(key.options)}, compared by ${comparison})${f.key ? '' : ` and its key ${keyPathFor(f.out)}`}`,
  );
}

export function protectCommand(ctx: CliContext): Command {
  return new Command('protect')
    .description('apply a template-protection scheme to embeddings (docs/PROTECTION.md)')
    .addOption(new Option('--scheme <name>', 'protection scheme').choices(SCHEME_NAMES))
    .option('--seed <n>', "the key's seed (a user's token)", nonNegativeInt('--seed'))
    .option('--key <file.json>', 'a key written by an earlier protect (instead of --scheme/--seed)')
    .option(
      '--opt <k=v...>',
      'scheme options: noise sigma=0.5; quantize bits=2 mode=quantile|uniform; project dim=D; biohash bits=B; mlphash layers=1024x512; polyprotect window=5 overlap=2',
    )
    .option('--enrol <emb.npy>', 'templates quantize fits its quantile thresholds on (default: --in)')
    .requiredOption('--in <emb.npy>', 'embeddings to protect (N×D, e.g. from arcinvert embed)')
    .requiredOption('--out <protected.npy>', 'protected templates (replaced when it exists)')
    .action((f: ProtectFlags) => runProtect(ctx, f));
}
