import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { connectOnce } from '../../device/mqtt-connection';
import type { KeyedCertificate } from '../../lib/pki';
import { percentile } from '../../local/lambda/local-metrics';
import { runFleetDevice, runJitrDevice } from '../../local/sandbox/simulator';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { main } from '../../cli/main';
import { chromiumAvailable, DESKTOP, launchBrowser, PHONE, screenshot, signInToConsole, type WatchedPage } from '../support/browser';

/**
 * Operators and technicians in the console, in headless Chromium against the local IoT Core: an operator's
 * home shows the metrics of a run (read back from the local CloudWatch); an operator suspends a device (which then cannot connect), resumes it, imports a CSV and reads a refused device's
 * diagnosis; a technician cannot reach the operator routes (the API answers 403, not only a hidden link);
 * a tampered token is refused and sends the user back to the sign-in.
 */

const ready = chromiumAvailable();
const maybe = ready ? describe : describe.skip;

const OPERATOR = { email: 'olga@example.com', password: 'Operator-Pass-1' };
const TECHNICIAN = { email: 'tom@example.com', password: 'Technician-Pass-1' };
let stack: LocalStack;
let browser: Browser;

const identityOf = (device: KeyedCertificate) => ({ certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem });

beforeAll(async () => {
  if (!ready) return;
  stack = await startLocalStack({ core: { mqtt: { port: 0 }, console: { port: 0 } } });
  const pool = await stack.core.userPool();
  await pool.addUser(OPERATOR.email, OPERATOR.password, ['operators']);
  await pool.addUser(TECHNICIAN.email, TECHNICIAN.password, ['technicians']);
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(user: { email: string; password: string }, viewport: { width: number; height: number } = DESKTOP): Promise<WatchedPage> {
  const watched = await signInToConsole(browser, stack.core.endpoints.console!, user, viewport);
  // Operators land on their home, technicians on the provision page.
  await watched.page.getByRole('heading', { name: user === OPERATOR ? 'Home' : 'Provision a device' }).waitFor();
  return watched;
}

/** A device of the stack's CA through JITR's first connect (the handler runs between attempts). */
async function jitrDevice(deviceId: string, allow: boolean) {
  const device = await stack.device(deviceId, allow ? { registry: 'allow' } : {});
  const result = await runJitrDevice({ endpoint: stack.endpoint!, identity: identityOf(device), clientId: deviceId, maxAttempts: 3, backoffMs: 50, betweenAttempts: () => stack.core.idle() });
  return { device, connected: result.connected };
}

async function openDevice(page: Page, deviceId: string) {
  await page.getByRole('link', { name: 'Devices' }).click();
  await page.getByPlaceholder('device id or prefix').fill(deviceId);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: deviceId, exact: true }).click();
  await page.locator('#state').waitFor();
}

