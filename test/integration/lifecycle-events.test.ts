import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand } from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { connectOnce, disconnect, type Endpoint, type Identity } from '../../device/mqtt-connection';
import type { PresenceEvent } from '../../local/iot-core/lifecycle-events';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * AWS IoT's lifecycle events from the local IoT Core over real mutual TLS (MQTT.js): a topic rule
 * `SELECT * FROM '$aws/events/presence/connected/+'` receives each accepted CONNECT with the certificate as
 * principal, and the disconnects carry AWS's reasons (developer guide "Lifecycle events").
 */

let stack: LocalStack;
let endpoint: Endpoint;
const received: Array<{ topic: string; event: Record<string, unknown> }> = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
  const { region, accountId } = stack.core.endpoints;
  stack.core.addFunction({
    functionName: 'presence-recorder',
    handler: async (event) => {
      const e = event as Record<string, unknown>;
      received.push({ topic: `${String(e.eventType)}/${String(e.clientId)}`, event: e });
      return null;
    },
  });
  const functionArn = `arn:aws:lambda:${region}:${accountId}:function:presence-recorder`;
  for (const [ruleName, sql] of [
    ['presenceConnected', "SELECT * FROM '$aws/events/presence/connected/+'"],
    ['presenceDisconnected', "SELECT * FROM '$aws/events/presence/disconnected/+'"],
    ['presenceConnectFailed', "SELECT * FROM '$aws/events/presence/connect_failed/+'"],
  ] as const) {
    stack.core.addRule({ ruleName, sql, actions: [{ lambda: { functionArn } }] });
  }
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  await stack.close();
});

