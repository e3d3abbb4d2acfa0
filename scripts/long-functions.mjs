// Lists functions in src/ longer than a bound (default 80 lines), longest first:
// `node scripts/long-functions.mjs [--max 80] [dir]`. Exits 1 when any is found outside the allow-list.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const maxAt = args.indexOf('--max');
const max = maxAt >= 0 ? Number(args.splice(maxAt, 2)[1]) : 80;
const root = args[0] ?? 'src';
// Kernel tables: one flat function per kernel registration list, long by nature.
const ALLOWED = new Set(['src/engine/fastKernels.ts']);

function* files(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

const found = [];
for (const file of files(root)) {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = src.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = src.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) {
        const name =
          node.name?.getText() ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText() : '(anonymous)');
        found.push({ file, line: start + 1, name, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
}
found.sort((a, b) => b.lines - a.lines);
for (const f of found)
  console.log(
    `${String(f.lines).padStart(4)}  ${f.file}:${f.line}  ${f.name}${ALLOWED.has(f.file) ? '  (allowed)' : ''}`,
  );
process.exit(found.some((f) => !ALLOWED.has(f.file)) ? 1 : 0);
