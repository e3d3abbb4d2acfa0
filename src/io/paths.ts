/** Path facts shared by the output staging and the listing confinement. */
import * as path from 'node:path';

/**
 * Whether `child` is `dir` or lies inside it (both absolute and resolved). A name inside that
 * merely starts with two dots (`..foo`) is inside; `..` and `../x` are not.
 */
export function isInside(child: string, dir: string): boolean {
  const rel = path.relative(dir, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
