'use strict';
/**
 * The layering rules (style.md §14), checked by `npm test` (test/architecture/dependencies.test.ts):
 * functions/ → shared/ → packages; the tools around them (cli/, local/, device/, bench/, test/) share code
 * through lib/ only, which no Lambda bundle ever includes; cli/ and local/ never import each other; and no
 * import cycle anywhere, type-only imports included.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle (type-only imports count too): the two modules are one; merge them or move what both need.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'deployed-code-imports-only-itself-and-packages',
      severity: 'error',
      comment: 'functions/ and shared/ are bundled into Lambdas: they import each other (functions → shared) and packages, nothing else.',
      from: { path: '^(functions|shared)/' },
      to: { pathNot: ['^(functions|shared)/', '(^|/)node_modules/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'shared-does-not-import-functions',
      severity: 'error',
      comment: 'Layers point one way: functions/ → shared/.',
      from: { path: '^shared/' },
      to: { path: '^functions/' },
    },
    {
      name: 'cli-does-not-import-local',
      severity: 'error',
      comment: 'The operator CLI ships to users; the local IoT Core is a test and demo tool. What both need lives in lib/.',
      from: { path: '^cli/' },
      to: { path: '^local/' },
    },
    {
      name: 'local-does-not-import-cli',
      severity: 'error',
      comment: 'The local IoT Core does not depend on the CLI; what both need lives in lib/.',
      from: { path: '^local/' },
      to: { path: '^cli/' },
    },
    {
      name: 'lib-is-below-the-tools',
      severity: 'error',
      comment: 'lib/ is what cli/, local/, device/, bench/ and test/ share: it imports none of them.',
      from: { path: '^lib/' },
      to: { path: '^(cli|local|bench|test|device)/' },
    },
    {
      name: 'nothing-imports-tests-or-bench',
      severity: 'error',
      comment: 'test/ and bench/ are leaves: only they import themselves.',
      from: { pathNot: '^(test|bench)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|\\.serverless|\\.esbuild|\\.build|\\.local|coverage)/' },
    // Type-only imports count: a cycle of types is still a cycle (style.md §14).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
    // Packages' `exports` maps, as Node and esbuild read them (@aws-lambda-powertools/logger/middleware).
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'import', 'node', 'default'], mainFields: ['module', 'main'] },
  },
};
