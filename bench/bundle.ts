import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

/**
 * Builds a handler into one minified CommonJS file for the bench's Lambda containers, so that they load
 * code the way Lambda does (a bundle), not TypeScript through tsx. Kept in bench/.build (gitignored).
 */
export async function bundleForBench(entry: string, name: string): Promise<string> {
  const root = resolve(__dirname, '..');
  const outdir = join(root, 'bench', '.build', 'burst');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `${name}.js`);
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    mainFields: ['module', 'main'],
    logLevel: 'error',
  });
  return outfile;
}
