import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { runSandbox, type SandboxResult } from '../../local/sandbox/sandbox';
import { chromiumAvailable, DESKTOP, launchBrowser, PHONE, screenshot, signInToConsole } from '../support/browser';

/**
 * `npm start -- --serve`: the sandbox's fleet stays up and the console shows it — its devices, their states
 * and timelines, and the decisions of the run — to the operator whose sign-in it printed. The README's
 * screenshots of the operator's pages are taken here, on that fleet.
 */

const ready = chromiumAvailable();
const maybe = ready ? describe : describe.skip;

let browser: Browser;
let served: NonNullable<SandboxResult['served']>;
let dir: string;

beforeAll(async () => {
  if (!ready) return;
  dir = mkdtempSync(join(tmpdir(), 'sandbox-serve-'));
  const result = await runSandbox(() => {}, 'SILENT', { serve: true, consolePort: 0, endpointsFile: join(dir, 'endpoints.json') });
  expect(result.rows.every((row) => row.asExpected)).toBe(true);
  served = result.served!;
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await served?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

maybe('the sandbox’s fleet in the console', () => {
  it('shows the fleet, its states, a lifecycle timeline and the run’s decisions to the printed operator', async () => {
    const operator = served.users.find((u) => u.group === 'operators')!;
    for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const { page, context, problems } = await signInToConsole(browser, served.console, operator, viewport);
      await page.getByRole('link', { name: 'Devices' }).click();
      await page.locator('#devices tbody tr').first().waitFor();
      const list = await page.locator('#devices').textContent();
      for (const deviceId of ['SENSOR-0001', 'FLEET-0001', 'LIFE-0001', 'FACTORY-0001']) expect(list).toContain(deviceId);
      await screenshot(page, `operator-devices-${name}`);

      await page.getByRole('link', { name: 'LIFE-0001', exact: true }).click();
      await page.locator('#timeline li').first().waitFor();
      const timeline = await page.locator('#timeline').textContent();
      // Suspended by the sandbox's CLI user, then resumed.
      expect(timeline).toContain('suspended');
      expect(timeline).toContain('resumed');
      await screenshot(page, `operator-lifecycle-${name}`);

      await page.getByRole('link', { name: 'Decisions' }).click();
      await page.locator('#decisions tbody tr').first().waitFor();
      expect(await page.locator('#decisions').textContent()).toContain('device-not-allowlisted');
      await screenshot(page, `operator-decisions-${name}`);
      expect(problems).toEqual([]);
      await context.close();
    }
  }, 120_000);
});
