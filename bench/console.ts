import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { buildConsole } from '../console/build';
import { ConsoleHost } from '../local/console/console-host';

/**
 * The console's weight and load time: the built files (raw and gzipped, as CloudFront's Compress serves them),
 * and, in headless Chromium (Debian's), the time from navigation to the sign-in button, median of N fresh
 * browser contexts (empty cache), unthrottled and on a slow phone network (1.6 Mbit/s down, 750 kbit/s up,
 * 150 ms RTT: Lighthouse's mobile throttling). The local host gzips nothing, so the throttled figure sends
 * the raw bytes: it is an upper bound of what CloudFront, compressing, serves.
 * `npx tsx bench/run.ts --only=console` measures this alone.
 */

export interface ConsoleBenchResult {
  files: Array<{ name: string; bytes: number; gzipped: number }>;
  loads: number;
  unthrottledMs: { median: number; max: number };
  slowNetworkMs: { median: number; max: number };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function measureConsole(options: { loads?: number; chromiumPath?: string } = {}): Promise<ConsoleBenchResult> {
  const loads = options.loads ?? 10;
  const dist = mkdtempSync(join(tmpdir(), 'console-bench-'));
  await buildConsole(dist);
  const files = readdirSync(dist).map((name) => {
    const bytes = readFileSync(join(dist, name));
    return { name, bytes: bytes.length, gzipped: gzipSync(bytes).length };
  });
  const config = {
    apiUrl: 'http://127.0.0.1:9',
    signIn: { domain: 'http://127.0.0.1:9', clientId: 'bench', issuer: 'http://127.0.0.1:9' },
    stage: 'bench',
    serverCa: { fileName: 'root-ca.pem', pem: '-' },
  };
  const host = new ConsoleHost({ config: () => config, connectSources: () => [], dist });
  const url = await host.listen(0);
  const browser = await chromium.launch({ executablePath: options.chromiumPath ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const time = async (slow: boolean) => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    if (slow) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 });
    }
    const started = performance.now();
    await page.goto(url);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const ms = performance.now() - started;
    await context.close();
    return ms;
  };
  try {
    await time(false); // the browser's own warm-up
    const fast: number[] = [];
    const slow: number[] = [];
    for (let i = 0; i < loads; i++) {
      fast.push(await time(false));
      slow.push(await time(true));
    }
    return { files, loads, unthrottledMs: { median: median(fast), max: Math.max(...fast) }, slowNetworkMs: { median: median(slow), max: Math.max(...slow) } };
  } finally {
    await browser.close();
    await host.close();
    rmSync(dist, { recursive: true, force: true });
  }
}

export function consoleMarkdown(result: ConsoleBenchResult): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const total = result.files.reduce((sum, f) => ({ bytes: sum.bytes + f.bytes, gzipped: sum.gzipped + f.gzipped }), { bytes: 0, gzipped: 0 });
  return [
    '| file | bytes | gzipped |',
    '|---|--:|--:|',
    ...result.files.map((f) => `| ${f.name} | ${kb(f.bytes)} | ${kb(f.gzipped)} |`),
    `| **total** | **${kb(total.bytes)}** | **${kb(total.gzipped)}** |`,
    '',
    `Navigation to the sign-in button, ${result.loads} fresh contexts (empty cache), phone viewport: unthrottled median ${result.unthrottledMs.median.toFixed(0)} ms ` +
      `(max ${result.unthrottledMs.max.toFixed(0)}); slow 4G (1.6 Mbit/s, 150 ms RTT, raw bytes) median ${result.slowNetworkMs.median.toFixed(0)} ms (max ${result.slowNetworkMs.max.toFixed(0)}).`,
  ].join('\n');
}

if (require.main === module) {
  measureConsole().then(
    (result) => console.log(consoleMarkdown(result)),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
