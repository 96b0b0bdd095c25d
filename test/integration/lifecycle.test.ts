import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  ListThingGroupsForThingCommand,
  ListThingPrincipalsCommand,
  RegisterCertificateWithoutCACommand,
} from '@aws-sdk/client-iot';
import type { KeyedCertificate } from '../../lib/pki';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient } from '../../shared/aws/clients';
import { lifecycleIotCalls } from '../../shared/aws/iot/lifecycle-calls';
import { LifecycleConflictError } from '../../shared/aws/registry/entries';
import { appendTimelineEvent, listTimelineEvents } from '../../shared/aws/timeline/events';
import { resumeDevice, retireDevice, suspendDevice, type LifecycleDeps } from '../../shared/lifecycle/actions';
import { TransitionRefusedError } from '../../shared/lifecycle/states';
import { FaultInjector } from '../support/fault-injection';
import { signedFetch } from '../support/signed-fetch';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * Suspend, resume and retire (shared/lifecycle/actions.ts) against the local IoT Core through the real SDK:
 * what AWS IoT and the registry hold after each, what a device can still do, the timeline, and a crash after
 * each step followed by a retry that converges.
 */

let stack: LocalStack;
let deps: LifecycleDeps;
let timeline: ReturnType<typeof timelineOf>;

const timelineOf = (tableName: string) => bindCalls({ client: createDocumentClient(), tableName }, { append: appendTimelineEvent, list: listTimelineEvents });

beforeAll(async () => {
  stack = await startLocalStack();
  timeline = timelineOf(stack.deployed.timelineTableName);
  deps = {
    registry: stack.registry,
    iot: lifecycleIotCalls(stack.iot),
    timeline,
    quarantineGroup: stack.deployed.quarantineGroupName,
    actor: { kind: 'cli', id: 'arn:aws:iam::123456789012:user/operator' },
    now: () => new Date(),
    sleep: async () => {},
  };
});

afterAll(async () => {
  await stack.close();
});

/** An allow-listed device in the fleet group, provisioned by JITR on its first connect. */
async function provisionedDevice(deviceId: string): Promise<KeyedCertificate> {
  const device = await stack.device(deviceId, { registry: 'allow', thingGroup: stack.deployed.thingGroupName });
  return connectFirstTime(device);
}

async function connectFirstTime(device: KeyedCertificate): Promise<KeyedCertificate> {
  stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
  await stack.core.idle();
  return device;
}

const connect = (device: KeyedCertificate) => stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);

const groupsOf = async (thingName: string) =>
  ((await stack.iot.send(new ListThingGroupsForThingCommand({ thingName }))).thingGroups ?? []).map((g) => g.groupName).sort();

async function thingExists(thingName: string): Promise<boolean> {
  try {
    await stack.iot.send(new DescribeThingCommand({ thingName }));
    return true;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return false;
    throw error;
  }
}

async function expectSuspended(device: KeyedCertificate, deviceId: string) {
  expect(await stack.state(device)).toMatchObject({ status: 'INACTIVE', things: [deviceId] });
  expect(await groupsOf(deviceId)).toEqual([stack.deployed.quarantineGroupName]);
  expect(await stack.registry.get(deviceId)).toMatchObject({
    status: 'suspended',
    certificateId: device.certificateId,
    bindingState: 'bound',
    suspension: { certificateId: device.certificateId, thingGroups: [stack.deployed.thingGroupName], previousStatus: 'allowed' },
  });
  expect(connect(device)).toMatchObject({ accepted: false, reason: 'certificate-inactive' });
}

async function expectResumed(device: KeyedCertificate, deviceId: string) {
  expect(await stack.state(device)).toEqual({ status: 'ACTIVE', things: [deviceId], policies: [stack.deployed.devicePolicyName] });
  expect(await groupsOf(deviceId)).toEqual([stack.deployed.thingGroupName]);
  const entry = await stack.registry.get(deviceId);
  expect(entry).toMatchObject({ status: 'allowed', certificateId: device.certificateId, bindingState: 'bound' });
  expect(entry?.suspension).toBeUndefined();
  expect(connect(device)).toMatchObject({ accepted: true });
}

async function expectRetired(device: KeyedCertificate, deviceId: string, options: { thingKept: boolean }) {
  expect(await stack.state(device)).toEqual({ status: 'REVOKED', things: [], policies: [] });
  expect(await thingExists(deviceId)).toBe(options.thingKept);
  if (options.thingKept) expect((await stack.iot.send(new ListThingPrincipalsCommand({ thingName: deviceId }))).principals).toEqual([]);
  const entry = await stack.registry.get(deviceId);
  expect(entry).toMatchObject({ status: 'retired', retirement: { certificateId: device.certificateId, keepThing: options.thingKept }, lastRevocation: { certificateId: device.certificateId } });
  expect(entry?.retirement?.completedAt).toEqual(expect.any(String));
  expect(entry?.certificateId).toBeUndefined();
  expect(connect(device)).toMatchObject({ accepted: false, reason: 'certificate-revoked' });
}

