import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateJobCommand,
  CreatePolicyCommand,
  DescribeCertificateCommand,
  DescribeJobExecutionCommand,
  ListAttachedPoliciesCommand,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { mqttConnector } from '../../device/agent-connection';
import { DirectoryFiles } from '../../device/atomic-files';
import { connectOnce, disconnect, publishAcknowledged, type Endpoint } from '../../device/mqtt-connection';
import { FILES, RotationAgent } from '../../device/rotation-agent';
import { main } from '../../cli/main';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The rotation agent over real MQTT/TLS against the local IoT Core, with the stack's device policy: a JITR
 * device rotates to a certificate made by CreateCertificateFromCsr, reconnects with it (the lifecycle event
 * names the new certificate) and reports SUCCEEDED over that connection.
 *
 * The job is real: created with CreateJob, served over MQTT by the local IoT Core's Jobs MQTT API, read back
 * with DescribeJobExecution. Only the rotation backend function (CSR in, certificate out) is a stand-in
 * (rotationFunctionStandIn), until a later session builds the function.
 */

const THING = 'ROT-INT-1';
let stack: LocalStack;
const savedEnv = { ...process.env };
let endpoint: Endpoint;
const presence: Array<{ eventType: string; clientId: string; principalIdentifier: string }> = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
  // The stack's own CSR rule (rotateCertificate, functions/rotate-certificate/resources.cjs) is disabled here:
  // these tests drive the agent against the stand-in below, which answers without a registry rotation; the
  // real function would answer the same CSRs `no-rotation` (test/integration/rotation-issue.test.ts tests it).
  for (const rule of stack.core.rules().list().filter((r) => r.topicPattern === 'device/+/rotation/csr')) {
    const { topicPattern: _pattern, createdAt: _createdAt, ...deployed } = rule;
    stack.core.addRule({ ...deployed, ruleDisabled: true });
  }
  const { region, accountId } = stack.core.endpoints;
  stack.core.addFunction({
    functionName: 'rotation-presence',
    handler: async (event) => {
      presence.push(event as (typeof presence)[number]);
      return null;
    },
  });
  stack.core.addRule({
    ruleName: 'rotationPresence',
    sql: "SELECT * FROM '$aws/events/presence/connected/+'",
    actions: [{ lambda: { functionArn: `arn:aws:lambda:${region}:${accountId}:function:rotation-presence` } }],
  });
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  await stack.close();
  // The CLI sets its environment (--local): put it all back.
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

/** A device through JITR: first connect refused, activated by the stack, then ACTIVE with the device policy. */
async function jitrDevice(thing: string): Promise<{ certificatePem: string; privateKeyPem: string; certificateArn: string }> {
  const device = await stack.device(thing, { registry: 'allow' });
  const identity = { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem };
  const first = await connectOnce(endpoint, identity, thing);
  if (first.client) await disconnect(first.client);
  await stack.core.idle();
  const described = await stack.iot.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));
  expect(described.certificateDescription?.status).toBe('ACTIVE');
  return { ...identity, certificateArn: described.certificateDescription!.certificateArn! };
}

const thingArn = (thingName: string) => stack.core.registry.account(stack.accountId).arn(`thing/${thingName}`);

/**
 * A rotation job, created as the backend will: CreateJob targeting the thing, with the document of
 * docs/rotation-protocol.md §2. The local IoT Core serves the Jobs MQTT API the agent talks to.
 */
async function rotationJob(thing: string, jobId: string): Promise<void> {
  await stack.iot.send(
    new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: JSON.stringify({ operation: 'rotate-certificate', keyAlgorithm: 'EC-P256' }) }),
  );
}

/** The execution as the operator reads it (DescribeJobExecution). */
async function executionOf(jobId: string, thing: string) {
  return (await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }))).execution;
}

/**
 * How many connected events had arrived when the thing's execution of `jobId` became SUCCEEDED: read from the
 * local IoT Core's Jobs registry (the Jobs MQTT answers go to the device only, so no MQTT client can watch them).
 */
