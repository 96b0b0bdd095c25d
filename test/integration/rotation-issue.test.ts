import { createPrivateKey, X509Certificate } from 'node:crypto';
import { CreateJobCommand, DescribeCertificateCommand, DescribeJobExecutionCommand, ListAttachedPoliciesCommand, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { MqttClient } from 'mqtt';
import { connectOnce, disconnect, publishAcknowledged, type Endpoint } from '../../device/mqtt-connection';
import { csrFor } from '../../device/rotation-agent';
import { createCsr } from '../../lib/pki';
import { createDocumentClient } from '../../shared/aws/clients';
import { certificateTopic, csrTopic } from '../../shared/rotation/model';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The rotation's CSR step end to end over real MQTT/TLS: the stack deployed into the local IoT Core (its
 * rule `device/+/rotation/csr` → rotateCertificate in a worker with its role's credentials, local IAM checking
 * every call), a JITR device with a rotation `queued` in the registry and its real job execution IN_PROGRESS
 * (CreateJob, then the device's own start-next), publishing its CSR and reading the answer on its topic.
 */

let stack: LocalStack;
let endpoint: Endpoint;
const clients: MqttClient[] = [];
const documents = () => createDocumentClient();

/** What a probe rule with the CSR rule's SELECT list received (the local rules engine, rules.ts). */
const probed: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
  const { region, accountId } = stack.core.endpoints;
  stack.core.addFunction({ functionName: 'rule-probe', handler: async (event) => (probed.push(event as Record<string, unknown>), null) });
  stack.core.addRule({
    ruleName: 'ruleProbe',
    sql: "SELECT *, topic(2) AS thingName, principal() AS principal, clientid() AS clientId FROM 'probe/+/csr'",
    actions: [{ lambda: { functionArn: `arn:aws:lambda:${region}:${accountId}:function:rule-probe` } }],
  });
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  await stack.close();
});

interface Device {
  thing: string;
  certificateId: string;
  certificatePem: string;
  privateKeyPem: string;
}

/** A device provisioned by JITR: its first connect registers and activates its certificate. */
async function jitrDevice(thing: string): Promise<Device> {
  const device = await stack.device(thing, { registry: 'allow' });
  const identity = { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem };
  const first = await connectOnce(endpoint, identity, thing);
  if (first.client) await disconnect(first.client);
  await stack.core.idle();
  expect((await stack.iot.send(new DescribeCertificateCommand({ certificateId: device.certificateId }))).certificateDescription?.status).toBe('ACTIVE');
  return { thing, certificateId: device.certificateId, ...identity };
}

/** What S0 (the rotation start, another part) writes: a rotation `queued` for the job, written directly here. */
async function queueRotation(device: Device, jobId: string): Promise<void> {
  const at = new Date().toISOString();
  await documents().send(
    new UpdateCommand({
      TableName: stack.deployed.tableName,
      Key: { deviceId: device.thing },
      UpdateExpression: 'SET rotation = :rotation',
      ConditionExpression: 'certificateId = :certificateId AND bindingState = :bound',
      ExpressionAttributeValues: {
        ':rotation': { jobId, state: 'queued', startedAt: at, updatedAt: at, previousCertificateId: device.certificateId },
        ':certificateId': device.certificateId,
        ':bound': 'bound',
      },
    }),
  );
}

/** The device connected, subscribed to its certificate topic, collecting the answers. */
async function connected(device: Device, identity: { certificatePem: string; privateKeyPem: string } = device): Promise<{ client: MqttClient; answers: Array<Record<string, any>> }> {
  const { client, error } = await connectOnce(endpoint, identity, device.thing);
  if (!client) throw new Error(`${device.thing} could not connect: ${String(error)}`);
  clients.push(client);
  const answers: Array<Record<string, any>> = [];
  client.on('message', (topic, payload) => {
    if (topic === certificateTopic(device.thing)) answers.push(JSON.parse(payload.toString()));
  });
  await client.subscribeAsync([certificateTopic(device.thing), `$aws/things/${device.thing}/jobs/start-next/accepted`], { qos: 1 });
  return { client, answers };
}

