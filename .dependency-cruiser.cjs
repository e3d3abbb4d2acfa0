/**
 * Import boundaries of arcinvert (`npm run depcheck`, run in CI).
 *
 * Rooms are layered; imports flow one way, never in a circle:
 *   src/cli/, src/index.ts                      the commands and the library entry point
 *   → train, invert, eval, leakage, onnx, tfjs, bridge, protect   the jobs (never import each other)
 *   → arcface, bnprior, model, align, judge, metrics   shared concepts (may use each other, no circles)
 *   → backbone, io, engine, util, errors.ts      the base (may use each other, no circles)
 * Type-only imports count (tsPreCompilationDeps).
 */
const JOBS = '^src/(train|invert|eval|leakage|onnx|tfjs|bridge|protect)/';
const SHARED = '^src/(arcface|bnprior|model|align|judge|metrics)/';
const BASE = '^src/(backbone|io|engine|util)/|^src/errors\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Two modules that import each other: one concept is in the wrong room.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-cli-below',
      severity: 'error',
      comment: 'Only the CLI imports the CLI.',
      from: { pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-entry-below',
      severity: 'error',
      comment: 'Nothing imports the library entry point.',
      from: {},
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'jobs-do-not-import-jobs',
      severity: 'error',
      comment: "A job that needs another job's piece means the piece belongs in a shared room.",
      from: { path: '^src/(train|invert|eval|leakage|onnx|tfjs|bridge|protect)/' },
      to: { path: JOBS, pathNot: '^src/$1/' },
    },
    { name: 'shared-do-not-import-jobs', severity: 'error', from: { path: SHARED }, to: { path: JOBS } },
    { name: 'base-imports-only-base', severity: 'error', from: { path: BASE }, to: { path: '^src/', pathNot: BASE } },
    {
      name: 'src-does-not-import-outside',
      severity: 'error',
      comment: 'The product does not depend on tests, scripts or benchmarks.',
      from: { path: '^src/' },
      to: { path: '^(tests|scripts|benchmarks)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
