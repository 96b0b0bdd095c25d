import { CreateThingGroupCommand, CreateThingTypeCommand, ListThingGroupsForThingCommand } from '@aws-sdk/client-iot';
import { registeredEventOf } from '../../local/iot-core/device-gateway';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { DynamoProvisioningLedger } from '../../shared/aws/provisioning-ledger';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { loadActivationConfig } from '../../shared/config';
import { activateRegisteredCertificate, type ActivationDeps } from '../../shared/provisioning/activate-certificate';
import type { CertificateRegisteredEvent } from '../../shared/schemas/certificate-registered-event';
import type { KeyedCertificate } from '../../lib/pki';
import { BIND_STEPS, FaultInjector } from '../support/fault-injection';
import { startLocalStack, thingPrincipals, type LocalStack } from '../support/local-stack';

/**
 * JITR end to end against the local IoT Core, through the real SDK: first connects, the topic rule, the
 * real handler in Lambda-like containers, retries and the failure queue.
 */

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
  await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
});

afterAll(async () => {
  await stack.close();
});

afterEach(() => {
  stack.core.setFaults({});
});

/** Registers the certificate as a first connect would, without publishing the event; returns the event. */
function registerPending(device: KeyedCertificate): CertificateRegisteredEvent {
  const account = stack.core.defaultAccount;
  const x509 = new (require('node:crypto').X509Certificate)(device.certificatePem);
  const ca = account.certificates.describeCa(stack.ca.certificateId);
  return registeredEventOf(account, account.certificates.autoRegister(x509, ca));
}

const publish = (event: CertificateRegisteredEvent) =>
  stack.core.publish(stack.core.defaultAccount, `$aws/events/certificates/registered/${event.caCertificateId}`, event);

async function expectProvisioned(device: KeyedCertificate, deviceId: string) {
  const state = await stack.state(device);
  expect(state).toEqual({ status: 'ACTIVE', things: [deviceId], policies: [stack.deployed.devicePolicyName] });
  expect(await thingPrincipals(stack.iot, deviceId)).toHaveLength(1);
  expect(await stack.registry.get(deviceId)).toMatchObject({ certificateId: device.certificateId, bindingState: 'bound', thingName: deviceId });
}

describe('JITR through the local IoT Core', () => {
  it('activates an allow-listed device on its first connect; the device gets in on reconnect', async () => {
    const device = await stack.device('HAPPY-1', { registry: 'allow', thingGroup: 'fleet' });

    const first = stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    expect(first).toMatchObject({ accepted: false, stage: 'connect', reason: 'certificate-pending-activation', registered: true });
    await stack.core.idle();

    await expectProvisioned(device, 'HAPPY-1');
    const { thingGroups } = await stack.iot.send(new ListThingGroupsForThingCommand({ thingName: 'HAPPY-1' }));
    expect(thingGroups?.map((g) => g.groupName)).toEqual(['fleet']);
    expect(stack.core.firstConnect(stack.chain(device), stack.dataEndpoint)).toMatchObject({ accepted: true });
  });

  it('revokes a device that is not allow-listed and records why in the registry', async () => {
    const device = await stack.device('STRANGER-1');
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();

    expect(await stack.state(device)).toEqual({ status: 'REVOKED', things: [], policies: [] });
    expect((await stack.registry.get('STRANGER-1'))?.lastRejection).toMatchObject({
      reason: 'device-not-allowlisted',
      certificateId: device.certificateId,
    });
    expect(stack.core.firstConnect(stack.chain(device), stack.dataEndpoint)).toMatchObject({ accepted: false, reason: 'certificate-revoked' });
  });

  it('handles each event delivered 5× concurrently: one thing, one attachment, ACTIVE, no error', async () => {
    const devices = await Promise.all(
      Array.from({ length: 8 }, (_, i) => stack.device(`DUP-${i}`, { registry: 'allow', thingGroup: 'fleet' })),
    );
    const failuresBefore = stack.core.failures.length;
    const events = devices.map(registerPending);
    for (const event of events) for (let copy = 0; copy < 5; copy++) publish(event);
    await stack.core.idle();

    for (const [i, device] of devices.entries()) await expectProvisioned(device, `DUP-${i}`);
    expect(stack.core.failures.length).toBe(failuresBefore);
  });

  it('drops an event that is not a registered event, changing nothing', async () => {
    const failuresBefore = stack.core.failures.length;
    const callsBefore = { ...stack.core.traffic.stats.calls };
    publish({ certificateId: 'nope' } as unknown as CertificateRegisteredEvent);
    await stack.core.idle();
    expect(stack.core.failures.length).toBe(failuresBefore);
    expect(stack.core.traffic.stats.calls).toEqual(callsBefore);
    expect(stack.core.results.at(-1)?.result).toEqual({ outcome: 'dropped', reason: 'invalid-event' });
  });

  it('sends an event that keeps failing to the failure queue after two retries, and leaves the certificate inactive', async () => {
    // A thing type that does not exist makes CreateThing fail on every attempt.
    const device = await stack.device('BROKEN-1', { registry: 'allow', thingType: 'no-such-type' });
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();

    const failure = stack.core.failures.find(
      (f) => f.source === 'lambda' && (f.record.requestPayload as CertificateRegisteredEvent).certificateId === device.certificateId,
    );
    expect(failure).toMatchObject({
      source: 'lambda',
      record: {
        requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        responsePayload: { errorType: 'ResourceNotFoundException' },
      },
    });
    expect((await stack.state(device)).status).toBe('PENDING_ACTIVATION');
  });

  it('loses nothing in a burst under the AWS TPS quotas with 5 % 5xx: every device ends ACTIVE', async () => {
    await stack.iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => stack.device(`LOAD-${i}`, { registry: 'allow', thingType: 'sensor' })));
    const throttledBefore = Object.values(stack.core.traffic.stats.throttled).reduce((a, b) => a + b, 0);
    const failuresBefore = stack.core.failures.length;
    stack.core.setFaults({ errorRate: 0.05, errorCode: 'ServiceUnavailableException' });

    // DescribeCertificate and UpdateCertificate allow 10 TPS and JITR registers 15 certificates a second:
    // 20 devices at once are throttled. Devices retry their connection until it is accepted, as firmware
    // does (seeds 000/001); a certificate still pending is re-announced on each attempt.
    const pending = new Set(devices);
    for (let round = 0; round < 40 && pending.size > 0; round++) {
      for (const device of pending) {
        if (stack.core.firstConnect(stack.chain(device), stack.dataEndpoint).accepted) pending.delete(device);
      }
      await stack.core.idle();
    }
    stack.core.setFaults({});

    expect(pending.size).toBe(0);
    for (const [i, device] of devices.entries()) await expectProvisioned(device, `LOAD-${i}`);
    expect(stack.core.failures.length).toBe(failuresBefore);
    const throttled = Object.values(stack.core.traffic.stats.throttled).reduce((a, b) => a + b, 0);
    expect(throttled - throttledBefore).toBeGreaterThan(0);
  });
});