/** A rotation job for the thing, taken by the device over MQTT (StartNextPendingJobExecution): IN_PROGRESS. */
async function startedJob(device: Device, client: MqttClient, jobId: string): Promise<void> {
  const thingArn = stack.core.registry.account(stack.accountId).arn(`thing/${device.thing}`);
  await stack.iot.send(new CreateJobCommand({ jobId, targets: [thingArn], document: JSON.stringify({ operation: 'rotate-certificate', keyAlgorithm: 'EC-P256' }) }));
  await publishAcknowledged(client, `$aws/things/${device.thing}/jobs/start-next`, JSON.stringify({ clientToken: 'start-1' }));
  await until(async () => (await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: device.thing }))).execution?.status === 'IN_PROGRESS');
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await condition()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function registryRotation(thing: string): Promise<Record<string, any> | undefined> {
  return (await stack.registry.get(thing))?.rotation;
}

describe('the rule SQL over MQTT and iot-data', () => {
  it('gives principal() = the connection’s certificate id and clientid() = its client id; an iot-data publish has neither', async () => {
    const { IoTDataPlaneClient, PublishCommand } = await import('@aws-sdk/client-iot-data-plane');
    // A device publishes on its own topic (its policy allows device/<thing>/* only); the test, as the service,
    // publishes through iot-data on another topic of the same SELECT list.
    const jitr = await jitrDevice('ROT-PROBE-2');
    stack.core.addRule({
      ruleName: 'ruleProbeDevice',
      sql: "SELECT *, topic(2) AS thingName, principal() AS principal, clientid() AS clientId FROM 'device/+/probe'",
      actions: [{ lambda: { functionArn: `arn:aws:lambda:${stack.core.endpoints.region}:${stack.core.endpoints.accountId}:function:rule-probe` } }],
    });
    const { client } = await connected(jitr);
    await publishAcknowledged(client, `device/${jitr.thing}/probe`, JSON.stringify({ n: 1, principal: 'spoofed' }));
    await disconnect(client);
    await new IoTDataPlaneClient({}).send(new PublishCommand({ topic: 'probe/ROT-PROBE-3/csr', qos: 1, payload: new TextEncoder().encode(JSON.stringify({ n: 2, principal: 'spoofed', clientId: 'spoofed' })) }));
    await until(() => probed.length >= 2);
    await stack.core.idle();
    expect(probed).toEqual(
      expect.arrayContaining([
        { n: 1, thingName: jitr.thing, principal: jitr.certificateId, clientId: jitr.thing },
        { n: 2, thingName: 'ROT-PROBE-3' },
      ]),
    );
    expect(probed).toHaveLength(2);
  }, 60_000);
});

