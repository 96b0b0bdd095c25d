import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateJobCommand,
  DescribeCertificateCommand,
  DescribeJobExecutionCommand,
  UpdateEventConfigurationsCommand,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { connectOnce, disconnect, type Endpoint, type Identity } from '../../device/mqtt-connection';
import { createCsr } from '../../lib/pki';
import { createDocumentClient } from '../../shared/aws/clients';
import { bindCalls } from '../../shared/aws/bind-calls';
import { lifecycleIotCalls } from '../../shared/aws/iot/lifecycle-calls';
import { appendTimelineEvent, listTimelineEvents } from '../../shared/aws/timeline/events';
import { retireDevice, suspendDevice, type LifecycleDeps } from '../../shared/lifecycle/actions';
import { writeIssuedRotation } from '../support/rotation-state';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The rotation's commit and roll back with the deployed stack (docs/rotation-design.md §1 S2/S3): the rotationEvents
 * function behind its two topic rules, in a worker container with its role, on the local IoT Core. Each test sets
 * up an `issued` rotation itself — the registry item written here, a certificate made by CreateCertificateFromCsr,
 * attached and ACTIVE, a real job whose execution the device has IN_PROGRESS — then the device acts over MQTT/TLS
 * with the Jobs MQTT API. JOB_EXECUTION events are enabled here (the rotation start does it in the stack).
 */

let stack: LocalStack;
let endpoint: Endpoint;
let clockOffsetMs = 0;
const clients: MqttClient[] = [];
const documents = createDocumentClient();

beforeAll(async () => {
  stack = await startLocalStack({
    core: { mqtt: { port: 0 }, now: () => new Date(Date.now() + clockOffsetMs) },
    // A 1 s grace: the old certificate is retired within seconds of the commit.
    params: { retireGraceSeconds: '1' },
  });
  endpoint = stack.endpoint!;
  await stack.iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { JOB_EXECUTION: { Enabled: true } } }));
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => disconnect(client)));
  await stack.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const thingArn = (thingName: string) => stack.core.registry.account(stack.accountId).arn(`thing/${thingName}`);

async function until<T>(read: () => Promise<T>, holds: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

/** A device connected as its thing, with a Jobs MQTT request helper (answers come without a subscription). */
async function connect(thing: string, identity: Identity) {
  const { client, error } = await connectOnce(endpoint, identity, thing);
  if (!client) throw new Error(`${thing}: ${error}`);
  clients.push(client);
  const received: Array<{ topic: string; payload: Record<string, unknown> }> = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
  let tokens = 0;
  const ask = async (request: string, body: Record<string, unknown> = {}) => {
    const clientToken = `${thing}-${++tokens}`;
    const topic = `$aws/things/${thing}/jobs/${request}`;
    await client.publishAsync(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 });
    const answer = await until(
      async () => received.find((m) => (m.topic === `${topic}/accepted` || m.topic === `${topic}/rejected`) && m.payload.clientToken === clientToken),
      (m) => m !== undefined,
      5_000,
    );
    return { accepted: answer!.topic.endsWith('/accepted'), payload: answer!.payload };
  };
  return { client, ask, close: () => disconnect(client) };
}

interface IssuedRotation {
  thing: string;
  jobId: string;
  old: Identity & { certificateId: string };
  next: Identity & { certificateId: string };
}

let jobs = 0;

/**
 * A JITR device (bound to its first certificate) with an `issued` rotation: the new certificate made from the
 * device's CSR, attached to the thing with the device policy, ACTIVE; the job execution IN_PROGRESS (the device
 * started it over MQTT); the registry's rotation map as S1 leaves it.
 */
