import {
  DeleteThingShadowCommand,
  GetRetainedMessageCommand,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  ListNamedShadowsForThingCommand,
  ListRetainedMessagesCommand,
  PublishCommand,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { AttachPolicyCommand, AttachThingPrincipalCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand, CreateThingCommand } from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { connectOnce, runJitrDevice, type Endpoint, type Identity } from '../../local/sandbox/simulator';
import type { KeyedCertificate } from '../../lib/pki';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The data plane against the local IoT Core: `iot-data` through the AWS SDK's IoTDataPlaneClient (endpoint
 * from AWS_ENDPOINT_URL_IOT_DATA_PLANE, as the harness sets it), and the Device Shadow MQTT topics over real
 * MQTT/TLS with the stack's device policy (own thing's shadow topics only).
 */

let stack: LocalStack;
let endpoint: Endpoint;
let data: IoTDataPlaneClient;
const devices: Record<string, Identity> = {};
const clients: MqttClient[] = [];

const identityOf = (device: KeyedCertificate): Identity => ({ certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem });
const json = (payload: Uint8Array | undefined) => JSON.parse(Buffer.from(payload ?? []).toString('utf8')) as Record<string, any>;
const update = (thingName: string, document: unknown, shadowName?: string) =>
  data.send(new UpdateThingShadowCommand({ thingName, ...(shadowName ? { shadowName } : {}), payload: Buffer.from(JSON.stringify(document)) }));

/** An activated device (JITR through the stack's handler), its thing named after it, with the stack's device policy. */
async function activatedDevice(thingName: string): Promise<Identity> {
  const device = await stack.device(thingName, { registry: 'allow' });
  const result = await runJitrDevice({ endpoint, identity: identityOf(device), clientId: thingName, maxAttempts: 3, backoffMs: 50, betweenAttempts: () => stack.core.idle() });
  expect(result.connected).toBe(true);
  return identityOf(device);
}

/** A connected device and every message it receives, by topic. */
async function connect(thingName: string): Promise<{ client: MqttClient; received: Array<{ topic: string; payload: Record<string, any> }> }> {
  const { client, error } = await connectOnce(endpoint, devices[thingName]!, thingName);
  if (!client) throw new Error(`${thingName} could not connect: ${error}`);
  clients.push(client);
  const received: Array<{ topic: string; payload: Record<string, any> }> = [];
  client.on('message', (topic, payload) => {
    let parsed: Record<string, any>;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      parsed = { raw: payload.toString('utf8') };
    }
    received.push({ topic, payload: parsed });
  });
  return { client, received };
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const messageOn = (received: Array<{ topic: string; payload: Record<string, any> }>, topic: string, from = 0) =>
  until(() => received.slice(from).find((m) => m.topic === topic)?.payload, topic);

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
  data = new IoTDataPlaneClient({});
  for (const name of ['SHADOW-1', 'SHADOW-2']) devices[name] = await activatedDevice(name);
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.end(true);
  data?.destroy();
  await stack?.close();
});

