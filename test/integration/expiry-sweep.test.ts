import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main';
import { issueCertificate } from '../../lib/pki';
import { DAY_MS } from '../../shared/expiry/sweep';
import type { ExpiryFinding } from '../../shared/expiry/ports';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import namesModule = require('../../resources/names.cjs');

/**
 * The expiry sweep end to end against the local IoT Core: devices bound by JITR (the registry records their
 * certificate facts), the sweep function run by its own schedule (rate(10 minutes), time-scaled ×1000 to
 * 0.6 s), and its findings on the stack's SNS topic through the local SNS.
 */

let stack: LocalStack;
let topicArn: string;
let dir: string;

beforeAll(async () => {
  stack = await startLocalStack({ params: { expirySweepSchedule: 'rate(10 minutes)' } });
  const names = namesModule.namesFor(stack.deployed.stack.service, stack.deployed.stack.stage);
  topicArn = `arn:aws:sns:${stack.deployed.stack.region}:${stack.core.defaultAccount.accountId}:${names.findingsTopic}`;
}, 60_000);

afterAll(async () => {
  await stack.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  dir ??= mkdtempSync(join(tmpdir(), 'expiry-cli-'));
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(stack.core.endpoints));
  const out: string[] = [];
  const err: string[] = [];
  // The CLI points process.env at the endpoints it reads: put it back afterwards.
  const saved = { ...process.env };
  try {
    const code = await main([...args, '--local', '--endpoints-file', endpointsFile], (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.env = saved;
  }
}

const findings = (): ExpiryFinding[] => stack.core.sns.messages(topicArn).map((m) => JSON.parse(m.message) as ExpiryFinding);

async function bindByJitr(deviceId: string, validity: { notBefore: Date; notAfter: Date }) {
  await stack.registry.allow(deviceId, {}, new Date());
  const device = await issueCertificate(stack.ca, { subject: { serialNumber: deviceId }, ...validity });
  stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
  await stack.core.idle();
  return device;
}

describe('the expiry sweep through the local IoT Core', () => {
  it('records the bound certificate’s facts, and its schedule publishes a finding for the expiring certificate only', async () => {
    const now = Date.now();
    const expiring = await bindByJitr('EXPIRING-1', { notBefore: new Date(now - 100 * DAY_MS), notAfter: new Date(now + 10 * DAY_MS) });
    await bindByJitr('FRESH-1', { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 400 * DAY_MS) });
    // An entry bound before certificate facts were recorded: in the registry, not in the expiry indexes.
    await stack.registry.allow('LEGACY-1', {}, new Date());
    await stack.registry.claim('LEGACY-1', 'a'.repeat(64), { at: new Date() });
    await stack.registry.markBound('LEGACY-1', 'a'.repeat(64), 'LEGACY-1', new Date());

    const entry = await stack.registry.get('EXPIRING-1');
    expect(entry).toMatchObject({
      bindingState: 'bound',
      certificateId: expiring.certificateId,
      notAfter: new Date(Math.floor((now + 10 * DAY_MS) / 1000) * 1000).toISOString(),
      issuer: { subject: expect.stringMatching(/^CN=Integration CA/), awsIot: false },
      expiryShard: expect.stringMatching(/^[0-3]$/),
    });
    expect((await stack.registry.get('LEGACY-1'))?.expiryShard).toBeUndefined();

    // Nobody invokes the function: its schedule does.
    const deadline = Date.now() + 20_000;
    while (!findings().some((f) => f.deviceId === 'EXPIRING-1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    const found = findings();
    expect(new Set(found.map((f) => f.deviceId))).toEqual(new Set(['EXPIRING-1']));
    expect(found[0]).toMatchObject({ kind: 'certificate-expiry', certificateId: expiring.certificateId, reasons: ['expiring'], daysLeft: 9, ageDays: 100 });
    expect(stack.core.sns.messages(topicArn)[0]!.subject).toBe('certificate expiring: EXPIRING-1');
  }, 60_000);

  it('`certificates expiring` lists what the sweep finds, and by age with --older-than', async () => {
    const soon = await cli('certificates', 'expiring');
    expect(soon).toMatchObject({ code: 0, err: '' });
    const lines = soon.out.split('\n');
    expect(lines[0]).toMatch(/^1 bound certificate expiring within 30 days in iot-provisioner-dev-devices/);
    expect(lines[1]).toMatch(/^DEVICE\s+CERTIFICATE\s+NOT AFTER\s+AGE \(DAYS\)\s+ISSUER\s+DUE$/);
    expect(lines[2]).toMatch(/^EXPIRING-1\s+[0-9a-f]{64}\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+100\s+CN=Integration CA\S*\s+expiring$/);
    expect(lines).toHaveLength(3);

    const old = await cli('certificates', 'expiring', '--days', '0', '--older-than', '50', '--json');
    expect(old.code).toBe(0);
    expect((JSON.parse(old.out) as ExpiryFinding[]).map((f) => [f.deviceId, f.reasons])).toEqual([['EXPIRING-1', ['aged']]]);
  }, 30_000);

  it('refuses a --days that is not a whole number, before any AWS call', async () => {
    const result = await cli('certificates', 'expiring', '--days', 'soon');
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--days must be a whole number of days/);
  });
});
