import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  DescribeCertificateCommand,
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
 * The cloud side of the Jobs MQTT API and the rotation function are a stand-in here: an MQTT client answering
 * as docs/rotation-protocol.md says. Once the local IoT Core serves the Jobs MQTT API (issue 14, wt-jobs) and
 * the rotation function exists, this test should create a real job and drop the stand-in's Jobs part.
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

interface StandIn {
  execution: { jobId: string; status: string; versionNumber: number; statusDetails?: Record<string, string>; reportedAt?: number };
  issued: string[];
  stop(): Promise<void>;
}

/** The cloud side as the protocol specifies it (one rotation job), answering over MQTT as a service client. */
async function standIn(thing: string, devicePolicyName: string, jobId = 'rotate-int-1'): Promise<StandIn> {
  const made = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const policyName = `rotation-stand-in-${thing}`;
  await stack.iot.send(
    new CreatePolicyCommand({
      policyName,
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
          { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: ['arn:aws:iot:*:*:topic/$aws/things/*', 'arn:aws:iot:*:*:topic/device/*'] },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: ['arn:aws:iot:*:*:topicfilter/$aws/things/*', 'arn:aws:iot:*:*:topicfilter/device/*'] },
        ],
      }),
    }),
  );
  await stack.iot.send(new AttachPolicyCommand({ policyName, target: made.certificateArn! }));
  const { client } = await connectOnce(endpoint, { certificatePem: made.certificatePem!, privateKeyPem: made.keyPair!.PrivateKey! }, `stand-in-${thing}`);
  if (!client) throw new Error('the stand-in could not connect');
  clients.push(client);
  const jobs = `$aws/things/${thing}/jobs`;
  const state: StandIn = { execution: { jobId, status: 'QUEUED', versionNumber: 1 }, issued: [], stop: () => disconnect(client) };
  const e = state.execution;
  const answer = (topic: string, body: object) => void publishAcknowledged(client, topic, JSON.stringify(body));
  client.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    const clientToken = body.clientToken;
    void (async () => {
      if (topic === `${jobs}/start-next`) {
        const pending = e.status === 'QUEUED' || e.status === 'IN_PROGRESS';
        if (e.status === 'QUEUED') Object.assign(e, { status: 'IN_PROGRESS', versionNumber: e.versionNumber + 1 });
        answer(`${topic}/accepted`, pending ? { execution: { jobId: e.jobId, status: e.status, versionNumber: e.versionNumber, jobDocument: { operation: 'rotate-certificate' } }, clientToken } : { clientToken });
      } else if (topic === `${jobs}/${e.jobId}/update`) {
        if (body.expectedVersion !== e.versionNumber) return answer(`${topic}/rejected`, { code: 'VersionMismatch', clientToken });
        Object.assign(e, { status: body.status, statusDetails: body.statusDetails, versionNumber: e.versionNumber + 1, reportedAt: presence.length });
        answer(`${topic}/accepted`, { executionState: { status: e.status, versionNumber: e.versionNumber }, clientToken });
      } else if (topic === `device/${thing}/rotation/csr`) {
        const created = await stack.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: String(body.csr), setAsActive: true }));
        await stack.iot.send(new AttachThingPrincipalCommand({ thingName: thing, principal: created.certificateArn! }));
        await stack.iot.send(new AttachPolicyCommand({ policyName: devicePolicyName, target: created.certificateArn! }));
        state.issued.push(created.certificateId!);
        answer(`device/${thing}/rotation/certificate`, { jobId: body.jobId, clientToken, certificatePem: created.certificatePem, certificateId: created.certificateId });
      }
    })();
  });
  await client.subscribeAsync([`${jobs}/start-next`, `${jobs}/+/update`, `device/${thing}/rotation/csr`], { qos: 1 });
  return state;
}

describe('the rotation agent over MQTT/TLS', () => {
  it('rotates a JITR device: reconnects with the new certificate (the lifecycle event names it), then reports SUCCEEDED', async () => {
    const device = await jitrDevice(THING);
    const policies = await stack.iot.send(new ListAttachedPoliciesCommand({ target: device.certificateArn }));
    const cloud = await standIn(THING, policies.policies![0]!.policyName!);
    const dir = mkdtempSync(join(tmpdir(), 'rotation-int-'));
    writeFileSync(join(dir, FILES.certificate), device.certificatePem);
    writeFileSync(join(dir, FILES.key), device.privateKeyPem, { mode: 0o600 });

    await new RotationAgent({ thingName: THING, files: new DirectoryFiles(dir), connect: mqttConnector(endpoint), replyTimeoutMs: 5_000 }).run({ once: true });
    await stack.core.idle();

    const newId = cloud.issued[0]!;
    expect(cloud.execution).toMatchObject({ status: 'SUCCEEDED', statusDetails: { certificateId: newId } });
    const pem = readFileSync(join(dir, FILES.certificate), 'utf8');
    expect(new X509Certificate(pem).checkPrivateKey(createPrivateKey(readFileSync(join(dir, FILES.key), 'utf8')))).toBe(true);
    // The connected event of the new certificate came before the SUCCEEDED report (the backend's commit rule).
    const connects = presence.filter((p) => p.clientId === THING).map((p) => p.principalIdentifier);
    expect(connects).toContain(newId);
    expect(presence.findIndex((p) => p.clientId === THING && p.principalIdentifier === newId)).toBeLessThan(cloud.execution.reportedAt!);
    // The new pair connects as the thing; the old one still does too (the backend retires it later).
    for (const identity of [{ certificatePem: pem, privateKeyPem: readFileSync(join(dir, FILES.key), 'utf8') }, device]) {
      const again = await connectOnce(endpoint, identity, THING);
      expect(again.error).toBeUndefined();
      await disconnect(again.client!);
    }
    await cloud.stop();
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
    const cloud = await standIn(thing, policies.policies![0]!.policyName!, 'rotate-int-3');
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
    expect(cloud.execution.status).toBe('SUCCEEDED');
    expect(readFileSync(join(dir, FILES.certificate), 'utf8')).not.toBe(device.certificatePem);
    // The device's original files are left as they were; nothing printed holds a key.
    expect(readFileSync(join(dir, `${thing}AndCA.crt`), 'utf8')).toBe(device.certificatePem);
    expect(`${out.join('\n')}${err.join('\n')}`).not.toMatch(/PRIVATE KEY/);
    await cloud.stop();
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