describe('the rotation CSR step over MQTT/TLS', () => {
  it('answers a CSR with a new ACTIVE certificate attached to the thing and the policy; the old one stays ACTIVE and bound', async () => {
    const device = await jitrDevice('ROT-ISSUE-1');
    const jobId = 'rotate-issue-1';
    await queueRotation(device, jobId);
    const { client, answers } = await connected(device);
    await startedJob(device, client, jobId);
    const { csrPem, privateKeyPem } = await createCsr({ commonName: device.thing, serialNumber: device.thing });

    await publishAcknowledged(client, csrTopic(device.thing), JSON.stringify({ jobId, clientToken: 'tok-1', csr: csrPem }));
    await until(() => answers.length > 0);

    const answer = answers[0]!;
    expect(answer).toEqual({ jobId, clientToken: 'tok-1', certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), certificateId: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(new X509Certificate(answer.certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem))).toBe(true);
    const described = (await stack.iot.send(new DescribeCertificateCommand({ certificateId: answer.certificateId }))).certificateDescription!;
    expect(described.status).toBe('ACTIVE');
    expect((await stack.iot.send(new ListAttachedPoliciesCommand({ target: described.certificateArn! }))).policies?.map((p) => p.policyName)).toEqual([stack.deployed.devicePolicyName]);
    const principals = (await stack.iot.send(new ListThingPrincipalsCommand({ thingName: device.thing }))).principals ?? [];
    expect(principals).toEqual(expect.arrayContaining([described.certificateArn, expect.stringContaining(device.certificateId)]));
    expect((await stack.iot.send(new DescribeCertificateCommand({ certificateId: device.certificateId }))).certificateDescription?.status).toBe('ACTIVE');
    const entry = await stack.registry.get(device.thing);
    expect(entry).toMatchObject({ certificateId: device.certificateId, bindingState: 'bound' });
    expect(entry?.rotation).toMatchObject({ state: 'issued', newCertificateId: answer.certificateId, clientToken: 'tok-1' });

    // The new pair connects as the thing.
    await disconnect(client);
    const again = await connectOnce(endpoint, { certificatePem: answer.certificatePem, privateKeyPem }, device.thing);
    expect(again.error).toBeUndefined();
    await disconnect(again.client!);

    // A re-sent CSR (same key, same clientToken) gets the same certificate.
    const second = await connected(device);
    await publishAcknowledged(second.client, csrTopic(device.thing), JSON.stringify({ jobId, clientToken: 'tok-1', csr: csrPem }));
    await until(() => second.answers.length > 0);
    expect(second.answers[0]).toMatchObject({ certificateId: answer.certificateId });
    await disconnect(second.client);
  }, 60_000);

  it('answers a CSR with the current key key-reused, and a job not in progress no-rotation; no certificate is made', async () => {
    const device = await jitrDevice('ROT-ISSUE-2');
    const jobId = 'rotate-issue-2';
    await queueRotation(device, jobId);
    const { client, answers } = await connected(device);
    const before = stack.core.registry.account(stack.accountId).certificates.all().length;

    // The job exists in the registry only: no execution IN_PROGRESS yet.
    const { csrPem } = await createCsr({ commonName: device.thing, serialNumber: device.thing });
    await publishAcknowledged(client, csrTopic(device.thing), JSON.stringify({ jobId, clientToken: 'tok-a', csr: csrPem }));
    await until(() => answers.length > 0);
    expect(answers[0]).toMatchObject({ jobId, clientToken: 'tok-a', error: { reason: 'no-rotation' } });

    await startedJob(device, client, jobId);
    await publishAcknowledged(client, csrTopic(device.thing), JSON.stringify({ jobId, clientToken: 'tok-b', csr: await csrFor(device.privateKeyPem, device.thing) }));
    await until(() => answers.length > 1);
    expect(answers[1]).toMatchObject({ jobId, clientToken: 'tok-b', error: { reason: 'key-reused' } });
    expect(stack.core.registry.account(stack.accountId).certificates.all().length).toBe(before);
    expect(await registryRotation(device.thing)).toMatchObject({ state: 'refused', reason: 'key-reused' });
    await disconnect(client);
  }, 60_000);

  it('refuses, by the device policy, a device publishing a CSR for another thing; the function is never invoked', async () => {
    const a = await jitrDevice('ROT-ISSUE-3A');
    const b = await jitrDevice('ROT-ISSUE-3B');
    await queueRotation(b, 'rotate-issue-3');
    const invocations = () => stack.core.results.filter((r) => r.functionName.endsWith('-rotateCertificate')).length;
    const before = invocations();
    const { client } = await connected(a);
    const { csrPem } = await createCsr({ commonName: b.thing, serialNumber: b.thing });
    const denied = () => stack.core.mqtt!.log.some((entry) => entry.event === 'publish-denied' && entry.detail === `${a.thing} → ${csrTopic(b.thing)}`);
    expect(denied()).toBe(false);
    // MQTT 5: the PUBACK says not authorized (MQTT 3.1.1 would close the connection); either way the broker drops it.
    client.publish(csrTopic(b.thing), JSON.stringify({ jobId: 'rotate-issue-3', clientToken: 'tok-x', csr: csrPem }), { qos: 1 }, () => {});
    await until(denied);
    await stack.core.idle();
    expect(invocations()).toBe(before);
    expect(await registryRotation(b.thing)).toMatchObject({ state: 'queued' });
  }, 60_000);
});
