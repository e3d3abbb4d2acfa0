#!/usr/bin/env node
// `npm run lint`: ESLint and package.json's format:check, depcheck and long-functions scripts,
// started together rather than one after another — ESLint's type-checked pass takes most of the
// time on one core and the other three fit beside it on the second. Each check's output is
// printed whole, in this order, once it ends; the exit status is non-zero when any check failed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const { scripts } = JSON.parse(readFileSync('package.json', 'utf8'));
const CHECKS = ['eslint .', scripts['format:check'], scripts.depcheck, scripts['long-functions']];

/** Runs `command` in a shell with node_modules/.bin on the PATH, as npm runs a script. */
function run(command) {
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      env: { ...process.env, PATH: `node_modules/.bin:${process.env.PATH}` },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => resolve({ status: 1, out: `${out}${err.message}\n` }));
    child.on('close', (status) => resolve({ status: status ?? 1, out }));
  });
}

const results = await Promise.all(CHECKS.map(run));
let failed = 0;
for (const [i, { status, out }] of results.entries()) {
  process.stdout.write(`> ${CHECKS[i]}\n${out}${out === '' || out.endsWith('\n') ? '' : '\n'}`);
  if (status !== 0) {
    failed++;
    console.log(`failed (exit ${status}): ${CHECKS[i]}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