const eventTypes = async (deviceId: string) => (await timeline.list(deviceId)).map((e) => e.type);

describe('suspend and resume', () => {
  it('cuts a provisioned device off and quarantines its thing; a new certificate for it is refused (device-suspended); resume lets it back', async () => {
    const device = await provisionedDevice('LIFE-SUSPEND');
    expect(connect(device)).toMatchObject({ accepted: true });

    expect(await suspendDevice('LIFE-SUSPEND', deps)).toMatchObject({ outcome: 'done' });
    await expectSuspended(device, 'LIFE-SUSPEND');

    const other = await connectFirstTime(await stack.device('LIFE-SUSPEND'));
    expect((await stack.state(other)).status).toBe('REVOKED');
    expect((await stack.registry.get('LIFE-SUSPEND'))?.lastRejection).toMatchObject({ reason: 'device-suspended', certificateId: other.certificateId });

    expect(await resumeDevice('LIFE-SUSPEND', deps)).toMatchObject({ outcome: 'done' });
    await expectResumed(device, 'LIFE-SUSPEND');

    // JITR's decisions and the operator's actions, in order, each with who made it.
    const events = await timeline.list('LIFE-SUSPEND');
    expect(events.map((e) => e.type)).toEqual(['activated', 'suspended', 'refused', 'resumed']);
    expect(events[0]).toMatchObject({ actor: { kind: 'function', id: 'activateCertificate' }, certificateId: device.certificateId });
    expect(events[1]).toMatchObject({ actor: deps.actor, certificateId: device.certificateId });
    expect(events[2]).toMatchObject({ reason: 'device-suspended', certificateId: other.certificateId });
  });

  it('answers a repeated suspend or resume with unchanged, and records each event once', async () => {
    const device = await provisionedDevice('LIFE-REPEAT');
    await suspendDevice('LIFE-REPEAT', deps);
    expect(await suspendDevice('LIFE-REPEAT', deps)).toMatchObject({ outcome: 'unchanged' });
    await expectSuspended(device, 'LIFE-REPEAT');
    await resumeDevice('LIFE-REPEAT', deps);
    expect(await resumeDevice('LIFE-REPEAT', deps)).toMatchObject({ outcome: 'unchanged' });
    await expectResumed(device, 'LIFE-REPEAT');
    expect(await eventTypes('LIFE-REPEAT')).toEqual(['activated', 'suspended', 'resumed']);
  });

  it('resumes a device bound without an operator decision (ca mode) to no status, not to allowed', async () => {
    const device = await stack.device('LIFE-CA-MODE');
    const { certificateArn } = await stack.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.certificatePem, status: 'ACTIVE' }));
    await stack.iot.send(new CreateThingCommand({ thingName: 'LIFE-CA-MODE' }));
    await stack.iot.send(new AttachThingPrincipalCommand({ thingName: 'LIFE-CA-MODE', principal: certificateArn }));
    await stack.registry.claim('LIFE-CA-MODE', device.certificateId, { at: new Date() });
    await stack.registry.markBound('LIFE-CA-MODE', device.certificateId, 'LIFE-CA-MODE', new Date());

    await suspendDevice('LIFE-CA-MODE', deps);
    expect((await stack.registry.get('LIFE-CA-MODE'))?.suspension?.previousStatus).toBeUndefined();
    await resumeDevice('LIFE-CA-MODE', deps);

    const entry = await stack.registry.get('LIFE-CA-MODE');
    expect(entry?.status).toBeUndefined();
    expect(entry).toMatchObject({ certificateId: device.certificateId, bindingState: 'bound', lastResume: { certificateId: device.certificateId } });
    expect((await stack.state(device)).status).toBe('ACTIVE');
  });

  it('keeps the registry refusing while suspended: allow and block are refused until it is resumed or retired', async () => {
    await provisionedDevice('LIFE-GUARD');
    await suspendDevice('LIFE-GUARD', deps);
    await expect(stack.registry.allow('LIFE-GUARD', {}, new Date())).rejects.toThrow(LifecycleConflictError);
    await expect(stack.registry.block('LIFE-GUARD', new Date())).rejects.toThrow(LifecycleConflictError);
    expect((await stack.registry.get('LIFE-GUARD'))?.status).toBe('suspended');
  });
});