describe('iot-data over HTTP (the AWS SDK’s IoTDataPlaneClient)', () => {
  it('reaches the data plane from the endpoints file’s environment', () => {
    expect(process.env.AWS_ENDPOINT_URL_IOT_DATA_PLANE).toBe(stack.core.endpoints.iotData);
    expect(stack.core.endpoints.iotData).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates, reads, updates at a version, and deletes a classic shadow', async () => {
    const created = json((await update('HTTP-1', { state: { desired: { color: 'red' } }, clientToken: 'ops-1' })).payload);
    expect(created).toMatchObject({ state: { desired: { color: 'red' } }, version: 1, clientToken: 'ops-1', metadata: { desired: { color: { timestamp: expect.any(Number) } } } });

    const read = json((await data.send(new GetThingShadowCommand({ thingName: 'HTTP-1' }))).payload);
    expect(read).toMatchObject({ state: { desired: { color: 'red' }, delta: { color: 'red' } }, version: 1 });

    expect(json((await update('HTTP-1', { state: { reported: { color: 'red' } }, version: 1 })).payload)).toMatchObject({ version: 2 });
    await expect(update('HTTP-1', { state: { reported: { color: 'blue' } }, version: 1 })).rejects.toMatchObject({
      name: 'ConflictException',
      message: 'Version conflict',
      $metadata: { httpStatusCode: 409 },
    });
    expect(json((await data.send(new GetThingShadowCommand({ thingName: 'HTTP-1' }))).payload).state).toEqual({ desired: { color: 'red' }, reported: { color: 'red' } });

    expect(json((await data.send(new DeleteThingShadowCommand({ thingName: 'HTTP-1' }))).payload)).toEqual({ version: 2, timestamp: expect.any(Number) });
    await expect(data.send(new GetThingShadowCommand({ thingName: 'HTTP-1' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
  });

  it('keeps named shadows apart and lists them in pages', async () => {
    for (const shadowName of ['config', 'alarms', 'telemetry']) await update('HTTP-2', { state: { reported: { shadowName } } }, shadowName);
    expect(json((await data.send(new GetThingShadowCommand({ thingName: 'HTTP-2', shadowName: 'config' }))).payload).state).toEqual({ reported: { shadowName: 'config' } });
    await expect(data.send(new GetThingShadowCommand({ thingName: 'HTTP-2' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });

    const first = await data.send(new ListNamedShadowsForThingCommand({ thingName: 'HTTP-2', pageSize: 2 }));
    expect(first.results).toEqual(['alarms', 'config']);
    const second = await data.send(new ListNamedShadowsForThingCommand({ thingName: 'HTTP-2', pageSize: 2, nextToken: first.nextToken! }));
    expect(second).toMatchObject({ results: ['telemetry'] });
    expect(second.nextToken).toBeUndefined();
  });

  it.each([
    ['an invalid document', '{"state": ', 'InvalidRequestException', 400, 'Invalid JSON'],
    ['too deep a document', JSON.stringify({ state: { reported: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } }), 'InvalidRequestException', 400, 'JSON contains too many levels of nesting; maximum is 6'],
    ['too large a state', JSON.stringify({ state: { reported: { blob: 'x'.repeat(9_000) } } }), 'RequestEntityTooLargeException', 413, 'The payload exceeds the maximum size allowed'],
  ])('refuses %s with %s', async (_case, payload, name, status, message) => {
    await expect(data.send(new UpdateThingShadowCommand({ thingName: 'HTTP-BAD', payload: Buffer.from(payload) }))).rejects.toMatchObject({ name, message, $metadata: { httpStatusCode: status } });
    await expect(data.send(new GetThingShadowCommand({ thingName: 'HTTP-BAD' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('keeps a retained message, lists it, and deletes it on an empty retained publish', async () => {
    await data.send(new PublishCommand({ topic: 'fleet/config', qos: 1, retain: true, payload: Buffer.from('{"interval":60}') }));
    const retained = await data.send(new GetRetainedMessageCommand({ topic: 'fleet/config' }));
    expect({ topic: retained.topic, qos: retained.qos, payload: Buffer.from(retained.payload ?? []).toString() }).toEqual({ topic: 'fleet/config', qos: 1, payload: '{"interval":60}' });
    expect((await data.send(new ListRetainedMessagesCommand({}))).retainedTopics).toEqual([expect.objectContaining({ topic: 'fleet/config', payloadSize: 15, qos: 1 })]);
    await data.send(new PublishCommand({ topic: 'fleet/config', retain: true }));
    await expect(data.send(new GetRetainedMessageCommand({ topic: 'fleet/config' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('delivers a Publish to a subscribed device and to the account’s topic rule, and not to another account', async () => {
    const invoked: unknown[] = [];
    stack.core.addFunction({ functionName: 'command-capture', handler: async (event) => void invoked.push(event) });
    const functionArn = `arn:aws:lambda:${stack.core.endpoints.region}:${stack.core.endpoints.accountId}:function:command-capture`;
    stack.core.addRule({ ruleName: 'commands', sql: "SELECT * FROM 'device/+/commands'", actions: [{ lambda: { functionArn } }] });
    const { client, received } = await connect('SHADOW-1');
    await client.subscribeAsync('device/SHADOW-1/commands', { qos: 1 });

    const otherAccount = new IoTDataPlaneClient({ credentials: { accessKeyId: '222222222222', secretAccessKey: 'local' } });
    await otherAccount.send(new PublishCommand({ topic: 'device/SHADOW-1/commands', qos: 1, payload: Buffer.from('{"from":"B"}') }));
    otherAccount.destroy();
    await data.send(new PublishCommand({ topic: 'device/SHADOW-1/commands', qos: 1, payload: Buffer.from('{"reboot":true}') }));

    expect(await messageOn(received, 'device/SHADOW-1/commands')).toEqual({ reboot: true });
    await stack.core.idle();
    expect(invoked).toEqual([{ reboot: true }]);
    expect(received.filter((m) => m.topic === 'device/SHADOW-1/commands')).toHaveLength(1);
  });

  it('refuses a Publish on a topic only the service publishes on', async () => {
    await expect(data.send(new PublishCommand({ topic: '$aws/things/SHADOW-1/shadow/update/accepted', payload: Buffer.from('{}') }))).rejects.toMatchObject({ name: 'UnauthorizedException' });
  });
});

describe('the Device Shadow MQTT topics (a device within the stack’s device policy)', () => {
  const prefix = '$aws/things/SHADOW-1/shadow';

  it('answers a device’s update with accepted and documents, tells it the delta of an app’s desired state, and answers get and delete', async () => {
    const { client, received } = await connect('SHADOW-1');
    for (const reply of ['update/accepted', 'update/rejected', 'update/delta', 'update/documents', 'get/accepted', 'delete/accepted']) {
      await expect(client.subscribeAsync(`${prefix}/${reply}`, { qos: 1 })).resolves.toEqual([expect.objectContaining({ qos: 1 })]);
    }

    client.publish(`${prefix}/update`, JSON.stringify({ state: { reported: { valve: 'closed' } }, clientToken: 'dev-1' }), { qos: 1 });
    expect(await messageOn(received, `${prefix}/update/accepted`)).toMatchObject({ state: { reported: { valve: 'closed' } }, clientToken: 'dev-1', version: 1 });
    expect(await messageOn(received, `${prefix}/update/documents`)).toMatchObject({ current: { state: { reported: { valve: 'closed' } }, version: 1 }, clientToken: 'dev-1' });

    // An application sets the desired state over HTTP: the device hears the difference on /update/delta.
    await update('SHADOW-1', { state: { desired: { valve: 'open' } } });
    expect(await messageOn(received, `${prefix}/update/delta`)).toMatchObject({ state: { valve: 'open' }, version: 2, metadata: { valve: { timestamp: expect.any(Number) } } });

    const before = received.length;
    client.publish(`${prefix}/update`, JSON.stringify({ state: { reported: { valve: 'open' } }, version: 1, clientToken: 'stale' }), { qos: 1 });
    expect(await messageOn(received, `${prefix}/update/rejected`, before)).toEqual({ code: 409, message: 'Version conflict', timestamp: expect.any(Number), clientToken: 'stale' });

    client.publish(`${prefix}/get`, JSON.stringify({ clientToken: 'get-1' }), { qos: 1 });
    expect(await messageOn(received, `${prefix}/get/accepted`)).toMatchObject({ state: { desired: { valve: 'open' }, reported: { valve: 'closed' }, delta: { valve: 'open' } }, version: 2, clientToken: 'get-1' });

    client.publish(`${prefix}/delete`, '', { qos: 1 });
    expect(await messageOn(received, `${prefix}/delete/accepted`)).toMatchObject({ version: 2 });
    await expect(data.send(new GetThingShadowCommand({ thingName: 'SHADOW-1' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('serves a named shadow on its own topics', async () => {
    const { client, received } = await connect('SHADOW-1');
    await client.subscribeAsync(`${prefix}/name/config/update/accepted`, { qos: 1 });
    client.publish(`${prefix}/name/config/update`, JSON.stringify({ state: { reported: { interval: 30 } } }), { qos: 1 });
    expect(await messageOn(received, `${prefix}/name/config/update/accepted`)).toMatchObject({ state: { reported: { interval: 30 } } });
    expect((await data.send(new ListNamedShadowsForThingCommand({ thingName: 'SHADOW-1' }))).results).toEqual(['config']);
  });

  it('refuses a device another thing’s shadow: its subscription closes the connection (MQTT 3.1.1), so does its update, which changes nothing', async () => {
    const subscriber = await connect('SHADOW-1');
    await expect(subscriber.client.subscribeAsync('$aws/things/SHADOW-2/shadow/update/accepted', { qos: 1 })).rejects.toThrow(/Connection closed/);
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'subscribe-denied' && entry.detail === 'SHADOW-1 → $aws/things/SHADOW-2/shadow/update/accepted')).toBe(true);
    const { client } = await connect('SHADOW-1');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('$aws/things/SHADOW-2/shadow/update', JSON.stringify({ state: { desired: { valve: 'open' } } }), { qos: 1 });
    await closed;
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'publish-denied' && entry.detail === 'SHADOW-1 → $aws/things/SHADOW-2/shadow/update')).toBe(true);
    await expect(data.send(new GetThingShadowCommand({ thingName: 'SHADOW-2' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('does not let a device publish on a reply topic, and sends another thing’s shadow answers only to that thing', async () => {
    const one = await connect('SHADOW-1');
    const two = await connect('SHADOW-2');
    await two.client.subscribeAsync('$aws/things/SHADOW-2/shadow/update/accepted', { qos: 1 });
    await update('SHADOW-2', { state: { reported: { valve: 'closed' } } });
    expect(await messageOn(two.received, '$aws/things/SHADOW-2/shadow/update/accepted')).toMatchObject({ state: { reported: { valve: 'closed' } } });
    expect(one.received.filter((m) => m.topic.includes('SHADOW-2'))).toEqual([]);

    const closed = new Promise<void>((resolve) => one.client.once('close', () => resolve()));
    one.client.publish(`${prefix}/update/accepted`, JSON.stringify({ state: { reported: { forged: true } } }), { qos: 1 });
    await closed;
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'publish-denied' && entry.detail === `SHADOW-1 → ${prefix}/update/accepted`)).toBe(true);
  });

  it('delivers shadow answers only to subscribers whose policy allows iot:Receive on them', async () => {
    // A monitor allowed to subscribe to every shadow topic but to receive only SHADOW-2's.
    const arn = (resource: string) => `arn:aws:iot:${stack.core.endpoints.region}:${stack.core.endpoints.accountId}:${resource}`;
    await stack.iot.send(new CreateThingCommand({ thingName: 'MONITOR' }));
    await stack.iot.send(
      new CreatePolicyCommand({
        policyName: 'monitor',
        policyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client/MONITOR') },
            { Effect: 'Allow', Action: 'iot:Subscribe', Resource: arn('topicfilter/$aws/things/*') },
            { Effect: 'Allow', Action: 'iot:Receive', Resource: arn('topic/$aws/things/SHADOW-2/*') },
          ],
        }),
      }),
    );
    const issued = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await stack.iot.send(new AttachPolicyCommand({ policyName: 'monitor', target: issued.certificateArn! }));
    await stack.iot.send(new AttachThingPrincipalCommand({ thingName: 'MONITOR', principal: issued.certificateArn! }));
    devices.MONITOR = { certificatePem: issued.certificatePem!, privateKeyPem: issued.keyPair!.PrivateKey! };
    const monitor = await connect('MONITOR');
    await monitor.client.subscribeAsync('$aws/things/+/shadow/update/accepted', { qos: 1 });

    await update('SHADOW-1', { state: { reported: { watched: false } } });
    await update('SHADOW-2', { state: { reported: { watched: true } } });

    expect(await messageOn(monitor.received, '$aws/things/SHADOW-2/shadow/update/accepted')).toMatchObject({ state: { reported: { watched: true } } });
    expect(monitor.received.map((m) => m.topic)).toEqual(['$aws/things/SHADOW-2/shadow/update/accepted']);
  });

  it('lets a device with seed 001’s JustInTime policy (Connect, Publish, UpdateThingShadow on *) update its shadow by publishing, but not hear the answers', async () => {
    // iot:UpdateThingShadow is a Device Shadow policy action for the HTTP API; over MQTT, the topic actions
    // govern (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html).
    await stack.iot.send(new CreateThingCommand({ thingName: 'SEED-001' }));
    await stack.iot.send(
      new CreatePolicyCommand({
        policyName: 'JustInTime',
        policyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['iot:Connect', 'iot:Publish', 'iot:UpdateThingShadow'], Resource: `arn:aws:iot:${stack.core.endpoints.region}:${stack.core.endpoints.accountId}:*` }],
        }),
      }),
    );
    const issued = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await stack.iot.send(new AttachPolicyCommand({ policyName: 'JustInTime', target: issued.certificateArn! }));
    devices['SEED-001'] = { certificatePem: issued.certificatePem!, privateKeyPem: issued.keyPair!.PrivateKey! };
    // Its subscription to the answers is refused: MQTT 3.1.1 is disconnected for it (pub-sub-policy.html).
    const subscriber = await connect('SEED-001');
    await expect(subscriber.client.subscribeAsync('$aws/things/SEED-001/shadow/update/accepted', { qos: 1 })).rejects.toThrow(/Connection closed/);
    const { client } = await connect('SEED-001');
    await client.publishAsync('$aws/things/SEED-001/shadow/update', JSON.stringify({ state: { reported: { temperature: 21 } } }), { qos: 1 });
    // The shadow is updated when the broker accepts the publish, before its PUBACK.
    const shadow = json((await data.send(new GetThingShadowCommand({ thingName: 'SEED-001' }))).payload);
    expect(shadow).toMatchObject({ state: { reported: { temperature: 21 } }, version: 1 });
  });
});
