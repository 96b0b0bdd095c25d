import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildConsole } from '../../console/build';
import { ConsoleHost } from '../../local/console/console-host';
import { chromiumAvailable, DESKTOP, launchBrowser, openPage, PHONE } from '../support/browser';

/** The built console in headless Chromium, under the hosting's CSP: it starts clean and asks to sign in. */

const haveChromium = chromiumAvailable();
const maybe = haveChromium ? describe : describe.skip;

let browser: Browser;
let host: ConsoleHost;
let url: string;
let dist: string;

beforeAll(async () => {
  if (!haveChromium) return;
  dist = mkdtempSync(join(tmpdir(), 'console-smoke-'));
  await buildConsole(dist);
  const config = {
    apiUrl: 'http://127.0.0.1:9',
    signIn: { domain: 'http://127.0.0.1:9', clientId: 'client', issuer: 'http://127.0.0.1:9' },
    stage: 'smoke',
    serverCa: { fileName: 'root-ca.pem', pem: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n' },
    notice: 'Local sign-in: MFA is skipped.',
  };
  host = new ConsoleHost({ config: () => config, connectSources: () => ['http://127.0.0.1:9'], dist });
  url = await host.listen(0);
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  if (dist) rmSync(dist, { recursive: true, force: true });
});

maybe('the console in Chromium', () => {
  it.each([
    ['phone', PHONE],
    ['desktop', DESKTOP],
  ])('starts without a CSP violation or error and offers the sign-in (%s)', async (_, viewport) => {
    const { page, context, problems } = await openPage(browser, viewport);
    await page.goto(url);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.getByText('Local sign-in: MFA is skipped.').isVisible()).toBe(true);
    expect(await page.title()).toBe('iot-provisioner console');
    // The page fits the screen: nothing wider than the viewport.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
    expect(problems).toEqual([]);
    await context.close();
  }, 30_000);

  it('says what is wrong when config.json is unusable', async () => {
    const broken = new ConsoleHost({ config: () => ({ stage: 'x' }), connectSources: () => [], dist });
    const brokenUrl = await broken.listen(0);
    const { page, context } = await openPage(browser, DESKTOP);
    await page.goto(brokenUrl);
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('config.json lacks apiUrl');
    await context.close();
    await broken.close();
  }, 30_000);
});
