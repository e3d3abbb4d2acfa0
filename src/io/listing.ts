/**
 * Listings: which photo each row of an embeddings `.npy` came from, written by `arcinvert embed`
 * beside the `.npy` and read by `invert --embedding` (to show each target photo on the sheet).
 *
 * Format (`emb.jsonl` for `emb.npy`): JSON lines, one JSON string per row, the photo's path
 * relative to the listing's own folder. Any character a file name can hold (a newline
 * included) is escaped, so a listing always has exactly one line per row. The older format,
 * `emb.txt` with one path a line as given on the command line, is still read.
 *
 * A listing may only make arcinvert read files under the folder it sits in, or under a root
 * the user names (`invert --listing-root DIR`): `../` entries, absolute paths elsewhere and
 * symbolic links that lead out are refused and reported, never followed.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { ArcinvertError } from '../errors.js';
import { readTextChecked } from './atomic.js';
import { isInside } from './paths.js';

/** `emb.npy` → `emb.jsonl` (the listing `embed` writes by default). */
export function listingPathFor(npyFile: string): string {
  return path.join(path.dirname(npyFile), `${path.basename(npyFile, '.npy')}.jsonl`);
}

/**
 * The text of a listing for `sources`, one JSON string per line, each path relative to the
 * folder `listingFile` sits in.
 */
export function encodeListing(listingFile: string, sources: readonly string[]): string {
  const dir = path.resolve(path.dirname(listingFile));
  return sources.map((s) => `${JSON.stringify(path.relative(dir, path.resolve(s)))}\n`).join('');
}

/** A listing as read: its file, format and one entry per row. */
export interface Listing {
  file: string;
  format: 'jsonl' | 'txt';
  entries: string[];
}

/**
 * Parses a listing's text. JSON lines (`.jsonl`): one JSON string per line; text (`.txt`,
 * the old format): one path a line, empty lines ignored.
 * @throws ArcinvertError naming the file and line for a line that is not a JSON string.
 */
export function parseListing(text: string, file: string, format: Listing['format']): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (format === 'txt') return lines.map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0);
  return lines.map((line, i) => {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
    if (typeof entry !== 'string' || entry.length === 0)
      throw new ArcinvertError(`${file} line ${i + 1} is not a JSON string naming a photo`);
    return entry;
  });
}

/**
 * Reads the listing of `npyFile` (`<name>.jsonl`, else the older `<name>.txt`), checking that it
 * has one entry per row.
 * @returns undefined when there is none.
 * @throws ArcinvertError when it cannot be read, is malformed, or its row count differs from
 *   `rows` (both counts named).
 */
export async function readListingFor(npyFile: string, rows: number): Promise<Listing | undefined> {
  const base = path.join(path.dirname(npyFile), path.basename(npyFile, '.npy'));
  for (const format of ['jsonl', 'txt'] as const) {
    const file = `${base}.${format}`;
    if (
      file === npyFile ||
      !(await fsp.lstat(file).then(
        () => true,
        () => false,
      ))
    )
      continue;
    const entries = parseListing(await readTextChecked(file, 'listing', 'listing'), file, format);
    if (entries.length !== rows)
      throw new ArcinvertError(`${file} lists ${entries.length} photo(s) but ${npyFile} has ${rows} row(s)`);
    return { file, format, entries };
  }
  return undefined;
}

/** A listed photo that is not used, and why (one line). */
export interface ListingSkip {
  row: number;
  entry: string;
  reason: string;
}

/**
 * Resolves a listing's entries to readable photo files, confined to `root` (default: the
 * listing's folder). An entry is taken relative to the listing's folder; an old `.txt` entry,
 * written relative to the working directory, is also tried there. A file whose real path
 * (symbolic links followed) is outside `root` is refused.
 * @returns an absolute path per row (undefined when not used) and each unused row with the reason.
 */
export async function resolveListing(
  listing: Listing,
  root?: string,
): Promise<{ paths: (string | undefined)[]; skipped: ListingSkip[] }> {
  const dir = path.resolve(path.dirname(listing.file));
  const rootAbs = path.resolve(root ?? dir);
  const rootReal = await fsp.realpath(rootAbs).catch(() => rootAbs);
  const skipped: ListingSkip[] = [];
  const paths = await Promise.all(
    listing.entries.map(async (entry, row) => {
      const candidates = [path.resolve(dir, entry)];
      if (listing.format === 'txt' && !path.isAbsolute(entry)) candidates.push(path.resolve(entry));
      let outside: string | undefined;
      for (const candidate of candidates) {
        const real = await fsp.realpath(candidate).catch(() => undefined);
        if (real === undefined) continue;
        if (!isInside(real, rootReal)) {
          outside ??= candidate;
          continue;
        }
        if ((await fsp.stat(real)).isFile()) return candidate;
      }
      skipped.push({
        row,
        entry,
        reason: outside
          ? `outside ${rootAbs}, not read (name a folder that holds it with --listing-root)`
          : 'no such file',
      });
      return undefined;
    }),
  );
  return { paths, skipped: skipped.sort((a, b) => a.row - b.row) };
}