describe('retire and refurbish', () => {
  it('revokes, detaches and deletes; the device and a new certificate are refused (device-retired); allowed again, it provisions a new certificate', async () => {
    const device = await provisionedDevice('LIFE-RETIRE');
    expect(await retireDevice('LIFE-RETIRE', { keepThing: false }, deps)).toMatchObject({ outcome: 'done' });
    await expectRetired(device, 'LIFE-RETIRE', { thingKept: false });

    const copy = await connectFirstTime(await stack.device('LIFE-RETIRE'));
    expect((await stack.state(copy)).status).toBe('REVOKED');
    expect((await stack.registry.get('LIFE-RETIRE'))?.lastRejection).toMatchObject({ reason: 'device-retired' });

    await stack.registry.allow('LIFE-RETIRE', { thingGroup: stack.deployed.thingGroupName }, new Date());
    const refurbished = await connectFirstTime(await stack.device('LIFE-RETIRE'));
    expect(await stack.state(refurbished)).toEqual({ status: 'ACTIVE', things: ['LIFE-RETIRE'], policies: [stack.deployed.devicePolicyName] });
    const entry = await stack.registry.get('LIFE-RETIRE');
    expect(entry).toMatchObject({ status: 'allowed', certificateId: refurbished.certificateId, bindingState: 'bound' });
    // The history stays: the retirement of the first certificate.
    expect(entry?.retirement).toMatchObject({ certificateId: device.certificateId });
    expect(await eventTypes('LIFE-RETIRE')).toEqual(['activated', 'retired', 'refused', 'activated']);
    expect((await timeline.list('LIFE-RETIRE'))[2]).toMatchObject({ reason: 'device-retired', certificateId: copy.certificateId });
  });

  it('keeps the thing with keepThing, and retires a suspended device', async () => {
    const device = await provisionedDevice('LIFE-KEEP');
    await suspendDevice('LIFE-KEEP', deps);
    await retireDevice('LIFE-KEEP', { keepThing: true }, deps);
    await expectRetired(device, 'LIFE-KEEP', { thingKept: true });
    expect(await retireDevice('LIFE-KEEP', { keepThing: true }, deps)).toMatchObject({ outcome: 'unchanged' });
    expect(await eventTypes('LIFE-KEEP')).toEqual(['activated', 'suspended', 'retired']);
  });
});

describe('refused transitions', () => {
  it.each([
    ['suspend', 'an allowed device that never provisioned', 'LIFE-NO-CERT-1'],
    ['resume', 'an allowed device that never provisioned', 'LIFE-NO-CERT-2'],
  ] as const)('refuses to %s %s, and changes nothing', async (action, _what, deviceId) => {
    await stack.registry.allow(deviceId, {}, new Date());
    const before = await stack.registry.get(deviceId);
    const run = action === 'suspend' ? suspendDevice(deviceId, deps) : resumeDevice(deviceId, deps);
    await expect(run).rejects.toThrow(TransitionRefusedError);
    expect(await stack.registry.get(deviceId)).toEqual(before);
  });

  it('refuses to resume a provisioned device that was never suspended, and to retire a device the registry does not know', async () => {
    const device = await provisionedDevice('LIFE-NEVER-SUSPENDED');
    await expect(resumeDevice('LIFE-NEVER-SUSPENDED', deps)).rejects.toThrow('only a suspended device can be resumed');
    expect((await stack.state(device)).status).toBe('ACTIVE');
    await expect(retireDevice('LIFE-NOBODY', { keepThing: false }, deps)).rejects.toThrow(TransitionRefusedError);
    expect(await stack.registry.get('LIFE-NOBODY')).toBeUndefined();
  });
});

