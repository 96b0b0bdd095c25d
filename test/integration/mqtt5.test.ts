import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { GetRetainedMessageCommand, IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { connectionOptions, connectOnce, disconnect, type Endpoint, type Identity } from '../../device/mqtt-connection';
import { SESSION_EXPIRY_LIMIT_SECONDS, TOPIC_ALIAS_MAXIMUM } from '../../local/iot-core/mqtt-endpoint';
import { runFleetDevice } from '../../local/sandbox/simulator';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * MQTT 5 (MQTT.js, protocolVersion 5) against the local IoT Core over real mutual TLS: the reason codes AWS
 * answers MQTT 5 clients with, session and message expiry within AWS's limits, topic aliases, properties
 * passed through, shared subscriptions, and JITR and fleet provisioning as for MQTT 3.1.1; with it, how MQTT
 * 3.1.1 clients are refused (no CONNACK, no SUBACK) and retained messages.
 */

let stack: LocalStack;
let endpoint: Endpoint;

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
});

afterAll(async () => {
  await stack.close();
});

const clients: MqttClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.end(true);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Opened {
  client?: MqttClient;
  connack?: IConnackPacket;
  /** CONNACK reason code (MQTT 5) or return code (3.1.1) of a refusal. */
  refusedWith?: number;
  /** The connection closed without a CONNACK. */
  closedWithoutConnack?: true;
  packets: Packet[];
}

/** One raw MQTT.js connection (default MQTT 5), recording every packet the broker sends. */
function open(identity: Identity, clientId: string, options: IClientOptions = {}): Promise<Opened> {
  return new Promise((resolve) => {
    const packets: Packet[] = [];
    const client = mqtt.connect({ ...connectionOptions({ ...endpoint, mqtt: '5' }, identity, clientId), ...options });
    clients.push(client);
    client.on('packetreceive', (packet) => packets.push(packet));
    client.once('connect', (connack) => resolve({ client, connack, packets }));
    client.once('error', (error) => {
      client.end(true);
      resolve({ refusedWith: (error as Error & { code?: number }).code, packets });
    });
    // Resolves only when neither a CONNACK nor an error came first.
    client.once('close', () => resolve({ closedWithoutConnack: true, packets }));
  });
}

async function opened(identity: Identity, clientId: string, options: IClientOptions = {}): Promise<Required<Pick<Opened, 'client' | 'connack' | 'packets'>>> {
  const result = await open(identity, clientId, options);
  if (!result.client || !result.connack) throw new Error(`${clientId} was refused (${result.refusedWith})`);
  return { client: result.client, connack: result.connack, packets: result.packets };
}

/** Messages arriving on a client, for `expect` after the fact. */
function inbox(client: MqttClient): IPublishPacket[] {
  const received: IPublishPacket[] = [];
  client.on('message', (_topic, _payload, packet) => received.push(packet));
  return received;
}

async function until(condition: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await sleep(20);
}

let identities = 0;
/** An AWS-issued certificate (CreateKeysAndCertificate, ACTIVE) with a policy of its own. */
async function identityWith(statements: object[]): Promise<Identity> {
  const made = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const policyName = `mqtt5-${++identities}`;
  await stack.iot.send(new CreatePolicyCommand({ policyName, policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }));
  await stack.iot.send(new AttachPolicyCommand({ policyName, target: made.certificateArn! }));
  return { certificatePem: made.certificatePem!, privateKeyPem: made.keyPair!.PrivateKey! };
}