async function issuedRotation(thing: string, job: { inProgressTimeoutInMinutes?: number } = {}): Promise<IssuedRotation> {
  const device = await stack.device(thing, { registry: 'allow' });
  const old = { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem, certificateId: device.certificateId };
  await connectOnce(endpoint, old, thing).then(({ client }) => client && disconnect(client));
  await stack.core.idle();
  expect(await stack.registry.get(thing)).toMatchObject({ certificateId: old.certificateId, bindingState: 'bound' });

  const csr = await createCsr({ commonName: thing, serialNumber: thing });
  const created = await stack.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr.csrPem, setAsActive: true }));
  await stack.iot.send(new AttachPolicyCommand({ policyName: stack.deployed.devicePolicyName, target: created.certificateArn! }));
  await stack.iot.send(new AttachThingPrincipalCommand({ thingName: thing, principal: created.certificateArn! }));
  const next = { certificatePem: created.certificatePem!, privateKeyPem: csr.privateKeyPem, certificateId: created.certificateId! };

  const jobId = `rotate-it-${++jobs}`;
  await stack.iot.send(
    new CreateJobCommand({
      jobId,
      targets: [thingArn(thing)],
      document: JSON.stringify({ operation: 'rotate-certificate', keyAlgorithm: 'EC-P256' }),
      ...(job.inProgressTimeoutInMinutes ? { timeoutConfig: { inProgressTimeoutInMinutes: job.inProgressTimeoutInMinutes } } : {}),
    }),
  );
  const started = await connect(thing, old);
  expect((await started.ask('start-next')).payload).toMatchObject({ execution: { jobId, status: 'IN_PROGRESS' } });
  await started.close();

  await writeIssuedRotation(documents, stack.deployed.tableName, thing, {
    jobId,
    previousCertificateId: old.certificateId,
    clientToken: 'token-1',
    newKeySha256: '0'.repeat(64),
    newCertificateId: next.certificateId,
    newCertificateArn: created.certificateArn!,
  });
  return { thing, jobId, old, next };
}