describe('a crash after each step, then the retry', () => {
  function crashingAfter(step: string): LifecycleDeps {
    const faults = new FaultInjector({ step, how: 'crash' });
    return {
      ...deps,
      registry: faults.wrap(deps.registry, 'registry'),
      iot: faults.wrap(deps.iot, 'iot'),
      timeline: faults.wrap(deps.timeline, 'timeline'),
    };
  }

  const SUSPEND_STEPS = ['registry.beginSuspension', 'iot.updateCertificateStatus', 'iot.addThingToThingGroup', 'iot.removeThingFromThingGroup', 'timeline.append'];
  const RESUME_STEPS = ['iot.addThingToThingGroup', 'iot.removeThingFromThingGroup', 'iot.updateCertificateStatus', 'registry.completeResume', 'timeline.append'];
  const RETIRE_STEPS = [
    'registry.beginRetirement',
    'iot.updateCertificateStatus',
    'iot.detachPolicy',
    'iot.detachThingPrincipal',
    'iot.deleteThing',
    'registry.completeRetirement',
    'timeline.append',
  ];
  const idOf = (prefix: string, step: string) => `${prefix}-${step.replace('.', '-')}`;

  it.each(SUSPEND_STEPS)('suspend converges after a crash after %s', async (step) => {
    const deviceId = idOf('CRASH-SUSPEND', step);
    const device = await provisionedDevice(deviceId);
    await expect(suspendDevice(deviceId, crashingAfter(step))).rejects.toThrow(`injected crash after ${step}`);
    // Whatever was done, the registry already refuses the device: the safe side of the disagreement.
    expect((await stack.registry.get(deviceId))?.status).toBe('suspended');
    await suspendDevice(deviceId, deps);
    await expectSuspended(device, deviceId);
    expect(await eventTypes(deviceId)).toEqual(['activated', 'suspended']);
  });

  it.each(RESUME_STEPS)('resume converges after a crash after %s', async (step) => {
    const deviceId = idOf('CRASH-RESUME', step);
    const device = await provisionedDevice(deviceId);
    await suspendDevice(deviceId, deps);
    await expect(resumeDevice(deviceId, crashingAfter(step))).rejects.toThrow(`injected crash after ${step}`);
    await resumeDevice(deviceId, deps);
    await expectResumed(device, deviceId);
    expect(await eventTypes(deviceId)).toEqual(['activated', 'suspended', 'resumed']);
  });

  it.each(RETIRE_STEPS)('retire converges after a crash after %s', async (step) => {
    const deviceId = idOf('CRASH-RETIRE', step);
    const device = await provisionedDevice(deviceId);
    await expect(retireDevice(deviceId, { keepThing: false }, crashingAfter(step))).rejects.toThrow(`injected crash after ${step}`);
    expect((await stack.registry.get(deviceId))?.status).toBe('retired');
    await retireDevice(deviceId, { keepThing: false }, deps);
    await expectRetired(device, deviceId, { thingKept: false });
    expect(await eventTypes(deviceId)).toEqual(['activated', 'retired']);
  });
});

describe('certificate vending on the timeline and against a suspended device', () => {
  const vend = async (deviceId: string, body: unknown) => {
    const response = await signedFetch(`${stack.core.endpoints.http!}/devices/${deviceId}/certificate`, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { certificateId?: string; reason?: string } };
  };

  it('records the API caller activating a certificate; a suspended device is refused (device-suspended), even with rotate', async () => {
    await stack.registry.allow('LIFE-VEND', {}, new Date());
    const vended = await vend('LIFE-VEND', {});
    expect(vended.status).toBe(201);
    await suspendDevice('LIFE-VEND', deps);

    const again = await vend('LIFE-VEND', { rotate: true });
    expect(again).toMatchObject({ status: 403, body: { reason: 'device-suspended' } });

    const events = await timeline.list('LIFE-VEND');
    expect(events.map((e) => e.type)).toEqual(['activated', 'suspended', 'refused']);
    expect(events[0]).toMatchObject({ actor: { kind: 'api', id: expect.stringContaining(':') }, certificateId: vended.body.certificateId });
    expect(events[2]).toMatchObject({ actor: { kind: 'api' }, reason: 'device-suspended' });
  });
});

describe('a fleet-provisioned device (the hook claimed it; RegisterThing activated and attached the certificate)', () => {
  it('is recognised as provisioned and suspended: the claim becomes the binding first', async () => {
    const deviceId = 'LIFE-FLEET-1';
    await stack.registry.allow(deviceId, {}, new Date());
    // What RegisterThing leaves behind in AWS IoT: an ACTIVE certificate attached to the thing of the serial.
    const keys = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await stack.iot.send(new CreateThingCommand({ thingName: deviceId }));
    await stack.iot.send(new AttachThingPrincipalCommand({ thingName: deviceId, principal: keys.certificateArn }));
    // What the hook left in the registry: a claim, never marked bound.
    expect(await stack.registry.claim(deviceId, keys.certificateId!, { at: new Date() })).toEqual({ claimed: true });

    const suspended = await suspendDevice(deviceId, deps);

    expect(suspended.outcome).toBe('done');
    expect(suspended.entry).toMatchObject({ status: 'suspended', certificateId: keys.certificateId, bindingState: 'bound', thingName: deviceId });
    const { certificateDescription } = await stack.iot.send(new DescribeCertificateCommand({ certificateId: keys.certificateId }));
    expect(certificateDescription?.status).toBe('INACTIVE');
    expect(await groupsOf(deviceId)).toEqual([stack.deployed.quarantineGroupName]);
  });

  it('stays unsuspendable while its claimed certificate is not ACTIVE (provisioning did not finish)', async () => {
    const deviceId = 'LIFE-FLEET-2';
    await stack.registry.allow(deviceId, {}, new Date());
    const keys = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
    await stack.registry.claim(deviceId, keys.certificateId!, { at: new Date() });

    await expect(suspendDevice(deviceId, deps)).rejects.toBeInstanceOf(TransitionRefusedError);
    expect(await stack.registry.get(deviceId)).toMatchObject({ status: 'allowed', bindingState: 'claimed' });
  });
});