beforeEach(() => {
  received.length = 0;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The recorded events for `clientId` of a type, once `count` arrived (or the wait ran out). */
async function eventsOf(eventType: string, clientId: string, count = 1, ms = 3_000): Promise<PresenceEvent[]> {
  const deadline = Date.now() + ms;
  const matching = () => received.filter((r) => r.topic === `${eventType}/${clientId}`).map((r) => r.event as unknown as PresenceEvent);
  while (matching().length < count && Date.now() < deadline) {
    await stack.core.idle();
    await sleep(20);
  }
  return matching();
}

let identities = 0;
async function identityWith(statements: object[]): Promise<Identity & { certificateId: string }> {
  const made = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const policyName = `presence-${++identities}`;
  await stack.iot.send(new CreatePolicyCommand({ policyName, policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));
  await stack.iot.send(new AttachPolicyCommand({ policyName, target: made.certificateArn! }));
  return { certificatePem: made.certificatePem!, privateKeyPem: made.keyPair!.PrivateKey!, certificateId: made.certificateId! };
}

const connectAny = [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }];

async function connected(identity: Identity, clientId: string, mqtt: '5' | '3.1.1' = '5'): Promise<MqttClient> {
  const { client, error } = await connectOnce({ ...endpoint, mqtt }, identity, clientId);
  if (!client) throw new Error(`${clientId}: ${error}`);
  clients.push(client);
  return client;
}

describe('lifecycle events to topic rules', () => {
  it('sends a rule on $aws/events/presence/connected/+ the connect, with the certificate as principal', async () => {
    const identity = await identityWith(connectAny);
    const before = Date.now();

    await connected(identity, 'presence-1');

    const [event] = await eventsOf('connected', 'presence-1');
    expect(event).toEqual({
      clientId: 'presence-1',
      timestamp: expect.any(Number),
      eventType: 'connected',
      sessionIdentifier: expect.stringMatching(/^[0-9a-f-]{36}$/),
      principalIdentifier: identity.certificateId,
      ipAddress: '127.0.0.1',
      versionNumber: 0,
    });
    expect(event!.timestamp).toBeGreaterThanOrEqual(before);
  });

  it('reports a clean DISCONNECT as CLIENT_INITIATED_DISCONNECT, for the same session', async () => {
    const identity = await identityWith(connectAny);
    const client = await connected(identity, 'presence-2');
    const [connect] = await eventsOf('connected', 'presence-2');

    await disconnect(client);

    const [event] = await eventsOf('disconnected', 'presence-2');
    expect(event).toMatchObject({
      eventType: 'disconnected',
      clientInitiatedDisconnect: true,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
      principalIdentifier: identity.certificateId,
      sessionIdentifier: connect!.sessionIdentifier,
      versionNumber: connect!.versionNumber,
    });
  });

  it.each(['5', '3.1.1'] as const)('reports the connection a takeover ends as DUPLICATE_CLIENTID (MQTT %s); the new session has the next version', async (version) => {
    const old = await identityWith(connectAny);
    const fresh = await identityWith(connectAny);
    const clientId = `presence-takeover-${version}`;
    await connected(old, clientId, version);
    await eventsOf('connected', clientId);

    await connected(fresh, clientId, version);

    const [event] = await eventsOf('disconnected', clientId);
    expect(event).toMatchObject({ disconnectReason: 'DUPLICATE_CLIENTID', clientInitiatedDisconnect: false, principalIdentifier: old.certificateId, versionNumber: 0 });
    const connects = await eventsOf('connected', clientId, 2);
    expect(connects.map((c) => [c.principalIdentifier, c.versionNumber])).toEqual([[old.certificateId, 0], [fresh.certificateId, 1]]);
  });

  it('reports a connection whose socket drops without DISCONNECT as CONNECTION_LOST', async () => {
    const identity = await identityWith(connectAny);
    const client = await connected(identity, 'presence-lost');
    await eventsOf('connected', 'presence-lost');

    client.stream.destroy();

    const [event] = await eventsOf('disconnected', 'presence-lost');
    expect(event).toMatchObject({ disconnectReason: 'CONNECTION_LOST', clientInitiatedDisconnect: false });
  });

  it('reports an MQTT 3.1.1 connection closed for an unauthorized publish as AUTH_ERROR', async () => {
    const identity = await identityWith(connectAny);
    const client = await connected(identity, 'presence-auth', '3.1.1');
    await eventsOf('connected', 'presence-auth');

    client.publish('not/allowed', 'x', { qos: 1 });

    const [event] = await eventsOf('disconnected', 'presence-auth');
    expect(event).toMatchObject({ disconnectReason: 'AUTH_ERROR', clientInitiatedDisconnect: false });
  });

  it('publishes connect_failed (AUTHORIZATION_FAILURE) for a CONNECT its policy denies, and no connected', async () => {
    const identity = await identityWith([{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/someone-else' }]);

    const { client } = await connectOnce(endpoint, identity, 'presence-denied');

    expect(client).toBeUndefined();
    const [event] = await eventsOf('connect_failed', 'presence-denied');
    expect(event).toMatchObject({ clientId: 'presence-denied', eventType: 'connect_failed', failureType: 'AUTHORIZATION_FAILURE', principalIdentifier: identity.certificateId });
    expect(await eventsOf('connected', 'presence-denied', 1, 200)).toEqual([]);
  });

  it('publishes no lifecycle event for a client id with + or #', async () => {
    const identity = await identityWith(connectAny);

    await connected(identity, 'presence+odd');
    await connected(identity, 'presence-after-odd');

    await eventsOf('connected', 'presence-after-odd');
    expect(received.filter((r) => r.topic.includes('presence+odd'))).toEqual([]);
  });
});

describe('lifecycle events to MQTT subscribers', () => {
  it('delivers them to a subscriber its policy allows, not to a `#` subscription, and with subscribed events', async () => {
    const watcher = await identityWith([
      ...connectAny,
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: ['arn:aws:iot:*:*:topicfilter/$aws/events/*', 'arn:aws:iot:*:*:topicfilter/#'] },
      { Effect: 'Allow', Action: 'iot:Receive', Resource: 'arn:aws:iot:*:*:topic/$aws/events/*' },
    ]);
    const onlyHash = await identityWith([
      ...connectAny,
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/#' },
      { Effect: 'Allow', Action: 'iot:Receive', Resource: 'arn:aws:iot:*:*:topic/*' },
    ]);
    const events = await connected(watcher, 'presence-watcher');
    const hash = await connected(onlyHash, 'presence-hash');
    const seen: Array<{ topic: string; body: Record<string, unknown> }> = [];
    const seenByHash: string[] = [];
    events.on('message', (topic, payload) => seen.push({ topic, body: JSON.parse(payload.toString()) }));
    hash.on('message', (topic) => seenByHash.push(topic));
    await events.subscribeAsync('$aws/events/presence/+/+', { qos: 1 });
    await hash.subscribeAsync('#', { qos: 1 });
    const device = await identityWith(connectAny);

    const client = await connected(device, 'presence-watched');
    await disconnect(client);

    const deadline = Date.now() + 3_000;
    while (seen.filter((s) => s.topic.endsWith('/presence-watched')).length < 2 && Date.now() < deadline) await sleep(20);
    expect(seen.filter((s) => s.topic.endsWith('/presence-watched')).map((s) => [s.topic, s.body.eventType])).toEqual([
      ['$aws/events/presence/connected/presence-watched', 'connected'],
      ['$aws/events/presence/disconnected/presence-watched', 'disconnected'],
    ]);
    expect(seenByHash.filter((topic) => topic.startsWith('$aws/'))).toEqual([]);
  });

  it('publishes subscribed and unsubscribed with the topic filters', async () => {
    const watcher = await identityWith([
      ...connectAny,
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: ['arn:aws:iot:*:*:topicfilter/$aws/events/*', 'arn:aws:iot:*:*:topicfilter/sensors/*'] },
      { Effect: 'Allow', Action: 'iot:Receive', Resource: 'arn:aws:iot:*:*:topic/$aws/events/*' },
    ]);
    const events = await connected(watcher, 'subs-watcher');
    const seen: Array<Record<string, unknown>> = [];
    events.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString())));
    await events.subscribeAsync('$aws/events/subscriptions/+/subs-device', { qos: 1 });
    const device = await connected(watcher, 'subs-device');

    await device.subscribeAsync('sensors/temperature', { qos: 1 });
    await device.unsubscribeAsync('sensors/temperature');

    const deadline = Date.now() + 3_000;
    while (seen.length < 2 && Date.now() < deadline) await sleep(20);
    expect(seen).toEqual([
      expect.objectContaining({ clientId: 'subs-device', eventType: 'subscribed', topics: ['sensors/temperature'], principalIdentifier: watcher.certificateId }),
      expect.objectContaining({ clientId: 'subs-device', eventType: 'unsubscribed', topics: ['sensors/temperature'] }),
    ]);
  });
});
