/** Protection keys on disk: JSON beside the protected templates, or given with `--key`. */
import { promises as fsp } from 'node:fs';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { checkKey, type ProtectionKey } from './schemes.js';

/** Where `protect` writes the key of `out.npy`: `out.key.json`. */
export function keyPathFor(npy: string): string {
  return npy.replace(/\.npy$/, '') + '.key.json';
}

export async function readKey(file: string): Promise<ProtectionKey> {
  const text = await fsp.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ArcinvertError(`cannot read the protection key ${file}: ${err.code ?? err.message}`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ArcinvertError(`${file} is not valid JSON`);
  }
  return checkKey(json, file);
}

export async function writeKey(file: string, key: ProtectionKey): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(key, null, 1)}\n`);
}
