import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeCertificateCommand } from '@aws-sdk/client-iot';
import { unzipSync, strFromU8 } from 'fflate';
import type { Browser } from 'playwright-core';
import { connectOnce } from '../../device/mqtt-connection';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { chromiumAvailable, DESKTOP, launchBrowser, PHONE, screenshot, signInToConsole, type WatchedPage } from '../support/browser';
import { toolAvailable } from '../support/tools';

/**
 * A technician in the console, in headless Chromium against the local IoT Core: signs in through the
 * stand-in user pool (code + PKCE), gets a claim for an allow-listed serial, downloads the bundle once, and
 * the downloaded files provision a real device over MQTT with mosquitto_rr (the bundle's provision.sh).
 */

const ready = chromiumAvailable() && toolAvailable('mosquitto_rr', ['--help']) && toolAvailable('jq');
const maybe = ready ? describe : describe.skip;

const TECHNICIAN = { email: 'tech@example.com', password: 'Technician-Pass-1' };
let stack: LocalStack;
let browser: Browser;

beforeAll(async () => {
  if (!ready) return;
  stack = await startLocalStack({ core: { mqtt: { port: 0 }, console: { port: 0 } } });
  await (await stack.core.userPool()).addUser(TECHNICIAN.email, TECHNICIAN.password, ['technicians']);
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(viewport: { width: number; height: number }, user = TECHNICIAN): Promise<WatchedPage> {
  const watched = await signInToConsole(browser, stack.core.endpoints.console!, user, viewport);
  await watched.page.getByRole('heading', { name: 'Provision a device' }).waitFor();
  return watched;
}

maybe('a technician in the console', () => {
  it('signs in, gets a claim for a serial, and the downloaded files provision the device over MQTT', async () => {
    await stack.registry.allow('BROWSER-0001', {}, new Date());
    const { page, context, problems, downloads } = await signIn(PHONE);
    expect(await page.getByText('tech@example.com · technicians').isVisible()).toBe(true);
    // A technician has no operator pages.
    expect(await page.getByRole('link', { name: 'Devices' }).count()).toBe(0);
    await screenshot(page, 'technician-provision-phone');

    await page.getByLabel('Serial number').fill('BROWSER-0001');
    await page.getByRole('button', { name: 'Get a claim' }).click();
    await page.locator('#claim').waitFor();
    expect(await page.locator('#countdown').textContent()).toMatch(/^[45]:\d\d$/);
    await screenshot(page, 'technician-claim-phone');
    // The key is nowhere in the page, nor in storage.
    expect(await page.content()).not.toContain('PRIVATE KEY');
    expect(await page.evaluate<string>('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })')).not.toContain('PRIVATE KEY');

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: /^Download BROWSER-0001-claim\.zip$/ }).click();
    await download;
    await page.locator('#downloaded').waitFor();
    // Handed out once: the claim is gone from the page.
    expect(await page.locator('#claim').count()).toBe(0);
    for (let i = 0; i < 50 && !downloads.has('BROWSER-0001-claim.zip'); i++) await new Promise((r) => setTimeout(r, 100));
    const files = unzipSync(new Uint8Array(downloads.get('BROWSER-0001-claim.zip')!));
    expect(Object.keys(files).sort()).toEqual(['README.txt', 'claim.pem.crt', 'claim.private.key', 'provision.sh', 'root-ca.pem']);
    expect(problems).toEqual([]);
    await context.close();

    // On the "device": run the bundle's own script with mosquitto_rr.
    const dir = mkdtempSync(join(tmpdir(), 'claim-bundle-'));
    try {
      for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), strFromU8(bytes), { mode: 0o600 });
      // Asynchronously: the local IoT Core answers in this very process.
      const { stdout: output } = await promisify(execFile)('sh', ['provision.sh'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      expect(JSON.parse(output)).toMatchObject({ thingName: 'BROWSER-0001' });
      const certificatePem = readFileSync(join(dir, 'device.pem.crt'), 'utf8');
      const privateKeyPem = readFileSync(join(dir, 'device.private.key'), 'utf8');
      const entry = await stack.registry.get('BROWSER-0001');
      const { certificateDescription } = await stack.iot.send(new DescribeCertificateCommand({ certificateId: entry!.certificateId! }));
      expect(certificateDescription?.status).toBe('ACTIVE');
      expect(certificateDescription?.certificatePem?.trim()).toBe(certificatePem.trim());
      // The provisioned device connects with its new certificate.
      const connected = await connectOnce(stack.endpoint!, { certificatePem, privateKeyPem }, 'BROWSER-0001');
      expect(connected.error).toBeUndefined();
      connected.client?.end(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a serial that is no thing name before asking the API', async () => {
    const { page, context } = await signIn(DESKTOP);
    await page.getByLabel('Serial number').fill('bad serial!');
    expect(await page.getByRole('button', { name: 'Get a claim' }).isDisabled()).toBe(true);
    await screenshot(page, 'technician-provision-desktop');
    await context.close();
  }, 60_000);
});