const rotationOf = async (thing: string) => (await stack.registry.get(thing))?.rotation;
const statusOf = async (certificateId: string) => (await stack.iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status;
const timelineOf = async (thing: string) => listTimelineEvents({ client: documents, tableName: stack.deployed.timelineTableName }, thing);

describe('the rotation commits over MQTT/TLS', () => {
  it('commits once the new certificate connected and the device reported SUCCEEDED; the old one is retired after the grace', async () => {
    const r = await issuedRotation('ROT-COMMIT-1');

    // The device reconnects with the new pair and reports SUCCEEDED on that connection (protocol §5).
    const device = await connect(r.thing, r.next);
    await until(() => rotationOf(r.thing), (rotation) => rotation?.newConnectedAt !== undefined);
    expect((await device.ask(`${r.jobId}/update`, { status: 'SUCCEEDED', statusDetails: { certificateId: r.next.certificateId } })).accepted).toBe(true);

    const rotation = await until(() => rotationOf(r.thing), (value) => value?.retirementScheduledAt !== undefined);
    expect(rotation).toMatchObject({ state: 'committed', jobStatus: 'SUCCEEDED' });
    expect(await stack.registry.get(r.thing)).toMatchObject({ certificateId: r.next.certificateId, bindingState: 'bound', thingName: r.thing });
    // After the 1 s grace, retireCertificate: old INACTIVE and detached; the new one untouched.
    const old = await until(() => stack.describe(r.old.certificateId), (state) => state.status === 'INACTIVE');
    expect(old.things).toEqual([]);
    expect(await stack.describe(r.next.certificateId)).toMatchObject({ status: 'ACTIVE', things: [r.thing] });
    const events = await timelineOf(r.thing);
    expect(events.filter((e) => e.type === 'rotation-committed')).toEqual([expect.objectContaining({ certificateId: r.next.certificateId })]);
    expect(events.filter((e) => e.type === 'rotation-rolled-back')).toEqual([]);
    // The old pair no longer connects; the new one does.
    expect((await connectOnce(endpoint, r.old, r.thing)).client).toBeUndefined();
    await device.close();
    const again = await connectOnce(endpoint, r.next, r.thing);
    expect(again.error).toBeUndefined();
    await disconnect(again.client!);
  });

  it('rolls back on FAILED: new REVOKED and detached, the old certificate still connects, the binding unchanged', async () => {
    const r = await issuedRotation('ROT-COMMIT-2');

    // The agent could not use the new pair and reports FAILED over its old connection (protocol §4).
    const device = await connect(r.thing, r.old);
    expect((await device.ask(`${r.jobId}/update`, { status: 'FAILED', statusDetails: { reason: 'new-certificate-refused' } })).accepted).toBe(true);

    const rotation = await until(() => rotationOf(r.thing), (value) => value?.state === 'rolled-back');
    expect(rotation).toMatchObject({ reason: 'FAILED: new-certificate-refused', jobStatus: 'FAILED' });
    expect(await stack.describe(r.next.certificateId)).toMatchObject({ status: 'REVOKED', things: [] });
    expect(await stack.registry.get(r.thing)).toMatchObject({ certificateId: r.old.certificateId, bindingState: 'bound' });
    expect(await statusOf(r.old.certificateId)).toBe('ACTIVE');
    await device.close();
    const again = await connectOnce(endpoint, r.old, r.thing);
    expect(again.error).toBeUndefined();
    await disconnect(again.client!);
    expect((await connectOnce(endpoint, r.next, r.thing)).client).toBeUndefined();
    expect((await timelineOf(r.thing)).filter((e) => e.type === 'rotation-rolled-back')).toEqual([expect.objectContaining({ reason: 'FAILED: new-certificate-refused' })]);
  });

  it('rolls back on TIMED_OUT (the device never confirmed within inProgressTimeoutInMinutes)', async () => {
    const r = await issuedRotation('ROT-COMMIT-3', { inProgressTimeoutInMinutes: 1 });

    // The local Jobs' clock moves past the timeout; its tick ends the execution TIMED_OUT.
    clockOffsetMs += 61_000;
    try {
      await until(
        async () => (await stack.iot.send(new DescribeJobExecutionCommand({ jobId: r.jobId, thingName: r.thing }))).execution?.status,
        (status) => status === 'TIMED_OUT',
      );
      const rotation = await until(() => rotationOf(r.thing), (value) => value?.state === 'rolled-back');
      expect(rotation).toMatchObject({ reason: 'TIMED_OUT' });
    } finally {
      clockOffsetMs = 0;
    }
    expect(await stack.describe(r.next.certificateId)).toMatchObject({ status: 'REVOKED', things: [] });
    expect(await stack.registry.get(r.thing)).toMatchObject({ certificateId: r.old.certificateId, bindingState: 'bound' });
    const again = await connectOnce(endpoint, r.old, r.thing);
    expect(again.error).toBeUndefined();
    await disconnect(again.client!);
  });
});

describe('suspend and retire close an open rotation (fail closed)', () => {
  const lifecycle = (): LifecycleDeps => ({
    registry: stack.registry,
    iot: lifecycleIotCalls(stack.iot),
    timeline: bindCalls({ client: documents, tableName: stack.deployed.timelineTableName }, { append: appendTimelineEvent }),
    quarantineGroup: stack.deployed.quarantineGroupName,
    actor: { kind: 'cli', id: 'arn:aws:iam::123456789012:user/operator' },
    now: () => new Date(),
    sleep: async () => {},
  });

  it.each([
    ['suspend', 'suspended'],
    ['retire', 'retired'],
  ] as const)('%s revokes the rotation\'s ACTIVE new certificate: the device cannot connect with it, and it never commits', async (action, reason) => {
    const r = await issuedRotation(`ROT-LIFE-${action}`);

    if (action === 'suspend') await suspendDevice(r.thing, lifecycle());
    else await retireDevice(r.thing, { keepThing: false }, lifecycle());

    expect(await rotationOf(r.thing)).toMatchObject({ state: 'rolled-back', reason });
    expect(await statusOf(r.next.certificateId)).toBe('REVOKED');
    expect((await connectOnce(endpoint, r.next, r.thing)).client).toBeUndefined();
    expect((await connectOnce(endpoint, r.old, r.thing)).client).toBeUndefined();
    // A late SUCCEEDED changes nothing: the job execution is ended by the device over its (refused) connection,
    // so the check is on the registry: still rolled back, binding not moved to the new certificate.
    expect((await stack.registry.get(r.thing))?.certificateId).not.toBe(r.next.certificateId);
    expect((await timelineOf(r.thing)).filter((e) => e.type === 'rotation-rolled-back')).toEqual([expect.objectContaining({ reason })]);
  });
});
