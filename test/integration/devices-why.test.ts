import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DetachPolicyCommand, DetachThingPrincipalCommand, UpdateCACertificateCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { connectOnce } from '../../device/mqtt-connection';
import { deviceChain, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { eventually, startCliStack, type CliStack } from '../support/cli-stack';

/**
 * `iot-provisioner devices why` against the local IoT Core: each case set up for real — through JITR's first
 * connect, the operator's AWS IoT calls, and a DynamoDB outage that sends a registered event to the failure
 * queue — and the diagnosis the CLI names for it.
 */

let stack: CliStack;
let ca: KeyedCertificate;

const DAY = 86_400_000;

beforeAll(async () => {
  stack = await startCliStack();
  ca = await stack.registerCa('WhyTestRootCA');
});

afterAll(async () => {
  await stack.close();
});

const why = async (...args: string[]) => {
  const result = await stack.cli('devices', 'why', ...args, '--json', ...stack.local);
  if (result.code !== 0) throw new Error(`devices why failed (${result.code}): ${result.err}`);
  return JSON.parse(result.out) as { diagnosis: { code: string; sentence: string; fix: string; evidence: string[] } };
};

/** A device certificate of `issuer` for `deviceId`, its first connect (JITR), and the handler's outcome. */
async function firstConnect(deviceId: string, issuer: KeyedCertificate = ca, options: { notBefore?: Date; notAfter?: Date } = {}) {
  const device = await issueCertificate(issuer, { subject: { commonName: deviceId, serialNumber: deviceId }, ...options });
  stack.core.firstConnect(deviceChain(device, issuer), stack.dataEndpoint);
  await stack.core.idle();
  return device;
}

const settled = async (certificateId: string, status: string) =>
  expect((await eventually(() => stack.describe(certificateId), (s) => s.status === status, 10_000)).status).toBe(status);

describe('devices why names the cause', () => {
  it('a device the registry does not know, with no certificate: not in the registry', async () => {
    const { diagnosis } = await why('WHY-NOBODY');
    expect(diagnosis.code).toBe('not-in-registry');
    expect(diagnosis.fix).toContain('devices allow WHY-NOBODY');
  });

  it('an allowed device that never connected: no certificate registered for it', async () => {
    await stack.cli('devices', 'allow', 'WHY-NEVER', ...stack.local);
    const { diagnosis } = await why('WHY-NEVER');
    expect(diagnosis.code).toBe('never-connected');
    expect(diagnosis.sentence).toContain('no certificate is registered');
  });

  it('a device JITR refused: refused with the reason, REVOKED', async () => {
    const device = await firstConnect('WHY-REFUSED');
    await settled(device.certificateId, 'REVOKED');
    const { diagnosis } = await why('WHY-REFUSED');
    expect(diagnosis.code).toBe('refused');
    expect(diagnosis.sentence).toContain(`certificate ${device.certificateId} (device-not-allowlisted)`);
    expect(diagnosis.fix).toContain('devices allow WHY-REFUSED');

    const text = await stack.cli('devices', 'why', 'WHY-REFUSED', ...stack.local);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^diagnosis     refused\n +the backend refused certificate/);
    expect(text.out).toMatch(/\nfix           allow the device \(iot-provisioner devices allow WHY-REFUSED\)/);
    expect(text.out).toContain(`  certificate: ${device.certificateId} (named by the last refusal) is REVOKED in AWS IoT`);
    expect(text.out).toContain('  decision: refused (device-not-allowlisted)');
  });

  it('a connected device, ACTIVE and attached: everything in order on the backend, check the client id', async () => {
    await stack.cli('devices', 'allow', 'WHY-OK', ...stack.local);
    const device = await firstConnect('WHY-OK');
    await settled(device.certificateId, 'ACTIVE');
    const { diagnosis } = await why('WHY-OK');
    expect(diagnosis.code).toBe('backend-in-order');
    expect(diagnosis.fix).toContain('client id = WHY-OK');
    expect(diagnosis.fix).toContain(stack.dataEndpoint);
  });

  it('an ACTIVE, attached certificate that connects with another client id: client id not the thing name (seen in the connect log)', async () => {
    await stack.cli('devices', 'allow', 'WHY-CLIENT', ...stack.local);
    const device = await firstConnect('WHY-CLIENT');
    await settled(device.certificateId, 'ACTIVE');
    const identity = { certificatePem: deviceChain(device, ca), privateKeyPem: device.privateKeyPem };
    const wrong = await connectOnce(stack.endpoint, identity, 'my-test-client');
    expect(wrong.client).toBeUndefined();

    const { diagnosis } = await why('WHY-CLIENT');

    expect(diagnosis.code).toBe('client-id-mismatch');
    expect(diagnosis.sentence).toContain('connects with client id my-test-client');
    expect(diagnosis.fix).toBe('have the device connect with client id WHY-CLIENT.');

    const right = await connectOnce(stack.endpoint, identity, 'WHY-CLIENT');
    right.client?.end(true);
    expect(right.client).toBeDefined();
    expect((await why('WHY-CLIENT')).diagnosis.sentence).toMatch(/the device connected as WHY-CLIENT at/);
  });

  it('an ACTIVE certificate whose device policy was detached: policy missing; then its thing detached: thing missing', async () => {
    await stack.cli('devices', 'allow', 'WHY-DETACHED', ...stack.local);
    const device = await firstConnect('WHY-DETACHED');
    await settled(device.certificateId, 'ACTIVE');
    const { policies, status } = await stack.describe(device.certificateId);
    expect(status).toBe('ACTIVE');
    const arn = `arn:aws:iot:${stack.core.endpoints.region}:${stack.core.endpoints.accountId}:cert/${device.certificateId}`;
    for (const policyName of policies) await stack.iot.send(new DetachPolicyCommand({ policyName, target: arn }));

    expect((await why('WHY-DETACHED')).diagnosis.code).toBe('policy-missing');

    await stack.iot.send(new DetachThingPrincipalCommand({ thingName: 'WHY-DETACHED', principal: arn }));
    await eventually(() => stack.describe(device.certificateId), (s) => s.things.length === 0);
    const { diagnosis } = await why('WHY-DETACHED');
    expect(diagnosis.code).toBe('thing-missing');
    expect(diagnosis.fix).toContain('attach-thing-principal --thing-name WHY-DETACHED');
  });

  it('a certificate an operator revoked (no refusal recorded): revoked', async () => {
    await stack.cli('devices', 'allow', 'WHY-REVOKED', ...stack.local);
    const device = await firstConnect('WHY-REVOKED');
    await settled(device.certificateId, 'ACTIVE');
    await stack.iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'REVOKED' }));
    expect((await why('WHY-REVOKED')).diagnosis.code).toBe('revoked');
  });

  it('an expired certificate given as a file: expired', async () => {
    const device = await issueCertificate(ca, { subject: { commonName: 'WHY-EXPIRED' }, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    const file = join(stack.dir, 'WHY-EXPIRED.crt');
    writeFileSync(file, device.certificatePem);
    const { diagnosis } = await why('WHY-EXPIRED', '--certificate', file);
    expect(diagnosis.code).toBe('certificate-expired');
  });

  it('a certificate of a CA whose auto-registration is off, given as a chain file: CA auto-registration off', async () => {
    const offCa = await stack.registerCa('WhyAutoRegistrationOffCA');
    await stack.iot.send(new UpdateCACertificateCommand({ certificateId: offCa.certificateId, newAutoRegistrationStatus: 'DISABLE' }));
    await stack.cli('devices', 'allow', 'WHY-CA-OFF', ...stack.local);
    const device = await firstConnect('WHY-CA-OFF', offCa);
    expect((await stack.describe(device.certificateId)).status).toBeUndefined();
    const file = join(stack.dir, 'WHY-CA-OFFAndCA.crt');
    writeFileSync(file, deviceChain(device, offCa));

    const { diagnosis } = await why('WHY-CA-OFF', '--certificate', file);

    expect(diagnosis.code).toBe('ca-auto-registration-off');
    expect(diagnosis.fix).toContain(`--certificate-id ${offCa.certificateId} --new-auto-registration-status ENABLE`);
  });

  it('a certificate whose registered event failed during a DynamoDB outage: PENDING_ACTIVATION, the failure-queue message named, the certificate found there', async () => {
    await stack.cli('devices', 'allow', 'WHY-PENDING', ...stack.local);
    const failuresBefore = stack.core.failures.length;
    stack.core.setDynamoDbOutage('unavailable');
    let device: KeyedCertificate;
    try {
      device = await firstConnect('WHY-PENDING');
      await eventually(() => stack.core.failures.length, (n) => n > failuresBefore, 20_000);
    } finally {
      stack.core.setDynamoDbOutage(undefined);
    }
    expect((await stack.describe(device.certificateId)).status).toBe('PENDING_ACTIVATION');

    const { diagnosis } = await why('WHY-PENDING', '--certificate', device.certificateId);

    expect(diagnosis.code).toBe('event-failed');
    expect(diagnosis.sentence).toMatch(/PENDING_ACTIVATION: its registered event reached function .*activateCertificate, which failed/);
    expect(diagnosis.evidence.join('\n')).toMatch(/failure queue: 1 of \d+ message\(s\) read name the certificate/);

    // The registry never heard of that certificate (the outage came first): the failure queue's event names it.
    expect((await stack.registry.get('WHY-PENDING'))?.certificateId).toBeUndefined();
    const found = await why('WHY-PENDING');
    expect(found.diagnosis.code).toBe('event-failed');
    expect(found.diagnosis.evidence.join('\n')).toContain(`certificate: ${device.certificateId} (found in the failure queue, its subject names the device) is PENDING_ACTIVATION`);
  });

  it('asks for a device or a certificate, and refuses a malformed one', async () => {
    const none = await stack.cli('devices', 'why', ...stack.local);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/a device id, a certificate, or both/);
    const missing = await stack.cli('devices', 'why', 'WHY-X', '--certificate', join(stack.dir, 'nowhere.crt'), ...stack.local);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--certificate not found/);
    const aws = await stack.cli('devices', 'why', 'WHY-X', '--failure-queue-url', 'https://sqs/q', ...stack.local);
    expect(aws.code).toBe(2);
    expect(aws.err).toMatch(/--failure-queue-url is for AWS/);
  });
});