maybe('an operator in the console', () => {
  it('lands on the home page, which shows the decisions and the hook latency of the run, at desktop and phone width', async () => {
    await jitrDevice('OPS-HOME-IN', true);
    await jitrDevice('OPS-HOME-OUT', false);
    const vend = await fetch(`${stack.core.endpoints.http}/provisioning-claims`, { method: 'POST', headers: { authorization: await stack.core.issueToken('tom', { groups: ['technicians'] }) }, body: '{}' });
    const claim = (await vend.json()) as { certificatePem: string; privateKey: string; templateName: string };
    await stack.registry.allow('OPS-HOME-F1', {}, new Date());
    for (const serialNumber of ['OPS-HOME-F1', 'OPS-HOME-F2']) {
      await runFleetDevice({ endpoint: stack.endpoint!, claim: { certificatePem: claim.certificatePem, privateKeyPem: claim.privateKey }, templateName: claim.templateName, serialNumber, api: 'create' });
    }
    await stack.core.idle();
    // What the functions emitted (the local Lambda runtime's collection): the page must show the same.
    const admitted = stack.core.metrics.sum('Decisions', { reason: 'admitted' });
    const refused = stack.core.metrics.sum('Decisions') - admitted;
    const latency = stack.core.metrics.values('HookDecisionLatency');
    expect(admitted).toBeGreaterThanOrEqual(2);
    expect(refused).toBeGreaterThanOrEqual(2);
    expect(latency.length).toBeGreaterThanOrEqual(2);

    for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']] as const) {
      const { page, context, problems } = await signIn(OPERATOR, viewport);
      await page.locator('#tile-admitted strong').waitFor();
      expect(await page.locator('#tile-admitted strong').textContent()).toBe(String(admitted));
      expect(await page.locator('#tile-refused strong').textContent()).toBe(String(refused));
      expect(await page.locator('#tile-latency strong').textContent()).toBe(`${percentile(latency, 50)} / ${percentile(latency, 99)} ms`);
      expect(await page.locator('#tile-latency').textContent()).toContain(`${latency.length} decisions; deadline 3 s, AWS IoT waits 5 s`);
      expect(await page.locator('#home-decisions tr[data-flow="jitr"]').textContent()).toContain('device-not-allowlisted');
      expect(await page.locator('#home-decisions tr[data-flow="hook"] td.admitted').textContent()).toBe(String(stack.core.metrics.sum('Decisions', { flow: 'hook', reason: 'admitted' })));
      expect(await page.locator('#home-cold-starts').textContent()).toContain('preProvisioningHook');
      await page.locator('#tile-queue strong').getByText(/^\d+$/).waitFor();
      await screenshot(page, `operator-home-${name}`);
      // Another window: the same run is within the last hour and the last week.
      await page.getByRole('button', { name: '7 d' }).click();
      await page.waitForURL(/hours=168/);
      await page.locator('#tile-admitted strong').waitFor();
      expect(await page.locator('#tile-admitted strong').textContent()).toBe(String(admitted));
      expect(problems).toEqual([]);
      await context.close();
    }
  }, 120_000);

  it('suspends a device, which then cannot connect, and resumes it; the timeline names the operator', async () => {
    const { device, connected } = await jitrDevice('OPS-0001', true);
    expect(connected).toBe(true);
    const { page, context, problems } = await signIn(OPERATOR);
    await openDevice(page, 'OPS-0001');
    expect(await page.locator('#state').textContent()).toBe('provisioned');

    await page.getByRole('button', { name: 'Suspend' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Suspend' }).click();
    await page.locator('#action-result').getByText('suspend: done, now suspended').waitFor();
    expect(await page.locator('#state').textContent()).toBe('suspended');
    expect(await page.locator('#timeline').textContent()).toContain(`by user ${OPERATOR.email}`);
    await screenshot(page, 'operator-device-desktop');
    // Cut off: its certificate is INACTIVE, the broker refuses it.
    expect((await connectOnce(stack.endpoint!, identityOf(device), 'OPS-0001')).error).toBeDefined();

    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Resume' }).click();
    await page.locator('#action-result').getByText('resume: done, now provisioned').waitFor();
    const back = await connectOnce(stack.endpoint!, identityOf(device), 'OPS-0001');
    expect(back.error).toBeUndefined();
    back.client?.end(true);
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);

  it('shows a device’s certificate rotation (started with `rotate`) and its timeline event', async () => {
    await jitrDevice('OPS-ROT-1', true);
    const dir = mkdtempSync(join(tmpdir(), 'console-rotate-'));
    const endpointsFile = join(dir, 'endpoints.json');
    writeFileSync(endpointsFile, JSON.stringify(stack.core.endpoints));
    const saved = { ...process.env };
    const out: string[] = [];
    try {
      expect(await main(['rotate', '--devices', 'OPS-ROT-1', '--job-id', 'rotate-console-1', '--local', '--endpoints-file', endpointsFile], (l) => out.push(l), (l) => out.push(l))).toBe(0);
    } finally {
      // The CLI sets its environment (--local): put it back.
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(out.join('\n')).toContain('queued: 1 (OPS-ROT-1)');
    const { page, context, problems } = await signIn(OPERATOR);
    await openDevice(page, 'OPS-ROT-1');
    await page.locator('#rotation').waitFor();
    expect(await page.locator('#rotation').textContent()).toMatch(/rotate-console-1\s*queued/);
    expect(await page.locator('#rotation').textContent()).toContain('no new certificate yet');
    expect(await page.locator('#timeline').textContent()).toContain('rotation-queued');
    await screenshot(page, 'operator-device-rotation');
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);

  it('refuses a transition the lifecycle does not allow, and says why', async () => {
    await stack.registry.allow('OPS-ALLOWED', {}, new Date());
    const { page, context } = await signIn(OPERATOR);
    await openDevice(page, 'OPS-ALLOWED');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/^resume refused: .*\(transition-refused\)$/);
    await context.close();
  }, 60_000);

  it('reads a refused device’s diagnosis', async () => {
    const { connected } = await jitrDevice('OPS-REFUSED', false);
    expect(connected).toBe(false);
    const { page, context } = await signIn(OPERATOR, PHONE);
    await openDevice(page, 'OPS-REFUSED');
    await page.getByRole('button', { name: 'Why can’t it connect?' }).click();
    await page.locator('#diagnosis').waitFor();
    expect(await page.locator('#diagnosis header').textContent()).toBe('refused');
    expect(await page.locator('#diagnosis').textContent()).toContain('device-not-allowlisted');
    expect(await page.locator('#diagnosis').textContent()).toContain('devices allow OPS-REFUSED');
    await screenshot(page, 'operator-why-phone');
    await context.close();
  }, 90_000);

  it('imports a CSV with progress and the row report, invalid rows by line, nothing of them written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'console-import-'));
    const rows = ['deviceId,thingGroup', ...Array.from({ length: 1200 }, (_, i) => `IMPORT-${String(i).padStart(4, '0')},factory-a`)];
    rows.splice(5, 0, 'bad serial!,factory-a');
    const file = join(dir, 'devices.csv');
    writeFileSync(file, `${rows.join('\n')}\n`);
    try {
      const { page, context, problems } = await signIn(OPERATOR);
      await page.getByRole('link', { name: 'Import' }).click();
      await page.locator('input[type=file]').setInputFiles(file);
      await page.getByRole('button', { name: 'Import' }).click();
      await page.locator('#import-report').waitFor({ timeout: 60_000 });
      expect(await page.locator('#import-report').textContent()).toMatch(/^1200 imported, 0 updated, 0 unchanged, 1 invalid/);
      // The invalid row is line 6 of the file (the header is line 1).
      expect(await page.locator('#import-report tbody tr td').first().textContent()).toBe('6');
      expect(await page.locator('#import-progress').getAttribute('value')).toBe('1201');
      await screenshot(page, 'operator-import-desktop');
      expect(await stack.registry.get('IMPORT-1199')).toMatchObject({ status: 'allowed', thingGroup: 'factory-a' });
      expect(problems).toEqual([]);
      await context.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('lists the decisions with the chart', async () => {
    await jitrDevice('OPS-DEC-IN', true);
    await jitrDevice('OPS-DEC-OUT', false);
    const { page, context, problems } = await signIn(OPERATOR);
    await page.getByRole('link', { name: 'Decisions' }).click();
    await page.locator('#decisions tbody tr').first().waitFor();
    expect(await page.locator('#decisions').textContent()).toContain('device-not-allowlisted');
    // The chart draws in an effect after the table renders: wait for its canvas, then there is exactly one.
    await page.locator('#decisions-chart canvas').waitFor();
    expect(await page.locator('#decisions-chart canvas').count()).toBe(1);
    await screenshot(page, 'operator-decisions-desktop');
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);
});

maybe('a technician and the operator routes', () => {
  it('sees no operator pages, and the API answers 403 to the technician’s token there', async () => {
    const { page, context } = await signIn(TECHNICIAN);
    expect(await page.getByRole('link', { name: 'Devices' }).count()).toBe(0);
    const api = stack.core.endpoints.http!;
    // In the page (the browser's globals): the technician's own token against an operator route.
    const status = await page.evaluate<number>(`(async () => {
      const session = JSON.parse(sessionStorage.getItem('iot-provisioner.session') ?? '{}');
      return (await fetch(${JSON.stringify(api)} + '/devices', { headers: { authorization: 'Bearer ' + session.idToken } })).status;
    })()`);
    expect(status).toBe(403);
    // Going to an operator page by its address shows the technician's page, not the operator's.
    await page.goto(`${stack.core.endpoints.console}#/devices`);
    await page.getByRole('heading', { name: 'Provision a device' }).waitFor();
    await context.close();
  }, 60_000);

  it('sends a user with a tampered token back to the sign-in (the API answers 401)', async () => {
    await stack.registry.allow('OPS-TAMPER', {}, new Date());
    const { page, context } = await signIn(TECHNICIAN);
    // The token's groups rewritten in the page, its signature kept: a forgery.
    await page.evaluate(`(() => {
      const key = 'iot-provisioner.session';
      const session = JSON.parse(sessionStorage.getItem(key));
      const [header, payload, signature] = session.idToken.split('.');
      const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
      claims['cognito:groups'] = ['operators'];
      const forged = btoa(JSON.stringify(claims)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
      sessionStorage.setItem(key, JSON.stringify({ ...session, idToken: header + '.' + forged + '.' + signature }));
    })()`);
    await page.reload();
    await page.getByLabel('Serial number').fill('OPS-TAMPER');
    await page.getByRole('button', { name: 'Get a claim' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await context.close();
  }, 60_000);
});
