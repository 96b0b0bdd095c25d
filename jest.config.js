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
  // @middy/core, aedes, jose and oidc-provider are ESM-only: transpile them like our sources (tsx and Node
  // load them natively).
  transform: { '^.+\\.(ts|js|mjs)$': tsJest },
  transformIgnorePatterns: ['/node_modules/(?!(@middy|aedes|jose|oidc-provider)/)'],
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  testTimeout: 60_000,
  // One clean-clone run (of five) finished every test and then did not exit: a stray handle (a socket or timer
  // some suite leaves open) kept the process alive, and CI would wait until its 90-minute limit. Exit once the
  // run is complete; `npx jest --detectOpenHandles <files>` finds the handle (the new suites of issue 11 have
  // none; the leak is not found yet).
  forceExit: true,
  // jest's summary, then one closing line with the counts and the names of skipped tests.
  reporters: ['<rootDir>/test/support/default-reporter.cjs', '<rootDir>/test/support/summary-reporter.cjs'],
};