describe('a crash after each workflow step, then the retry', () => {
  type Step =
    | 'registry.claim'
    | 'registry.markBound'
    | 'registry.recordRejection'
    | 'iot.createThing'
    | 'iot.addThingToThingGroup'
    | 'iot.attachPolicy'
    | 'iot.attachThingPrincipal'
    | 'iot.updateCertificateStatus';

  let baseDeps: ActivationDeps;
  beforeAll(() => {
    const config = loadActivationConfig({
      DEVICE_REGISTRY_TABLE: stack.deployed.tableName,
      PROVISIONING_LEDGER_TABLE: stack.deployed.ledgerTableName,
      DEVICE_POLICY_NAME: stack.deployed.devicePolicyName,
    });
    const iot = new AwsIotDirectory(createIotClient());
    baseDeps = {
      iot,
      registry: stack.registry,
      caLookup: (id) => iot.describeCaCertificate(id),
      settings: config.settings,
      now: () => new Date(),
      log: { debug() {}, info() {}, warn() {}, error() {} },
      // As the handler has them: a crash releases the lease, so the retry is not taken for a duplicate.
      leases: new DynamoProvisioningLedger(createDocumentClient(), config.ledgerTable),
    };
  });

  /** The same ports, but the first call of `step` does its work and then the Lambda "dies". */
  function crashingAfter(step: Step): ActivationDeps {
    const faults = new FaultInjector({ step, how: 'crash' });
    return { ...baseDeps, iot: faults.wrap<ActivationDeps['iot']>(baseDeps.iot, 'iot'), registry: faults.wrap<ActivationDeps['registry']>(baseDeps.registry, 'registry') };
  }

  it.each<Step>([...BIND_STEPS])('converges to a provisioned device when the handler crashes after %s', async (step) => {
    const deviceId = `CRASH-${step.replace('.', '-')}`;
    const device = await stack.device(deviceId, { registry: 'allow', thingGroup: 'fleet' });
    const event = registerPending(device);

    await expect(activateRegisteredCertificate(event, crashingAfter(step))).rejects.toThrow(`injected crash after ${step}`);
    const retry = await activateRegisteredCertificate(event, baseDeps);

    expect(['activated', 'already-active']).toContain(retry.outcome);
    await expectProvisioned(device, deviceId);
    const { thingGroups } = await stack.iot.send(new ListThingGroupsForThingCommand({ thingName: deviceId }));
    expect(thingGroups?.map((g) => g.groupName)).toEqual(['fleet']);
    // A further delivery changes nothing: dropped while the lease lasts, found active once it has ended.
    expect(await activateRegisteredCertificate(event, baseDeps)).toMatchObject({ outcome: 'ignored', reason: 'duplicate-delivery' });
    const afterLease = { ...baseDeps, now: () => new Date(Date.now() + 120_000) };
    expect(await activateRegisteredCertificate(event, afterLease)).toMatchObject({ outcome: 'already-active' });
  });

  it.each<Step>(['registry.recordRejection', 'iot.updateCertificateStatus'])(
    'converges to a revoked, recorded certificate when the handler crashes after %s',
    async (step) => {
      const deviceId = `REJECT-${step.replace('.', '-')}`;
      const device = await stack.device(deviceId);
      const event = registerPending(device);

      await expect(activateRegisteredCertificate(event, crashingAfter(step))).rejects.toThrow('injected crash');
      await activateRegisteredCertificate(event, baseDeps);

      expect(await stack.state(device)).toEqual({ status: 'REVOKED', things: [], policies: [] });
      expect((await stack.registry.get(deviceId))?.lastRejection?.reason).toBe('device-not-allowlisted');
    },
  );
});
