/**
 * Config files of the commands (`invert --config`, `train --config`, `leakage --invert-config`):
 * a JSON object with any subset of a config's keys, read and checked here, with the flags the
 * user gave merged over it (flags override the file, which overrides the defaults).
 */
import { ArcinvertError } from '../errors.js';
import { readTextChecked } from '../io/atomic.js';

export interface ConfigFileSpec {
  /** The flag that named the file, for the messages (`--config`). */
  flag: string;
  /** The keys the file may hold. */
  keys: readonly string[];
  /** What the config is, for the unknown-key message (`train config`). */
  what: string;
}

/**
 * Reads a JSON config file.
 * @throws ArcinvertError (one line) when the file cannot be read, is not JSON, is not a JSON
 *   object, or holds a key outside `spec.keys`.
 */
export async function readConfigFile<T extends object>(file: string, spec: ConfigFileSpec): Promise<Partial<T>> {
  const text = await readTextChecked(file, spec.flag, 'json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ArcinvertError(`${spec.flag} ${file} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ArcinvertError(`${spec.flag} ${file} must hold a JSON object of config keys`);
  for (const key of Object.keys(parsed))
    if (!spec.keys.includes(key)) throw new ArcinvertError(`${spec.what}: unknown key '${key}'`);
  return parsed;
}

/** `flags` over `fromFile`; a flag left `undefined` (not given) keeps the file's value. */
export function mergeFlags<T extends object>(fromFile: Partial<T>, flags: Partial<T>): Partial<T> {
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as Partial<T>;
  return { ...fromFile, ...given };
}
