import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { loadStack } from '../lib/stack';

const ROOT = resolve(__dirname, '..');

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value) throw new Error(`serverless.yml: ${name} must be set`);
  return value;
}

/**
 * The esbuild settings serverless-esbuild packages our functions with: serverless.yml's custom.esbuild (its
 * plugins file included), so that the bench runs and measures what `serverless deploy` ships. Read once.
 */
let buildOptions: BuildOptions | undefined;
export function ourBuildOptions(): BuildOptions {
  if (buildOptions) return buildOptions;
  const { esbuild } = loadStack();
  const plugins = typeof esbuild.plugins === 'string' ? (require(resolve(ROOT, esbuild.plugins)) as Plugin[]) : [];
  buildOptions = {
    bundle: true,
    minify: esbuild.minify === true,
    keepNames: esbuild.keepNames === true,
    platform: 'node',
    // serverless.yml sets the target (node24, the runtime's); without one this build would not be ours.
    target: requireString(esbuild.target, 'custom.esbuild.target'),
    mainFields: Array.isArray(esbuild.mainFields) ? esbuild.mainFields.map(String) : ['module', 'main'],
    format: 'cjs',
    plugins,
    logLevel: 'error',
  };
  return buildOptions;
}

/**
 * Builds a handler into one CommonJS file with our settings for the bench's Lambda containers, so that they
 * load code the way Lambda does (a bundle), not TypeScript through tsx. Kept in bench/.build (gitignored).
 */
export async function bundleForBench(entry: string, name: string): Promise<string> {
  const outdir = join(ROOT, 'bench', '.build', 'burst');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `${name}.js`);
  await build({ ...ourBuildOptions(), entryPoints: [join(ROOT, entry)], outfile });
  return outfile;
}

export interface BundleComposition {
  bytes: number;
  /** Minified bytes by origin, largest first. */
  parts: Array<{ origin: string; bytes: number }>;
}

const ORIGINS: Array<[RegExp, string]> = [
  [/node_modules\/@(aws-sdk|smithy|aws-crypto)\//, 'AWS SDK'],
  [/node_modules\/zod\//, 'zod'],
  [/node_modules\/@aws-lambda-powertools\//, 'Powertools (logger, metrics)'],
  [/node_modules\/@middy\//, 'middy'],
  [/node_modules\//, 'other packages'],
];

/** Where a function's minified bytes come from (esbuild's metafile of the same build). */
export async function bundleComposition(entry: string): Promise<BundleComposition> {
  const result = await build({ ...ourBuildOptions(), entryPoints: [join(ROOT, entry)], outdir: join(ROOT, 'bench', '.build', 'composition'), write: false, metafile: true });
  const output = Object.values((result.metafile as Metafile).outputs).find((o) => o.entryPoint);
  if (!output) throw new Error(`no output for ${entry}`);
  const byOrigin = new Map<string, number>();
  for (const [path, input] of Object.entries(output.inputs)) {
    const origin = ORIGINS.find(([pattern]) => pattern.test(path))?.[1] ?? 'our code';
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + input.bytesInOutput);
  }
  const parts = [...byOrigin].map(([origin, bytes]) => ({ origin, bytes })).sort((a, b) => b.bytes - a.bytes);
  return { bytes: output.bytes, parts };
}
