/** @type {import('jest').Config} */
const tsJest = [
  'ts-jest',
  {
    // Type checking is `tsc -p .` (npm run typecheck); tests only transpile.
    tsconfig: { module: 'commonjs', moduleResolution: 'node10', isolatedModules: true, allowJs: true, esModuleInterop: true, target: 'ES2022' },
    diagnostics: false,
  },
];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  // @middy/core and aedes are ESM-only: transpile them like our sources.
  transform: { '^.+\\.(ts|js|mjs)$': tsJest },
  transformIgnorePatterns: ['/node_modules/(?!(@middy|aedes)/)'],
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  testTimeout: 60_000,
  // jest's summary, then one closing line with the counts and the names of skipped tests.
  reporters: ['<rootDir>/test/support/default-reporter.cjs', '<rootDir>/test/support/summary-reporter.cjs'],
};
