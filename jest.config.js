/**
 * Jest runs the TypeScript sources directly through ts-jest in ESM mode, in Node's environment
 * with the host realm's typed arrays (`tests/helpers/realmEnvironment.cjs`): `embed`, `eval` and
 * `train` run onnxruntime by default, whose native outputs fail `instanceof` checks otherwise.
 */
export default {
  testEnvironment: '<rootDir>/tests/helpers/realmEnvironment.cjs',
  extensionsToTreatAsEsm: ['.ts', '.tsx'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
  testMatch: ['<rootDir>/tests/**/*.test.ts', '<rootDir>/tests/**/*.test.tsx'],
  testTimeout: 120000,
};