const allowAll = (prefix: string) => [
  { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
  { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: [`arn:aws:iot:*:*:topic/${prefix}/*`, `arn:aws:iot:*:*:topic/$share/*/${prefix}/*`] },
  { Effect: 'Allow', Action: 'iot:Subscribe', Resource: [`arn:aws:iot:*:*:topicfilter/${prefix}/*`, `arn:aws:iot:*:*:topicfilter/$share/*/${prefix}/*`] },
];

describe('MQTT 5: JITR first connect', () => {
  it('answers the first connect with CONNACK 0x87 (not authorized) and accepts the device once the handler activated it', async () => {
    const device = await stack.device('MQTT5-JITR-1', { registry: 'allow' });
    const identity = { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem };

    const first = await open(identity, 'MQTT5-JITR-1');
    expect(first.refusedWith).toBe(0x87);
    expect(first.packets).toEqual([expect.objectContaining({ cmd: 'connack', reasonCode: 0x87 })]);
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('ACTIVE');

    // device/ speaks MQTT 5 by default.
    const second = await connectOnce(endpoint, identity, 'MQTT5-JITR-1');
    expect(second.client).toBeDefined();
    expect(stack.core.mqtt!.log.at(-1)).toMatchObject({ event: 'connected', clientId: 'MQTT5-JITR-1', mqtt: '5' });
    await disconnect(second.client!);
  });

  it('refuses a client id the policy does not allow with 0x87 as well', async () => {
    const identity = await identityWith([{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/allowed-*' }]);
    expect((await open(identity, 'someone-else')).refusedWith).toBe(0x87);
    expect((await opened(identity, 'allowed-1')).connack.reasonCode).toBe(0);
  });
});

describe('MQTT 3.1.1: refused connections', () => {
  it('answers a JITR first connect with CONNACK 5 and closes (measured on AWS: 20 02 00 05)', async () => {
    const device = await stack.device('MQTT311-JITR-1', { registry: 'allow' });
    const first = await open({ certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem }, 'MQTT311-JITR-1', { protocolVersion: 4 });
    expect(first.refusedWith).toBe(5);
    expect(first.packets).toEqual([expect.objectContaining({ cmd: 'connack', returnCode: 5 })]);
    await stack.core.idle();
  });

  it('closes without a CONNACK when iot:Connect is denied or the certificate is not ACTIVE', async () => {
    const identity = await identityWith([{ Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/allowed-*' }]);
    const denied = await open(identity, 'someone-else', { protocolVersion: 4 });
    expect(denied).toEqual({ closedWithoutConnack: true, packets: [] });
    expect(stack.core.mqtt!.log.at(-1)).toMatchObject({ event: 'refused', detail: 'connect someone-else: iot:Connect not allowed' });
    expect((await opened(identity, 'allowed-311', { protocolVersion: 4 })).connack.returnCode).toBe(0);

    const inactive = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await stack.iot.send(new UpdateCertificateCommand({ certificateId: inactive.certificateId!, newStatus: 'INACTIVE' }));
    const refused = await open({ certificatePem: inactive.certificatePem!, privateKeyPem: inactive.keyPair!.PrivateKey! }, 'allowed-inactive', { protocolVersion: 4 });
    expect(refused).toEqual({ closedWithoutConnack: true, packets: [] });
    expect(stack.core.mqtt!.log.at(-1)).toMatchObject({ event: 'refused', detail: expect.stringMatching(/certificate-inactive/) });
  });
});

describe('MQTT 5: DISCONNECT', () => {
  it('tells the older connection of a client id taken over with DISCONNECT 0x8E (session taken over)', async () => {
    const identity = await identityWith(allowAll('takeover'));
    const older = await opened(identity, 'takeover-1');
    const closed = new Promise<void>((resolve) => older.client.once('close', () => resolve()));
    const newer = await opened(identity, 'takeover-1');
    await closed;
    expect(older.packets.filter((packet) => packet.cmd === 'disconnect').map((packet) => (packet as { reasonCode?: number }).reasonCode)).toEqual([0x8e]);
    expect(newer.client.connected).toBe(true);
  });
});

describe('MQTT 5: last will', () => {
  it('publishes the will after its delay, to subscribers of either version, without the Will Delay Interval property', async () => {
    const identity = await identityWith(allowAll('will'));
    const five = await opened(identity, 'will-five');
    const three = await opened(identity, 'will-three', { protocolVersion: 4 });
    await five.client.subscribeAsync('will/gone', { qos: 1 });
    await three.client.subscribeAsync('will/gone', { qos: 1 });
    const testament = await opened(identity, 'will-device', {
      properties: { sessionExpiryInterval: 30 },
      will: { topic: 'will/gone', payload: Buffer.from('will-device is gone'), qos: 1, retain: false, properties: { willDelayInterval: 1, contentType: 'text/plain' } },
    });
    const wentAt = Date.now();
    testament.client.stream.destroy();
    await until(() => five.packets.some((packet) => packet.cmd === 'publish') && three.packets.some((packet) => packet.cmd === 'publish'), 5_000);
    const [toFive] = five.packets.filter((packet): packet is IPublishPacket => packet.cmd === 'publish');
    const [toThree] = three.packets.filter((packet): packet is IPublishPacket => packet.cmd === 'publish');
    expect(Date.now() - wentAt).toBeGreaterThanOrEqual(900);
    expect(toFive?.payload.toString()).toBe('will-device is gone');
    expect(toFive?.properties).toEqual({ contentType: 'text/plain' });
    expect(toThree?.payload.toString()).toBe('will-device is gone');
  });
});

describe('MQTT 5: what the CONNACK advertises', () => {
  it("says what AWS IoT Core supports: topic aliases up to 8, QoS 1, shared subscriptions, no subscription identifiers", async () => {
    const identity = await identityWith(allowAll('caps'));
    const { connack } = await opened(identity, 'caps-1');
    expect(connack.properties).toMatchObject({
      topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
      maximumQoS: 1,
      sharedSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: false,
    });
    expect(TOPIC_ALIAS_MAXIMUM).toBe(8);
  });
});

describe('MQTT 5: session expiry', () => {
  it('resumes a persistent session with its subscriptions and the QoS 1 messages it missed', async () => {
    const identity = await identityWith(allowAll('session'));
    const subscriber = await opened(identity, 'session-sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    await subscriber.client.subscribeAsync('session/queue', { qos: 1 });
    await subscriber.client.endAsync();

    const publisher = await opened(identity, 'session-pub');
    await publisher.client.publishAsync('session/queue', 'while you were away', { qos: 1 });

    const resumed = await opened(identity, 'session-sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    const received = inbox(resumed.client);
    expect(resumed.connack.sessionPresent).toBe(true);
    await until(() => received.length > 0);
    expect(received.map((packet) => packet.payload.toString())).toEqual(['while you were away']);
  });

  it('ends a session its interval after the disconnect', async () => {
    const identity = await identityWith(allowAll('expiry'));
    const first = await opened(identity, 'expiry-sub', { clean: false, properties: { sessionExpiryInterval: 1 } });
    await first.client.subscribeAsync('expiry/queue', { qos: 1 });
    await first.client.endAsync();
    await sleep(2_200);
    const later = await opened(identity, 'expiry-sub', { clean: false, properties: { sessionExpiryInterval: 1 } });
    expect(later.connack.sessionPresent).toBe(false);
  });

  it(`caps the interval at AWS's ${SESSION_EXPIRY_LIMIT_SECONDS} s and says so in the CONNACK`, async () => {
    const identity = await identityWith(allowAll('cap'));
    const { connack } = await opened(identity, 'cap-1', { clean: false, properties: { sessionExpiryInterval: 7 * 24 * 3_600 } });
    expect(connack.properties?.sessionExpiryInterval).toBe(3_600);
    const within = await opened(identity, 'cap-2', { clean: false, properties: { sessionExpiryInterval: 600 } });
    expect(within.connack.properties?.sessionExpiryInterval).toBeUndefined();
  });
});

describe('MQTT 5: message expiry', () => {
  it('drops a queued message whose interval passed and delivers the other with what is left of its interval', async () => {
    const identity = await identityWith(allowAll('mexp'));
    const subscriber = await opened(identity, 'mexp-sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    await subscriber.client.subscribeAsync('mexp/queue', { qos: 1 });
    await subscriber.client.endAsync();

    const publisher = await opened(identity, 'mexp-pub');
    await publisher.client.publishAsync('mexp/queue', 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await publisher.client.publishAsync('mexp/queue', 'long-lived', { qos: 1, properties: { messageExpiryInterval: 120 } });
    await sleep(2_200);

    const resumed = await opened(identity, 'mexp-sub', { clean: false, properties: { sessionExpiryInterval: 60 } });
    const received = inbox(resumed.client);
    await until(() => received.length > 0);
    await sleep(300);
    expect(received.map((packet) => packet.payload.toString())).toEqual(['long-lived']);
    const left = received[0]!.properties?.messageExpiryInterval ?? 0;
    expect(left).toBeGreaterThan(100);
    expect(left).toBeLessThan(120);
  });
});

describe('MQTT 5: topic aliases, properties', () => {
  it('resolves a topic alias the publisher set, for the rest of its connection', async () => {
    const identity = await identityWith(allowAll('alias'));
    const subscriber = await opened(identity, 'alias-sub');
    const received = inbox(subscriber.client);
    await subscriber.client.subscribeAsync('alias/#', { qos: 1 });
    const publisher = await opened(identity, 'alias-pub');
    await publisher.client.publishAsync('alias/long/topic/name', 'first', { qos: 1, properties: { topicAlias: 3 } });
    await publisher.client.publishAsync('', 'second', { qos: 1, properties: { topicAlias: 3 } });
    await until(() => received.length === 2);
    expect(received.map((packet) => [packet.topic, packet.payload.toString()])).toEqual([
      ['alias/long/topic/name', 'first'],
      ['alias/long/topic/name', 'second'],
    ]);
    // The alias is the publisher's connection's only: it does not reach the subscriber.
    expect(received.every((packet) => packet.properties?.topicAlias === undefined)).toBe(true);
  });

  it('passes user properties, response topic, correlation data and content type through, to MQTT 5 and 3.1.1 subscribers', async () => {
    const identity = await identityWith(allowAll('props'));
    const five = await opened(identity, 'props-five');
    const three = await opened(identity, 'props-three', { protocolVersion: 4 });
    const toFive = inbox(five.client);
    const toThree = inbox(three.client);
    await five.client.subscribeAsync('props/request', { qos: 1 });
    await three.client.subscribeAsync('props/request', { qos: 1 });

    const publisher = await opened(identity, 'props-pub');
    const properties = {
      userProperties: { trace: 'abc-123', origin: 'test' },
      responseTopic: 'props/reply/props-pub',
      correlationData: Buffer.from('request-7'),
      contentType: 'application/json',
      payloadFormatIndicator: true,
    };
    await publisher.client.publishAsync('props/request', '{"ask":1}', { qos: 1, properties });
    await until(() => toFive.length === 1 && toThree.length === 1);

    expect(toFive[0]!.properties).toMatchObject({
      userProperties: { trace: 'abc-123', origin: 'test' },
      responseTopic: 'props/reply/props-pub',
      contentType: 'application/json',
      payloadFormatIndicator: true,
    });
    expect(Buffer.from(toFive[0]!.properties!.correlationData!).toString()).toBe('request-7');
    // MQTT 3.1.1 has no properties: the message arrives without them.
    expect(toThree[0]!.payload.toString()).toBe('{"ask":1}');
    expect(toThree[0]!.properties).toBeUndefined();
  });
});

describe('shared subscriptions', () => {
  it('gives each message to one member of the group (MQTT 5 and 3.1.1 members), and all to a plain subscriber', async () => {
    const identity = await identityWith(allowAll('jobs'));
    const memberA = await opened(identity, 'worker-a');
    const memberB = await opened(identity, 'worker-b', { protocolVersion: 4 });
    const watcher = await opened(identity, 'watcher');
    const toA = inbox(memberA.client);
    const toB = inbox(memberB.client);
    const toWatcher = inbox(watcher.client);
    await memberA.client.subscribeAsync('$share/workers/jobs/+', { qos: 1 });
    await memberB.client.subscribeAsync('$share/workers/jobs/+', { qos: 1 });
    await watcher.client.subscribeAsync('jobs/+', { qos: 1 });

    const publisher = await opened(identity, 'jobs-pub');
    for (let i = 0; i < 6; i++) await publisher.client.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
    await until(() => toA.length + toB.length === 6 && toWatcher.length === 6);
    await sleep(200);

    const payloads = (packets: IPublishPacket[]) => packets.map((packet) => packet.payload.toString());
    expect([...payloads(toA), ...payloads(toB)].sort()).toEqual(['job 0', 'job 1', 'job 2', 'job 3', 'job 4', 'job 5']);
    expect(toA.length).toBe(3);
    expect(toB.length).toBe(3);
    expect(payloads(toWatcher)).toHaveLength(6);

    // A member that unsubscribes leaves the group: the other gets everything.
    await memberB.client.unsubscribeAsync('$share/workers/jobs/+');
    for (let i = 6; i < 8; i++) await publisher.client.publishAsync(`jobs/${i}`, `job ${i}`, { qos: 1 });
    await until(() => toA.length === 5);
    await sleep(200);
    expect(toA.length).toBe(5);
    expect(toB.length).toBe(3);
  });

  it('authorizes the shared filter as topicfilter/$share/<group>/<filter>', async () => {
    const identity = await identityWith([
      { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/$share/allowed/grp/*' },
    ]);
    const { client, packets } = await opened(identity, 'share-policy');
    await client.subscribeAsync('$share/allowed/grp/x', { qos: 1 }).catch(() => undefined);
    await client.subscribeAsync('$share/other/grp/x', { qos: 1 }).catch(() => undefined);
    await client.subscribeAsync('grp/x', { qos: 1 }).catch(() => undefined);
    const subacks = packets.filter((packet) => packet.cmd === 'suback').map((packet) => (packet as { granted: number[] }).granted);
    expect(subacks).toEqual([[1], [0x87], [0x87]]);
  });
});

describe('MQTT 5: policy refusals answered with reason codes', () => {
  it('answers a policy-denied SUBSCRIBE with SUBACK 0x87; MQTT 3.1.1 is disconnected without a SUBACK', async () => {
    const identity = await identityWith(allowAll('own'));
    const five = await opened(identity, 'suback-five');
    await five.client.subscribeAsync(['own/topic', 'foreign/topic'], { qos: 1 }).catch(() => undefined);
    const granted = (packets: Packet[]) => packets.filter((packet) => packet.cmd === 'suback').map((packet) => (packet as { granted: number[] }).granted);
    expect(granted(five.packets)).toEqual([[1, 0x87]]);
    expect(five.client.connected).toBe(true);
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'subscribe-denied' && entry.detail === 'suback-five → foreign/topic')).toBe(true);

    // Developer guide (pub-sub-policy.html): such subscriptions "fail and cause the client to disconnect".
    const three = await opened(identity, 'suback-three', { protocolVersion: 4 });
    await three.client.subscribeAsync('own/topic', { qos: 1 });
    const closed = new Promise<void>((resolve) => three.client.once('close', () => resolve()));
    three.client.subscribe(['own/other', 'foreign/topic'], { qos: 1 }, () => undefined);
    await closed;
    expect(granted(three.packets)).toEqual([[1]]);
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'subscribe-denied' && entry.detail === 'suback-three → foreign/topic')).toBe(true);
  });

  it('answers a policy-denied QoS 1 PUBLISH with PUBACK 0x87 and keeps the connection; 3.1.1 is closed', async () => {
    const identity = await identityWith(allowAll('mine'));
    const five = await opened(identity, 'puback-five');
    await expect(five.client.publishAsync('theirs/topic', 'spoof', { qos: 1 })).rejects.toThrow(/Not authorized/i);
    expect(five.packets.filter((packet) => packet.cmd === 'puback').map((packet) => (packet as { reasonCode?: number }).reasonCode)).toEqual([0x87]);
    expect(five.client.connected).toBe(true);
    await expect(five.client.publishAsync('mine/topic', 'fine', { qos: 1 })).resolves.toBeDefined();
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'publish-denied' && entry.detail === 'puback-five → theirs/topic')).toBe(true);

    const three = await opened(identity, 'puback-three', { protocolVersion: 4 });
    const closed = new Promise<void>((resolve) => three.client.once('close', () => resolve()));
    three.client.publish('theirs/topic', 'spoof', { qos: 1 });
    await closed;
  });
});

describe('MQTT 5: fleet provisioning by claim', () => {
  async function vendClaim(): Promise<Identity & { templateName: string }> {
    const response = await fetch(`${stack.core.endpoints.http}/provisioning-claims`, {
      method: 'POST',
      headers: { authorization: await stack.core.issueToken('operator@example.com', { groups: ['technicians'] }) },
      body: JSON.stringify({}),
    });
    expect(response.status).toBe(201);
    const claim = (await response.json()) as { certificatePem: string; privateKey: string; templateName: string };
    return { certificatePem: claim.certificatePem, privateKeyPem: claim.privateKey, templateName: claim.templateName };
  }

  it.each(['create-from-csr', 'create'] as const)('provisions a device with %s + RegisterThing over MQTT 5, and the device reconnects over MQTT 5', async (api) => {
    const serialNumber = `FLEET5-${api}`;
    await stack.registry.allow(serialNumber, {}, new Date());
    const claim = await vendClaim();
    const from = stack.core.mqtt!.log.length;
    const result = await runFleetDevice({ endpoint: { ...endpoint, mqtt: '5' }, claim, templateName: claim.templateName, serialNumber, api });
    expect(result).toMatchObject({ outcome: 'provisioned', thingName: serialNumber, connected: true, published: true });
    const connected = stack.core.mqtt!.log.slice(from).filter((entry) => entry.event === 'connected');
    expect(connected.map((entry) => [entry.clientId, entry.mqtt])).toEqual([
      [`claim-${serialNumber}`, '5'],
      [serialNumber, '5'],
    ]);
  });

  it('answers a RegisterThing the hook refuses on the rejected topic, as for MQTT 3.1.1', async () => {
    const result = await runFleetDevice({ endpoint: { ...endpoint, mqtt: '5' }, claim: await vendClaim(), templateName: stack.deployed.templateName, serialNumber: 'FLEET5-UNKNOWN', api: 'create' });
    expect(result).toMatchObject({ outcome: 'refused', step: 'provision', errorCode: 'AccessDenied', errorMessage: 'The pre-provisioning hook did not allow provisioning.' });
  });
});

describe('retained messages (both versions)', () => {
  let data: IoTDataPlaneClient;
  beforeAll(() => {
    data = new IoTDataPlaneClient({});
  });
  afterAll(() => data.destroy());

  const retainer = (prefix: string) => [...allowAll(prefix), { Effect: 'Allow', Action: 'iot:RetainPublish', Resource: `arn:aws:iot:*:*:topic/${prefix}/*` }];
  const retainedOf = async (topic: string) =>
    data.send(new GetRetainedMessageCommand({ topic })).then(
      (message) => ({ payload: Buffer.from(message.payload ?? []).toString(), qos: message.qos }),
      (error: Error) => error.name,
    );

  it('refuses a retained publish without iot:RetainPublish (MQTT 5: PUBACK 0x87; 3.1.1: closed) and keeps nothing', async () => {
    const identity = await identityWith(allowAll('noretain'));
    const five = await opened(identity, 'noretain-five');
    await expect(five.client.publishAsync('noretain/cfg', 'v1', { qos: 1, retain: true })).rejects.toThrow(/Not authorized/i);
    await expect(five.client.publishAsync('noretain/cfg', 'not retained', { qos: 1 })).resolves.toBeDefined();

    const three = await opened(identity, 'noretain-three', { protocolVersion: 4 });
    const closed = new Promise<void>((resolve) => three.client.once('close', () => resolve()));
    three.client.publish('noretain/cfg', 'v1', { qos: 1, retain: true });
    await closed;
    expect(await retainedOf('noretain/cfg')).toBe('ResourceNotFoundException');
  });

  it('keeps a device’s retained message where iot-data reads it, sends it on subscribe to the exact filter only, with RETAIN set, and deletes it on an empty payload', async () => {
    const publisher = await opened(await identityWith(retainer('cfg')), 'cfg-publisher', { protocolVersion: 4 });
    await publisher.client.publishAsync('cfg/dev1', '{"interval":30}', { qos: 1, retain: true });
    expect(await retainedOf('cfg/dev1')).toEqual({ payload: '{"interval":30}', qos: 1 });

    const reader = await identityWith(allowAll('cfg'));
    // Exact filter, MQTT 5 and 3.1.1: the retained message right after the SUBACK, RETAIN set.
    for (const [clientId, protocolVersion] of [['cfg-exact-5', 5], ['cfg-exact-3', 4]] as const) {
      const exact = await opened(reader, clientId, { protocolVersion });
      const got = inbox(exact.client);
      await exact.client.subscribeAsync('cfg/dev1', { qos: 1 });
      await until(() => got.length > 0);
      expect(got.map((packet) => [packet.topic, packet.payload.toString(), packet.retain])).toEqual([['cfg/dev1', '{"interval":30}', true]]);
    }
    // A wildcard filter gets later messages on the topic, not the retained one (developer guide, mqtt.md#mqtt-retain).
    const wildcard = await opened(reader, 'cfg-wildcard');
    const wild = inbox(wildcard.client);
    await wildcard.client.subscribeAsync(['cfg/#', 'cfg/+'], { qos: 1 });
    // Without iot:Receive on the topic, an exact subscription gets nothing either.
    const deaf = await opened(await identityWith([...allowAll('other'), { Effect: 'Allow', Action: 'iot:Subscribe', Resource: 'arn:aws:iot:*:*:topicfilter/cfg/*' }]), 'cfg-deaf');
    const unheard = inbox(deaf.client);
    await deaf.client.subscribeAsync('cfg/dev1', { qos: 1 });
    // A shared subscription gets no retained message on subscribe (MQTT 5.0 §4.8.2).
    const member = await opened(reader, 'cfg-member');
    const shared = inbox(member.client);
    await member.client.subscribeAsync('$share/g/cfg/dev1', { qos: 1 });
    await sleep(300);
    expect([wild, unheard, shared].map((received) => received.length)).toEqual([0, 0, 0]);

    // A later publish reaches the wildcard subscriber, with RETAIN clear ("Retained messages that are received by a subscribing client after subscription, don't").
    await publisher.client.publishAsync('cfg/dev1', '{"interval":60}', { qos: 1, retain: true });
    await until(() => wild.length > 0);
    expect(wild.map((packet) => [packet.payload.toString(), packet.retain])).toEqual([['{"interval":60}', false]]);
    expect(await retainedOf('cfg/dev1')).toEqual({ payload: '{"interval":60}', qos: 1 });

    // An empty retained payload deletes it.
    await publisher.client.publishAsync('cfg/dev1', '', { qos: 1, retain: true });
    expect(await retainedOf('cfg/dev1')).toBe('ResourceNotFoundException');
    const late = await opened(reader, 'cfg-late');
    const nothing = inbox(late.client);
    await late.client.subscribeAsync('cfg/dev1', { qos: 1 });
    await sleep(300);
    expect(nothing).toEqual([]);
  });

  it('sends what iot-data Publish retained to a device that subscribes to that topic', async () => {
    await data.send(new PublishCommand({ topic: 'fleetcfg/all', qos: 0, retain: true, payload: Buffer.from('{"mode":"eco"}') }));
    const device = await opened(await identityWith(allowAll('fleetcfg')), 'fleetcfg-device');
    const got = inbox(device.client);
    await device.client.subscribeAsync('fleetcfg/all', { qos: 1 });
    await until(() => got.length > 0);
    expect(got.map((packet) => [packet.payload.toString(), packet.retain, packet.qos])).toEqual([['{"mode":"eco"}', true, 0]]);
  });
});
