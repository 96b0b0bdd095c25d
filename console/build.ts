import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Builds the console into console/dist: index.html, app.js and app.css (esbuild, minified, ES2022), no
 * inline script or style (the CSP of the hosting allows only 'self'). config.json is not part of the build:
 * it is written next to it at deploy time (and by the local HTTP front). `npx tsx console/build.ts`.
 */

export const CONSOLE_DIR = resolve(__dirname);
export const CONSOLE_DIST = join(CONSOLE_DIR, 'dist');

export async function buildConsole(outdir: string = CONSOLE_DIST): Promise<{ files: Record<string, number>; gzipped: number }> {
  mkdirSync(outdir, { recursive: true });
  await build({
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
  copyFileSync(join(CONSOLE_DIR, 'index.html'), join(outdir, 'index.html'));
  const files: Record<string, number> = {};
  let gzipped = 0;
  for (const name of ['index.html', 'app.js', 'app.css']) {
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


