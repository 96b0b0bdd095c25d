import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The layering rules of .dependency-cruiser.cjs (style.md §14), run with dependency-cruiser: on the
 * repository, where they must hold, and on a small tree that breaks each of them, where each must be named.
 */

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const TREES = ['functions', 'shared', 'lib', 'local', 'cli', 'device', 'bench', 'test', 'resources', 'bin', 'esbuild-plugins.cjs'];

async function cruise(cwd: string, paths: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(DEPCRUISE, [...paths, '--config', CONFIG, '--output-type', 'err'], { cwd, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('dependency rules', () => {
  it('hold for the whole repository: no cycles, deployed code imports only itself and packages, cli/ and local/ apart', async () => {
    const { code, output } = await cruise(ROOT, TREES);
    expect(output).toContain('no dependency violations found');
    expect(code).toBe(0);
  });

  describe('on a tree that breaks them', () => {
    let dir: string;
    let result: { code: number; output: string };
    const file = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'depcruise-'));
      file('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true } }));
      // A type-only cycle is still a cycle.
      file('shared/a.ts', "import type { B } from './b';\nexport type A = { b?: B };\n");
      file('shared/b.ts', "import type { A } from './a';\nexport type B = { a?: A };\n");
      file('shared/uses-lib.ts', "import { x } from '../lib/tool';\nexport const y = x;\n");
      file('functions/f/handler.ts', "import { z } from '../../local/emulator';\nexport const handler = z;\n");
      file('lib/tool.ts', 'export const x = 1;\n');
      file('local/emulator.ts', "import { c } from '../cli/main';\nexport const z = c;\n");
      file('cli/main.ts', "import { x } from '../lib/tool';\nimport type { Emu } from '../local/types';\nexport const c: Emu = x;\n");
      file('local/types.ts', 'export type Emu = number;\n');
      result = await cruise(dir, ['functions', 'shared', 'lib', 'local', 'cli']);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['no-cycles', 'shared/a.ts'],
      ['deployed-code-imports-only-itself-and-packages', 'shared/uses-lib.ts → lib/tool.ts'],
      ['deployed-code-imports-only-itself-and-packages', 'functions/f/handler.ts → local/emulator.ts'],
      ['cli-does-not-import-local', 'cli/main.ts → local/types.ts'],
      ['local-does-not-import-cli', 'local/emulator.ts → cli/main.ts'],
    ])('reports %s (%s)', (rule, where) => {
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(new RegExp(`error ${rule}: ${where.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    });
  });
});
