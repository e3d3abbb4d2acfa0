/** isInside: the containment check behind listing confinement and output staging. */
import * as path from 'node:path';
import { isInside } from '../../src/io/paths.js';

test.each([
  ['/a/b', '/a/b', true],
  ['/a/b/c.jpg', '/a/b', true],
  ['/a/b/..foo/c.jpg', '/a/b', true],
  ['/a/b/..', '/a/b', false],
  ['/a/c.jpg', '/a/b', false],
  ['/a/bc/d.jpg', '/a/b', false],
  ['/etc/passwd', '/a/b', false],
])('%s inside %s: %s', (child, dir, inside) => {
  expect(isInside(path.resolve(child), path.resolve(dir))).toBe(inside);
});