function succeededAfter(thing: string, jobId: string): { presenceCount?: number; stop: () => void } {
  const jobs = stack.core.registry.account(stack.accountId).jobs;
  const seen: { presenceCount?: number; stop: () => void } = { stop: () => undefined };
  seen.stop = jobs.onExecutionChange((thingName) => {
    if (thingName === thing && seen.presenceCount === undefined && jobs.findExecution(jobId, thing)?.status === 'SUCCEEDED') seen.presenceCount = presence.length;
  });
  return seen;
}

/** Polls until the condition holds (10 s at most). */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; !(await condition()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface RotationFunctionStandIn {
  /** The certificate ids it issued, in order. */
  issued: string[];
  stop(): Promise<void>;
}

/**
 * STAND-IN for the rotation backend function (a later session builds it; docs/rotation-protocol.md §3 and §7):
 * an MQTT service client that takes the CSR on `device/<thing>/rotation/csr`, calls CreateCertificateFromCsr,
 * attaches the thing and the device policy, and answers on `device/<thing>/rotation/certificate`. Unlike the
 * real function it does not check that the thing's job execution is IN_PROGRESS, nor commit or retire anything.
 */
async function rotationFunctionStandIn(thing: string, devicePolicyName: string): Promise<RotationFunctionStandIn> {
  const made = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const policyName = `rotation-function-stand-in-${thing}`;
  await stack.iot.send(
    new CreatePolicyCommand({
      policyName,
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
          { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: 'arn:aws:iot:*:*:topic/device/*' },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/device/*' },
        ],
      }),
    }),
  );
  await stack.iot.send(new AttachPolicyCommand({ policyName, target: made.certificateArn! }));
  const { client } = await connectOnce(endpoint, { certificatePem: made.certificatePem!, privateKeyPem: made.keyPair!.PrivateKey! }, `rotation-function-stand-in-${thing}`);
  if (!client) throw new Error('the rotation function stand-in could not connect');
  clients.push(client);
  const state: RotationFunctionStandIn = { issued: [], stop: () => disconnect(client) };
  client.on('message', (topic, payload) => {
    if (topic !== `device/${thing}/rotation/csr`) return;
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    void (async () => {
      const created = await stack.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: String(body.csr), setAsActive: true }));
      await stack.iot.send(new AttachThingPrincipalCommand({ thingName: thing, principal: created.certificateArn! }));
      await stack.iot.send(new AttachPolicyCommand({ policyName: devicePolicyName, target: created.certificateArn! }));
      state.issued.push(created.certificateId!);
      await publishAcknowledged(client, `device/${thing}/rotation/certificate`, JSON.stringify({ jobId: body.jobId, clientToken: body.clientToken, certificatePem: created.certificatePem, certificateId: created.certificateId }));
    })();
  });
  await client.subscribeAsync([`device/${thing}/rotation/csr`], { qos: 1 });
  return state;
}

describe('the rotation agent over MQTT/TLS', () => {
  it('rotates a JITR device: reconnects with the new certificate (the lifecycle event names it), then reports SUCCEEDED', async () => {
    const device = await jitrDevice(THING);
    const policies = await stack.iot.send(new ListAttachedPoliciesCommand({ target: device.certificateArn }));
    const backend = await rotationFunctionStandIn(THING, policies.policies![0]!.policyName!);
    await rotationJob(THING, 'rotate-int-1');
    expect((await executionOf('rotate-int-1', THING))?.status).toBe('QUEUED');
    const succeeded = succeededAfter(THING, 'rotate-int-1');
    const dir = mkdtempSync(join(tmpdir(), 'rotation-int-'));
    writeFileSync(join(dir, FILES.certificate), device.certificatePem);
    writeFileSync(join(dir, FILES.key), device.privateKeyPem, { mode: 0o600 });

    await new RotationAgent({ thingName: THING, files: new DirectoryFiles(dir), connect: mqttConnector(endpoint), replyTimeoutMs: 5_000 }).run({ once: true });
    await stack.core.idle();

    succeeded.stop();
    expect(backend.issued).toHaveLength(1);
    const newId = backend.issued[0]!;
    expect(await executionOf('rotate-int-1', THING)).toMatchObject({ status: 'SUCCEEDED', statusDetails: { detailsMap: { certificateId: newId } } });
    const pem = readFileSync(join(dir, FILES.certificate), 'utf8');
    expect(new X509Certificate(pem).checkPrivateKey(createPrivateKey(readFileSync(join(dir, FILES.key), 'utf8')))).toBe(true);
    // The connected event of the new certificate came before the SUCCEEDED report (the backend's commit rule).
    const connects = presence.filter((p) => p.clientId === THING).map((p) => p.principalIdentifier);
    expect(connects).toContain(newId);
    expect(presence.findIndex((p) => p.clientId === THING && p.principalIdentifier === newId)).toBeLessThan(succeeded.presenceCount!);
    // The new pair connects as the thing; the old one still does too (the backend retires it later).
    for (const identity of [{ certificatePem: pem, privateKeyPem: readFileSync(join(dir, FILES.key), 'utf8') }, device]) {
      const again = await connectOnce(endpoint, identity, THING);
      expect(again.error).toBeUndefined();
      await disconnect(again.client!);
    }
    await backend.stop();
  });

  it('answers a job that is not a rotation REJECTED through the real Jobs API, and keeps its certificate', async () => {
    const thing = 'ROT-INT-5';
    const device = await jitrDevice(thing);
    await stack.iot.send(new CreateJobCommand({ jobId: 'reboot-int-5', targets: [thingArn(thing)], document: JSON.stringify({ operation: 'reboot' }) }));
    const dir = mkdtempSync(join(tmpdir(), 'rotation-rejected-'));
    writeFileSync(join(dir, FILES.certificate), device.certificatePem);
    writeFileSync(join(dir, FILES.key), device.privateKeyPem, { mode: 0o600 });

    await new RotationAgent({ thingName: thing, files: new DirectoryFiles(dir), connect: mqttConnector(endpoint), replyTimeoutMs: 5_000 }).run({ once: true });

    expect(await executionOf('reboot-int-5', thing)).toMatchObject({ status: 'REJECTED', statusDetails: { detailsMap: { reason: 'unsupported-operation' } } });
    expect(readFileSync(join(dir, FILES.certificate), 'utf8')).toBe(device.certificatePem);
  });

  it('a long-running agent takes a job created while it waits: notify-next from the local IoT Core wakes it', async () => {
    const thing = 'ROT-INT-6';
    const device = await jitrDevice(thing);
    const policies = await stack.iot.send(new ListAttachedPoliciesCommand({ target: device.certificateArn }));
    const backend = await rotationFunctionStandIn(thing, policies.policies![0]!.policyName!);
    const dir = mkdtempSync(join(tmpdir(), 'rotation-notify-'));
    writeFileSync(join(dir, FILES.certificate), device.certificatePem);
    writeFileSync(join(dir, FILES.key), device.privateKeyPem, { mode: 0o600 });
    // The agent's own connector, recording the topics it receives.
    const received: string[] = [];
    const connect = mqttConnector(endpoint);
    const recording: typeof connect = async (identity, clientId) => {
      const connection = await connect(identity, clientId);
      return { ...connection, onMessage: (handler) => connection.onMessage((topic, payload) => (received.push(topic), handler(topic, payload))) };
    };
    const stop = new AbortController();
    const running = new RotationAgent({ thingName: thing, files: new DirectoryFiles(dir), connect: recording, replyTimeoutMs: 5_000 }).run({ signal: stop.signal });

    // Nothing pending at first: the agent's start-next is answered without an execution, and it waits.
    await until(() => received.includes(`$aws/things/${thing}/jobs/start-next/accepted`));
    await rotationJob(thing, 'rotate-int-6');
    await until(async () => (await executionOf('rotate-int-6', thing))?.status === 'SUCCEEDED');
    stop.abort();
    await running;

    expect(received).toContain(`$aws/things/${thing}/jobs/notify-next`);
    expect(await executionOf('rotate-int-6', thing)).toMatchObject({ statusDetails: { detailsMap: { certificateId: backend.issued[0] } } });
    expect(readFileSync(join(dir, FILES.certificate), 'utf8')).not.toBe(device.certificatePem);
    await backend.stop();
  });

  it('cannot send a CSR for another thing, nor take its jobs (the device policy)', async () => {
    const device = await jitrDevice('ROT-INT-2');
    const { client } = await connectOnce(endpoint, device, 'ROT-INT-2');
    clients.push(client!);

    // MQTT 5: a refused publish gets PUBACK 0x87 and the connection stays up.
    await expect(publishAcknowledged(client!, 'device/ROT-INT-1/rotation/csr', JSON.stringify({ jobId: 'x', clientToken: 'y', csr: 'z' }), 3_000)).rejects.toThrow(/Not authorized/i);
    await expect(publishAcknowledged(client!, '$aws/things/ROT-INT-1/jobs/start-next', '{}', 3_000)).rejects.toThrow(/Not authorized/i);
    await expect(publishAcknowledged(client!, '$aws/things/ROT-INT-2/jobs/start-next', '{}', 3_000)).resolves.toBeUndefined();
    await expect(publishAcknowledged(client!, 'device/ROT-INT-2/rotation/csr', '{}', 3_000)).resolves.toBeUndefined();
  });

  it('runs from the CLI: device agent <thing> --dir d --once takes the files device issue wrote and rotates them', async () => {
    const thing = 'ROT-INT-3';
    const device = await jitrDevice(thing);
    const policies = await stack.iot.send(new ListAttachedPoliciesCommand({ target: device.certificateArn }));
    const backend = await rotationFunctionStandIn(thing, policies.policies![0]!.policyName!);
    await rotationJob(thing, 'rotate-int-3');
    const dir = mkdtempSync(join(tmpdir(), 'rotation-cli-'));
    writeFileSync(join(dir, `${thing}AndCA.crt`), device.certificatePem);
    writeFileSync(join(dir, `${thing}.key`), device.privateKeyPem, { mode: 0o600 });
    const endpointsFile = join(dir, 'endpoints.json');
    writeFileSync(endpointsFile, JSON.stringify(stack.core.endpoints));
    const out: string[] = [];
    const err: string[] = [];

    const code = await main(['device', 'agent', thing, '--dir', dir, '--once', '--local', '--endpoints-file', endpointsFile], (l) => out.push(l), (l) => err.push(l));

    expect({ code, err: err.join('\n') }).toMatchObject({ code: 0 });
    expect(out.join('\n')).toContain('job rotate-int-3: reported SUCCEEDED');
    expect(await executionOf('rotate-int-3', thing)).toMatchObject({ status: 'SUCCEEDED', statusDetails: { detailsMap: { certificateId: backend.issued[0] } } });
    expect(readFileSync(join(dir, FILES.certificate), 'utf8')).not.toBe(device.certificatePem);
    // The device's original files are left as they were; nothing printed holds a key.
    expect(readFileSync(join(dir, `${thing}AndCA.crt`), 'utf8')).toBe(device.certificatePem);
    expect(`${out.join('\n')}${err.join('\n')}`).not.toMatch(/PRIVATE KEY/);
    await backend.stop();
  });

  it('refuses to run without --dir, or with a bad thing name (exit 2, nothing written)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['device', 'agent', 'ROT-INT-4'], (l) => out.push(l), (l) => err.push(l))).toBe(2);
    expect(err.join('\n')).toMatch(/--dir is required/);
    expect(await main(['device', 'agent', 'bad/name', '--dir', tmpdir()], (l) => out.push(l), (l) => err.push(l))).toBe(2);
    expect(err.join('\n')).toMatch(/thing name/);
  });
});
