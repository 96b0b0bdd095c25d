// esbuild plugins for the Lambda bundles (serverless.yml custom.esbuild.plugins). They change what is bundled,
// never what a handler does: tsx, jest and the local IoT Core load the sources and the SDK unbundled.
const { readFile } = require('node:fs/promises');
const path = require('node:path');

/**
 * Lambda gives every function its credentials in environment variables, so the SDK's default credential chain
 * is replaced by its first link, `fromEnv` (shared/aws/lambda-credentials.ts says why and what goes).
 * @type {import('esbuild').Plugin}
 */
const lambdaCredentials = {
  name: 'lambda-credentials',
  setup(build) {
    const shim = path.join(__dirname, 'shared/aws/lambda-credentials.ts');
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: shim }));
  },
};

/**
 * Makes the SDK's generated schema modules tree-shakable. Each client has one `schemas_0.js` with a schema for
 * every operation of the service (IoT: ~700 shapes, 107 KB minified), and a command pulls in only the ones it
 * names — but their traits are written with computed keys (`{ [_h]: ["GET", "/certificates/{certificateId}", 200] }`,
 * `_h` a module constant), and esbuild keeps any declaration with a computed key it cannot prove side-effect
 * free. Writing the constant's string in place of the key is the same object; esbuild then drops the shapes
 * no imported command reaches.
 * @type {import('esbuild').Plugin}
 */
const treeShakableSchemas = {
  name: 'tree-shakable-schemas',
  setup(build) {
    build.onLoad({ filter: /[\\/]@aws-sdk[\\/].+[\\/]dist-es[\\/](.+[\\/])?schemas[\\/]schemas_\d+\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const constants = new Map();
      for (const [, name, value] of source.matchAll(/^const (_\w+) = ("(?:[^"\\]|\\.)*");$/gm)) constants.set(name, value);
      const contents = source.replace(/([{,]\s*)\[(_\w+)\]:/g, (match, before, name) =>
        constants.has(name) ? `${before}${constants.get(name)}:` : match,
      );
      return { contents, loader: 'js', resolveDir: path.dirname(args.path) };
    });
  },
};

/**
 * @aws-sdk/lib-dynamodb declares no `sideEffects`, unlike the SDK packages around it, so esbuild keeps every one of
 * its command classes (and through them the DynamoDB client) in any bundle that imports it, even one that never
 * builds a document client. Its modules only declare classes and functions.
 * @type {import('esbuild').Plugin}
 */
const sideEffectFreeLibDynamodb = {
  name: 'side-effect-free-lib-dynamodb',
  setup(build) {
    const inPackage = /[\\/]node_modules[\\/]@aws-sdk[\\/]lib-dynamodb[\\/]/;
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'side-effect-free-lib-dynamodb') return undefined;
      if (args.path !== '@aws-sdk/lib-dynamodb' && !(args.path.startsWith('.') && inPackage.test(args.importer))) return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'side-effect-free-lib-dynamodb',
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, sideEffects: false };
    });
  },
};

/**
 * Event streams are loaded by a dynamic import when an operation streams events (S3 SelectObjectContent, Kinesis
 * SubscribeToShard, …); none of the operations these functions call does. In their place, a module that says so
 * if that ever changes. S3's static import of the same module (its client configuration) is left as it is.
 * @type {import('esbuild').Plugin}
 */
const noEventStreams = {
  name: 'no-event-streams',
  setup(build) {
    build.onResolve({ filter: /^@smithy\/core\/event-streams$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: 'event-streams', namespace: 'no-event-streams' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'no-event-streams' }, () => ({
      contents: `const unsupported = () => { throw new Error('event streams are not in this bundle (esbuild-plugins.cjs)'); };
export class EventStreamSerde { constructor() { unsupported(); } }
export const eventStreamSerdeProvider = unsupported;`,
      loader: 'js',
    }));
  },
};

/**
 * Each client imports its whole package.json (2-4 KB, minified) for `packageInfo.version`, the one field any SDK
 * module reads (the user agent).
 * @type {import('esbuild').Plugin}
 */
const versionOnlyPackageJson = {
  name: 'version-only-package-json',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/ }, async (args) => {
      const { name, version } = JSON.parse(await readFile(args.path, 'utf8'));
      return { contents: JSON.stringify({ name, version }), loader: 'json' };
    });
  },
};

module.exports = [lambdaCredentials, treeShakableSchemas, sideEffectFreeLibDynamodb, noEventStreams, versionOnlyPackageJson];
