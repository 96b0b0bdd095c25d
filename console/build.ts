import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Builds the console into console/dist: index.html, app-<hash>.js and app-<hash>.css (esbuild, minified, ES2022), no
 * inline script or style (the CSP of the hosting allows only 'self'). config.json is not part of the build:
 * it is written next to it at deploy time (and by the local HTTP front). `npx tsx console/build.ts`.
 */

export const CONSOLE_DIR = resolve(__dirname);
export const CONSOLE_DIST = join(CONSOLE_DIR, 'dist');

export async function buildConsole(outdir: string = CONSOLE_DIST): Promise<{ files: Record<string, number>; gzipped: number }> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  // Content-hashed names: a deploy never mixes an old app.js with a new index.html, and assets cache for good.
  const result = await build({
    entryNames: '[name]-[hash]',
    // The decisions page (and uPlot, half of the code) loads only when an operator opens it.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    metafile: true,
    entryPoints: { app: join(CONSOLE_DIR, 'src/main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outdir,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
    tsconfig: join(CONSOLE_DIR, 'tsconfig.json'),
  });
  const entry = Object.entries(result.metafile.outputs).find(([path, output]) => output.entryPoint && path.endsWith('.js'))!;
  const js = basename(entry[0]);
  const css = basename(entry[1].cssBundle!);
  const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
  const html = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8').replace('./app.js', `./${js}`).replace('./app.css', `./${css}`);
  writeFileSync(join(outdir, 'index.html'), html);
  const files: Record<string, number> = {};
  let gzipped = 0;
  for (const name of ['index.html', ...outputs]) {
    const bytes = readFileSync(join(outdir, name));
    files[name] = bytes.length;
    gzipped += gzipSync(bytes).length;
  }
  return { files, gzipped };
}

if (require.main === module) {
  buildConsole(process.argv[2] ? resolve(process.argv[2]) : CONSOLE_DIST).then(
    ({ files, gzipped }) => {
      for (const [name, size] of Object.entries(files)) console.log(`${name.padEnd(12)} ${(size / 1024).toFixed(1)} KB`);
      console.log(`total gzipped ${(gzipped / 1024).toFixed(1)} KB`);
    },
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}


