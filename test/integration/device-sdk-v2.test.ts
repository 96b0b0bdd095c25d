import { once } from 'node:events';
import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand, DescribeCertificateCommand, DescribeThingCommand } from '@aws-sdk/client-iot';
import { iotidentity, mqtt, mqtt5, mqtt_request_response } from 'aws-iot-device-sdk-v2';
import { createCsr, type KeyedCertificate } from '../../lib/pki';
import { DeviceSdk, started, withTimeout, type SdkIdentity } from '../support/device-sdk-v2';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * AWS's own device SDK against the local IoT Core, driven as AWS's samples drive it
 * (aws/aws-iot-device-sdk-js-v2 samples/node: mqtt/mqtt5_x509, the MQTT 3.1.1 pub_sub sample, and
 * service_clients/fleet_provisioning/basic and csr with `iotidentity.IotIdentityClientv2`), once with its
 * MQTT 3.1.1 connection (`mqtt.MqttClientConnection`) and once with its MQTT 5 client (`mqtt5.Mqtt5Client`):
 * JITR's refused first connect, publish/subscribe inside and outside the device policy, persistent sessions,
 * client-id takeover, and fleet provisioning by claim with both certificate APIs and a RegisterThing that the
 * pre-provisioning hook refuses. Then messages between the two versions, and the MQTT 5 features AWS IoT Core
 * supports as this client uses them (request/response properties, its own topic aliases, shared subscriptions).
 * Nobody here wrote this client: where the local IoT Core and AWS differ on the wire, these tests see it.
 */

let stack: LocalStack;
let sdk: DeviceSdk;

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  sdk = new DeviceSdk({ host: stack.endpoint!.host, port: stack.endpoint!.port, rootCaFile: stack.core.endpoints.rootCaFile! });
});

afterAll(async () => {
  await sdk?.close();
  await stack?.close();
});

/** The identity a JITR device presents: its certificate followed by the stack's CA, and its key. */
const jitrIdentity = (device: KeyedCertificate): SdkIdentity => ({ certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem });

/** An allow-listed device of the stack's CA whose first connect the handler has already answered (ACTIVE). */
async function activeDevice(deviceId: string): Promise<SdkIdentity> {
  const device = await stack.device(deviceId, { registry: 'allow' });
  expect(stack.core.firstConnect(stack.chain(device), stack.dataEndpoint)).toMatchObject({ accepted: false, registered: true });
  await stack.core.idle();
  expect((await stack.state(device)).status).toBe('ACTIVE');
  return jitrIdentity(device);
}

/** A 5-minute claim from the stack's HTTP API, as a technician's app gets one (provisioning by trusted user). */
async function vendClaim(): Promise<SdkIdentity & { templateName: string }> {
  const response = await fetch(`${stack.core.endpoints.http}/provisioning-claims`, {
    method: 'POST',
    headers: { authorization: await stack.core.issueToken('operator@example.com', { groups: ['technicians'] }) },
    body: '{}',
  });
  expect(response.status).toBe(201);
  const claim = (await response.json()) as { certificatePem: string; privateKey: string; templateName: string };
  return { certificatePem: claim.certificatePem, privateKeyPem: claim.privateKey, templateName: claim.templateName };
}

/** The sample's request-response options (service_clients/fleet_provisioning/basic). */
const IDENTITY_CLIENT_OPTIONS = { maxRequestResponseSubscriptions: 2, maxStreamingSubscriptions: 0, operationTimeoutInSeconds: 60 };

const lastLogOf = (clientId: string) => stack.core.mqtt!.log.filter((entry) => entry.clientId === clientId).at(-1);

/** The rejected-topic payload of AWS's fleet provisioning API, as the SDK hands it back (aws-iot-reference §3.1). */
async function expectRejected(request: Promise<unknown>, errorCode: string): Promise<void> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(mqtt_request_response.ServiceError);
  expect((error as mqtt_request_response.ServiceError).modeledError).toEqual({ statusCode: expect.any(Number), errorCode, errorMessage: expect.any(String) });
}

async function expectProvisioned(thingName: string, certificateId: string): Promise<void> {
  const { certificateDescription } = await stack.iot.send(new DescribeCertificateCommand({ certificateId }));
  expect(certificateDescription?.status).toBe('ACTIVE');
  expect((await stack.iot.send(new DescribeThingCommand({ thingName }))).thingTypeName).toBe(stack.deployed.thingTypeName);
  expect(await stack.registry.get(thingName)).toMatchObject({ certificateId, lastProvisioning: { outcome: 'allowed' } });
}


/**
 * A certificate (ACTIVE, made by CreateKeysAndCertificate) with a policy of its own: the given client ids may
 * connect, and publish, receive and subscribe under `sdk/<name>/…`, shared subscriptions of it included. For
 * clients that must hear each other, which the device policy forbids.
 */
async function sharedTopicIdentity(name: string, clientIds: string[]): Promise<SdkIdentity> {
  const arn = `arn:aws:iot:us-east-1:${stack.core.defaultAccount.accountId}`;
  const policyDocument = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: clientIds.map((id) => `${arn}:client/${id}`) },
      // A shared subscription is authorized as topicfilter/$share/<group>/… and its messages received as
      // topic/$share/<group>/…, as the sample policy of AWS's shared-subscription sample grants
      // (aws-iot-device-sdk-js-v2 samples/node/shared_subscription/README.md).
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: [`${arn}:topic/sdk/${name}/*`, `${arn}:topic/$share/*/sdk/${name}/*`] },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: [`${arn}:topicfilter/sdk/${name}/*`, `${arn}:topicfilter/$share/*/sdk/${name}/*`] },
    ],
  });
  await stack.iot.send(new CreatePolicyCommand({ policyName: `sdk-${name}`, policyDocument }));
  const keys = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await stack.iot.send(new AttachPolicyCommand({ policyName: `sdk-${name}`, target: keys.certificateArn }));
  return { certificatePem: keys.certificatePem!, privateKeyPem: keys.keyPair!.PrivateKey! };
}

describe('the MQTT 3.1.1 connection (AwsIotMqttConnectionConfigBuilder → mqtt.MqttClientConnection)', () => {
  it('JITR: the first connect of a new certificate of the stack’s CA is refused; once the handler activated it, the same connection gets in', async () => {
    const device = await stack.device('SDK3-JITR', { registry: 'allow' });
    const connection = sdk.mqtt311(jitrIdentity(device), 'SDK3-JITR');

    // AWS answers CONNACK 5 (not authorized, aws-iot-reference §9); aws-c-mqtt shuts the channel down with
    // AWS_ERROR_MQTT_PROTOCOL_ERROR on any non-zero return code (source/client_channel_handler.c,
    // s_packet_handler_connack), which is what connect() rejects with.
    await expect(connection.connect()).rejects.toMatch(/AWS_ERROR_MQTT_PROTOCOL_ERROR/);
    expect(lastLogOf('SDK3-JITR')).toMatchObject({ event: 'refused', detail: expect.stringMatching(/certificate-pending-activation/) });
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('ACTIVE');

    await expect(connection.connect()).resolves.toBe(false);
    await expect(connection.publish('device/SDK3-JITR/telemetry', JSON.stringify({ temperature: 21.5 }), mqtt.QoS.AtLeastOnce)).resolves.toMatchObject({ packet_id: expect.any(Number) });
    await sdk.disconnect(connection);
  });

  it('keeps a device that is not allow-listed out: refused, then REVOKED, then refused again', async () => {
    const device = await stack.device('SDK3-STRANGER');
    const connection = sdk.mqtt311(jitrIdentity(device), 'SDK3-STRANGER');
    await expect(connection.connect()).rejects.toMatch(/AWS_ERROR_MQTT_PROTOCOL_ERROR/);
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('REVOKED');
    // A certificate that is no longer PENDING_ACTIVATION gets no CONNACK: the connection is closed ("AWS closes the
    // socket without a CONNACK unless just-in-time registration applies", ministackorg/ministack#1755), which
    // aws-c-mqtt reports as the socket closing, not as a refusal code.
    await expect(connection.connect()).rejects.toMatch(/AWS_IO_SOCKET_CLOSED|AWS_ERROR_MQTT_UNEXPECTED_HANGUP/);
    expect(lastLogOf('SDK3-STRANGER')).toMatchObject({ event: 'refused', detail: expect.stringMatching(/revoked/i) });
  });

  it('publishes and receives on its own topic, as the pub/sub sample does (QoS 1, a JSON sequence)', async () => {
    const connection = sdk.mqtt311(await activeDevice('SDK3-PUBSUB'), 'SDK3-PUBSUB');
    await connection.connect();
    const topic = 'device/SDK3-PUBSUB/sample';
    const received: number[] = [];
    const all = new Promise<void>((resolve) => {
      void connection.subscribe(topic, mqtt.QoS.AtLeastOnce, (_topic, payload) => {
        received.push((JSON.parse(new TextDecoder('utf8').decode(payload)) as { sequence: number }).sequence);
        if (received.length === 3) resolve();
      });
    });
    for (const sequence of [1, 2, 3]) {
      await connection.publish(topic, JSON.stringify({ message: 'Hello world!', sequence }), mqtt.QoS.AtLeastOnce);
    }
    await withTimeout(all, 5_000, 'the three messages did not come back');
    expect(received).toEqual([1, 2, 3]);
    await sdk.disconnect(connection);
  });

  it('is disconnected for a subscription outside its policy (no SUBACK) and for a publish outside it', async () => {
    const connection = sdk.mqtt311(await activeDevice('SDK3-DENIED'), 'SDK3-DENIED');
    await connection.connect();
    await expect(connection.subscribe('device/SDK3-DENIED/commands', mqtt.QoS.AtLeastOnce)).resolves.toMatchObject({ qos: mqtt.QoS.AtLeastOnce });
    // AWS IoT drops a 3.1.1 connection whose SUBSCRIBE the policy does not allow: such subscriptions "fail and
    // cause the client to disconnect" (developer guide, pub-sub-policy.html; aws/aws-iot-device-sdk-js#191).
    // The SDK reports an interruption and never sees a SUBACK for it.
    const dropped = once(connection, 'interrupt');
    let subacked = false;
    void connection.subscribe('device/OTHER/commands', mqtt.QoS.AtLeastOnce).then(() => (subacked = true), () => {});
    await withTimeout(dropped, 5_000, 'the connection was not interrupted by the denied subscription');
    expect(subacked).toBe(false);
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'subscribe-denied' && entry.detail === 'SDK3-DENIED → device/OTHER/commands')).toBe(true);
    await sdk.disconnect(connection);

    // …and closes the connection on a publish the policy does not allow; the SDK reports an interruption.
    const again = sdk.mqtt311(await activeDevice('SDK3-DENIED-PUB'), 'SDK3-DENIED-PUB');
    await again.connect();
    const interrupted = once(again, 'interrupt');
    void again.publish('device/OTHER/telemetry', 'spoof', mqtt.QoS.AtLeastOnce).catch(() => {});
    await withTimeout(interrupted, 5_000, 'the connection was not interrupted');
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'publish-denied' && entry.detail.includes('device/OTHER/telemetry'))).toBe(true);
    await sdk.disconnect(again);
  });

  it('resumes a persistent session (clean session off, as the samples’ cli_args set it): the second CONNACK says session present', async () => {
    const identity = await activeDevice('SDK3-SESSION');
    const first = sdk.mqtt311(identity, 'SDK3-SESSION', { cleanSession: false });
    await expect(first.connect()).resolves.toBe(false);
    await first.subscribe('device/SDK3-SESSION/commands', mqtt.QoS.AtLeastOnce);
    await sdk.disconnect(first);

    const second = sdk.mqtt311(identity, 'SDK3-SESSION', { cleanSession: false });
    await expect(second.connect()).resolves.toBe(true);
    await sdk.disconnect(second);
    // A clean session discards it: AWS IoT answers session present = 0 (developer guide, "MQTT persistent sessions").
    const clean = sdk.mqtt311(identity, 'SDK3-SESSION', { cleanSession: true });
    await expect(clean.connect()).resolves.toBe(false);
    await sdk.disconnect(clean);
  });

  it('a second connection with the same client id takes over: the first one is interrupted', async () => {
    const identity = await activeDevice('SDK3-TAKEOVER');
    const first = sdk.mqtt311(identity, 'SDK3-TAKEOVER');
    await first.connect();
    const interrupted = once(first, 'interrupt');
    const second = sdk.mqtt311(identity, 'SDK3-TAKEOVER');
    await second.connect();
    await withTimeout(interrupted, 5_000, 'the first connection was not dropped');
    await sdk.disconnect(first);
    await sdk.disconnect(second);
  });

  describe('fleet provisioning by claim with IotIdentityClientv2.newFromMqtt311', () => {
    it('CreateKeysAndCertificate, then RegisterThing; the device connects with the certificate it got', async () => {
      await stack.registry.allow('SDK3-FLEET-KEYS', {}, new Date());
      const claim = await vendClaim();
      const connection = sdk.mqtt311(claim, 'claim-SDK3-FLEET-KEYS');
      await connection.connect();
      const identity = iotidentity.IotIdentityClientv2.newFromMqtt311(connection, IDENTITY_CLIENT_OPTIONS);

      const created = await identity.createKeysAndCertificate({});
      expect(created).toEqual({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), privateKey: expect.stringContaining('PRIVATE KEY'), certificateOwnershipToken: expect.any(String) });
      const registered = await identity.registerThing({ templateName: claim.templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDK3-FLEET-KEYS' } });
      expect(registered).toEqual({ thingName: 'SDK3-FLEET-KEYS', deviceConfiguration: expect.any(Object) });
      identity.close();
      await sdk.disconnect(connection);

      await expectProvisioned('SDK3-FLEET-KEYS', created.certificateId!);
      const device = sdk.mqtt311({ certificatePem: created.certificatePem!, privateKeyPem: created.privateKey! }, 'SDK3-FLEET-KEYS');
      await expect(device.connect()).resolves.toBe(false);
      await expect(device.publish('device/SDK3-FLEET-KEYS/telemetry', '{}', mqtt.QoS.AtLeastOnce)).resolves.toMatchObject({ packet_id: expect.any(Number) });
      await sdk.disconnect(device);
    });

    it('CreateCertificateFromCsr (the key never leaves the device), then RegisterThing', async () => {
      await stack.registry.allow('SDK3-FLEET-CSR', {}, new Date());
      const claim = await vendClaim();
      const connection = sdk.mqtt311(claim, 'claim-SDK3-FLEET-CSR');
      await connection.connect();
      const identity = iotidentity.IotIdentityClientv2.newFromMqtt311(connection, IDENTITY_CLIENT_OPTIONS);
      const csr = await createCsr({ commonName: 'SDK3-FLEET-CSR' });

      const created = await identity.createCertificateFromCsr({ certificateSigningRequest: csr.csrPem });
      expect(created).toEqual({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), certificateOwnershipToken: expect.any(String) });
      const registered = await identity.registerThing({ templateName: claim.templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDK3-FLEET-CSR' } });
      expect(registered).toMatchObject({ thingName: 'SDK3-FLEET-CSR' });
      identity.close();
      await sdk.disconnect(connection);

      await expectProvisioned('SDK3-FLEET-CSR', created.certificateId!);
      const device = sdk.mqtt311({ certificatePem: created.certificatePem!, privateKeyPem: csr.privateKeyPem }, 'SDK3-FLEET-CSR');
      await expect(device.connect()).resolves.toBe(false);
      await sdk.disconnect(device);
    });

    it('a RegisterThing the hook refuses reaches the SDK as AWS’s error payload {statusCode, errorCode, errorMessage}', async () => {
      const claim = await vendClaim();
      const connection = sdk.mqtt311(claim, 'claim-SDK3-FLEET-NO');
      await connection.connect();
      const identity = iotidentity.IotIdentityClientv2.newFromMqtt311(connection, IDENTITY_CLIENT_OPTIONS);
      const created = await identity.createKeysAndCertificate({});

      await expectRejected(identity.registerThing({ templateName: claim.templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDK3-FLEET-NO' } }), 'AccessDenied');
      expect((await stack.registry.get('SDK3-FLEET-NO'))?.lastProvisioning).toMatchObject({ outcome: 'denied' });
      await expectRejected(identity.registerThing({ templateName: claim.templateName, certificateOwnershipToken: 'not-a-token', parameters: { SerialNumber: 'SDK3-FLEET-NO' } }), 'InvalidCertificateOwnershipToken');
      identity.close();
      await sdk.disconnect(connection);
    });
  });
});

describe('the MQTT 5 client (AwsIotMqtt5ClientConfigBuilder → mqtt5.Mqtt5Client)', () => {
  it('JITR: the first connect is answered CONNACK 135 (not authorized); the client’s own retry gets in once the handler activated it', async () => {
    const device = await stack.device('SDK5-JITR', { registry: 'allow' });
    const client = sdk.mqtt5(jitrIdentity(device), 'SDK5-JITR', { reconnectDelayMs: { min: 200, max: 1_000 } });
    const failure = once(client, 'connectionFailure') as Promise<[mqtt5.ConnectionFailureEvent]>;
    const success = once(client, 'connectionSuccess') as Promise<[mqtt5.ConnectionSuccessEvent]>;
    client.start();

    // AWS answers an MQTT 5 client's CONNECT with a reason code (aws-iot-reference §9; developer guide
    // "MQTT reason codes": 135 Not authorized, on CONNACK).
    const [refused] = await withTimeout(failure, 10_000, 'the first connect was not refused');
    expect(refused.connack?.reasonCode).toBe(mqtt5.ConnectReasonCode.NotAuthorized);
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('ACTIVE');
    const [accepted] = await withTimeout(success, 15_000, 'the client did not get in after activation');
    expect(accepted.connack.reasonCode).toBe(mqtt5.ConnectReasonCode.Success);
    await expect(client.publish({ topicName: 'device/SDK5-JITR/telemetry', payload: '{}', qos: mqtt5.QoS.AtLeastOnce })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.Success });
    await sdk.stop(client);
  });

  it('publishes and receives on its own topic, as the mqtt5 pub/sub sample does (QoS 0 with a user property, QoS 1)', async () => {
    const client = sdk.mqtt5(await activeDevice('SDK5-PUBSUB'), 'SDK5-PUBSUB');
    await started(client);
    const received: mqtt5.PublishPacket[] = [];
    const both = new Promise<void>((resolve) =>
      client.on('messageReceived', ({ message }) => {
        received.push(message);
        if (received.length === 2) resolve();
      }),
    );
    const suback = await client.subscribe({
      subscriptions: [
        { qos: mqtt5.QoS.AtLeastOnce, topicFilter: 'device/SDK5-PUBSUB/qos1' },
        { qos: mqtt5.QoS.AtMostOnce, topicFilter: 'device/SDK5-PUBSUB/qos0' },
      ],
    });
    expect(suback.reasonCodes).toEqual([mqtt5.SubackReasonCode.GrantedQoS1, mqtt5.SubackReasonCode.GrantedQoS0]);

    await client.publish({ qos: mqtt5.QoS.AtMostOnce, topicName: 'device/SDK5-PUBSUB/qos0', payload: JSON.stringify('This is a qos 0 payload'), userProperties: [{ name: 'test', value: 'userproperty' }] });
    await expect(client.publish({ qos: mqtt5.QoS.AtLeastOnce, topicName: 'device/SDK5-PUBSUB/qos1', payload: JSON.stringify('This is a qos 1 payload') })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.Success });
    await withTimeout(both, 5_000, 'the two messages did not come back');

    const byTopic = Object.fromEntries(received.map((m) => [m.topicName, m]));
    expect(Buffer.from(byTopic['device/SDK5-PUBSUB/qos0']!.payload as ArrayBuffer).toString()).toBe('"This is a qos 0 payload"');
    expect(byTopic['device/SDK5-PUBSUB/qos0']!.userProperties).toEqual([{ name: 'test', value: 'userproperty' }]);
    expect(byTopic['device/SDK5-PUBSUB/qos1']!.qos).toBe(mqtt5.QoS.AtLeastOnce);
    await expect(client.unsubscribe({ topicFilters: ['device/SDK5-PUBSUB/qos1'] })).resolves.toMatchObject({ reasonCodes: [mqtt5.UnsubackReasonCode.Success] });
    await sdk.stop(client);
  });

  it('is refused a subscription and a publish outside its policy with reason code 135 (not authorized)', async () => {
    const client = sdk.mqtt5(await activeDevice('SDK5-DENIED'), 'SDK5-DENIED');
    await started(client);
    // Developer guide, "MQTT reason codes": 135 Not authorized, on SUBACK and PUBACK.
    await expect(client.subscribe({ subscriptions: [{ qos: mqtt5.QoS.AtLeastOnce, topicFilter: 'device/OTHER/commands' }] })).resolves.toMatchObject({ reasonCodes: [mqtt5.SubackReasonCode.NotAuthorized] });
    await expect(client.publish({ qos: mqtt5.QoS.AtLeastOnce, topicName: 'device/OTHER/telemetry', payload: 'spoof' })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.NotAuthorized });
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'publish-denied' && entry.detail.includes('device/OTHER/telemetry'))).toBe(true);
    await sdk.stop(client);
  });

  it('rejoins a persistent session (session expiry set, RejoinAlways): the second CONNACK says session present', async () => {
    const identity = await activeDevice('SDK5-SESSION');
    const first = sdk.mqtt5(identity, 'SDK5-SESSION', { sessionExpirySeconds: 3600 });
    expect((await started(first)).connack.sessionPresent).toBe(false);
    await first.subscribe({ subscriptions: [{ qos: mqtt5.QoS.AtLeastOnce, topicFilter: 'device/SDK5-SESSION/commands' }] });
    await sdk.stop(first);

    const second = sdk.mqtt5(identity, 'SDK5-SESSION', { sessionExpirySeconds: 3600 });
    expect((await started(second)).connack.sessionPresent).toBe(true);
    await sdk.stop(second);
  });

  it('a second client with the same client id takes over: the first is disconnected with reason code 142 (session taken over)', async () => {
    const identity = await activeDevice('SDK5-TAKEOVER');
    const first = sdk.mqtt5(identity, 'SDK5-TAKEOVER');
    await started(first);
    const disconnected = once(first, 'disconnection') as Promise<[mqtt5.DisconnectionEvent]>;
    // The first client would reconnect and take the session back: stop it as soon as it is dropped.
    first.once('disconnection', () => void sdk.stop(first));
    await started(sdk.mqtt5(identity, 'SDK5-TAKEOVER'));
    const [event] = await withTimeout(disconnected, 5_000, 'the first client was not disconnected');
    // Developer guide, "MQTT reason codes": 142 Session taken over, on DISCONNECT.
    expect(event.disconnect?.reasonCode).toBe(mqtt5.DisconnectReasonCode.SessionTakenOver);
  });

  describe('fleet provisioning by claim with IotIdentityClientv2.newFromMqtt5 (samples/node/service_clients/fleet_provisioning)', () => {
    it('CreateKeysAndCertificate, then RegisterThing; the device connects with the certificate it got', async () => {
      await stack.registry.allow('SDK5-FLEET-KEYS', {}, new Date());
      const claim = await vendClaim();
      const protocolClient = sdk.mqtt5(claim, 'claim-SDK5-FLEET-KEYS');
      const identity = iotidentity.IotIdentityClientv2.newFromMqtt5(protocolClient, IDENTITY_CLIENT_OPTIONS);
      await started(protocolClient);

      const created = await identity.createKeysAndCertificate({});
      expect(created).toEqual({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), privateKey: expect.stringContaining('PRIVATE KEY'), certificateOwnershipToken: expect.any(String) });
      const registered = await identity.registerThing({ templateName: claim.templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDK5-FLEET-KEYS' } });
      expect(registered).toEqual({ thingName: 'SDK5-FLEET-KEYS', deviceConfiguration: expect.any(Object) });
      identity.close();
      await sdk.stop(protocolClient);

      await expectProvisioned('SDK5-FLEET-KEYS', created.certificateId!);
      const device = sdk.mqtt5({ certificatePem: created.certificatePem!, privateKeyPem: created.privateKey! }, 'SDK5-FLEET-KEYS');
      await started(device);
      await expect(device.publish({ topicName: 'device/SDK5-FLEET-KEYS/telemetry', payload: '{}', qos: mqtt5.QoS.AtLeastOnce })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.Success });
      await sdk.stop(device);
    });

    it('CreateCertificateFromCsr, then RegisterThing', async () => {
      await stack.registry.allow('SDK5-FLEET-CSR', {}, new Date());
      const claim = await vendClaim();
      const protocolClient = sdk.mqtt5(claim, 'claim-SDK5-FLEET-CSR');
      const identity = iotidentity.IotIdentityClientv2.newFromMqtt5(protocolClient, IDENTITY_CLIENT_OPTIONS);
      await started(protocolClient);
      const csr = await createCsr({ commonName: 'SDK5-FLEET-CSR' });

      const created = await identity.createCertificateFromCsr({ certificateSigningRequest: csr.csrPem });
      expect(created).toEqual({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), certificateOwnershipToken: expect.any(String) });
      const registered = await identity.registerThing({ templateName: claim.templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDK5-FLEET-CSR' } });
      expect(registered).toMatchObject({ thingName: 'SDK5-FLEET-CSR' });
      identity.close();
      await sdk.stop(protocolClient);

      await expectProvisioned('SDK5-FLEET-CSR', created.certificateId!);
      await started(sdk.mqtt5({ certificatePem: created.certificatePem!, privateKeyPem: csr.privateKeyPem }, 'SDK5-FLEET-CSR'));
    });

    it('a RegisterThing the hook refuses reaches the SDK as AWS’s error payload {statusCode, errorCode, errorMessage}', async () => {
      const claim = await vendClaim();
      const protocolClient = sdk.mqtt5(claim, 'claim-SDK5-FLEET-NO');
      const identity = iotidentity.IotIdentityClientv2.newFromMqtt5(protocolClient, IDENTITY_CLIENT_OPTIONS);
      await started(protocolClient);
      const created = await identity.createKeysAndCertificate({});

      await expectRejected(identity.registerThing({ templateName: claim.templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDK5-FLEET-NO' } }), 'AccessDenied');
      expect((await stack.registry.get('SDK5-FLEET-NO'))?.lastProvisioning).toMatchObject({ outcome: 'denied' });
      identity.close();
      await sdk.stop(protocolClient);
    });
  });
});

describe('between MQTT versions', () => {
  it('a message published over MQTT 3.1.1 reaches an MQTT 5 subscriber, and one published over MQTT 5 reaches a 3.1.1 subscriber', async () => {
    // Developer guide, "MQTT" (mqtt.html): "AWS IoT Core supports communication between MQTT versions (MQTT 3
    // and MQTT 5)" — an MQTT 3 publisher reaches an MQTT 5 subscriber, and vice versa.
    const identity = await sharedTopicIdentity('cross-version', ['sdk-cross-3', 'sdk-cross-5']);
    const v3 = sdk.mqtt311(identity, 'sdk-cross-3');
    await v3.connect();
    const v5 = sdk.mqtt5(identity, 'sdk-cross-5');
    await started(v5);
    const at5 = new Promise<mqtt5.PublishPacket>((resolve) => v5.on('messageReceived', ({ message }) => resolve(message)));
    const at3 = new Promise<{ topic: string; payload: string }>((resolve) => {
      void v3.subscribe('sdk/cross-version/to3', mqtt.QoS.AtLeastOnce, (topic, payload) => resolve({ topic, payload: Buffer.from(payload).toString() }));
    });
    await v5.subscribe({ subscriptions: [{ qos: mqtt5.QoS.AtLeastOnce, topicFilter: 'sdk/cross-version/to5' }] });

    await v3.publish('sdk/cross-version/to5', 'from 3.1.1', mqtt.QoS.AtLeastOnce);
    const received5 = await withTimeout(at5, 5_000, 'the MQTT 5 subscriber got nothing');
    expect({ topic: received5.topicName, payload: Buffer.from(received5.payload as ArrayBuffer).toString() }).toEqual({ topic: 'sdk/cross-version/to5', payload: 'from 3.1.1' });

    await v5.publish({ qos: mqtt5.QoS.AtLeastOnce, topicName: 'sdk/cross-version/to3', payload: 'from 5', userProperties: [{ name: 'dropped', value: 'for 3.1.1' }] });
    await expect(withTimeout(at3, 5_000, 'the MQTT 3.1.1 subscriber got nothing')).resolves.toEqual({ topic: 'sdk/cross-version/to3', payload: 'from 5' });
    await sdk.stop(v5);
    await sdk.disconnect(v3);
  });
});

describe('MQTT 5 features AWS IoT Core supports, through the SDK', () => {
  const text = (payload: unknown) => Buffer.from(payload as ArrayBuffer).toString();

  it('passes the request/response properties through: response topic, correlation data, content type, user properties', async () => {
    // Developer guide, "MQTT 5 properties" (mqtt.html): the message properties AWS IoT Core passes on.
    const identity = await sharedTopicIdentity('properties', ['sdk-requester', 'sdk-responder']);
    const responder = sdk.mqtt5(identity, 'sdk-responder');
    const requester = sdk.mqtt5(identity, 'sdk-requester');
    await started(responder);
    await started(requester);
    // The responder answers on the request's response topic with its correlation data, as MQTT 5 request/response goes.
    responder.on('messageReceived', ({ message }) => {
      void responder.publish({ qos: mqtt5.QoS.AtLeastOnce, topicName: message.responseTopic!, payload: `echo ${text(message.payload)}`, correlationData: message.correlationData! });
    });
    await responder.subscribe({ subscriptions: [{ qos: mqtt5.QoS.AtLeastOnce, topicFilter: 'sdk/properties/requests' }] });
    const requests = new Promise<mqtt5.PublishPacket>((resolve) => responder.once('messageReceived', ({ message }) => resolve(message)));
    const response = new Promise<mqtt5.PublishPacket>((resolve) => requester.on('messageReceived', ({ message }) => resolve(message)));
    await requester.subscribe({ subscriptions: [{ qos: mqtt5.QoS.AtLeastOnce, topicFilter: 'sdk/properties/responses' }] });

    await requester.publish({
      qos: mqtt5.QoS.AtLeastOnce,
      topicName: 'sdk/properties/requests',
      payload: 'ping',
      responseTopic: 'sdk/properties/responses',
      correlationData: Buffer.from('request-1'),
      contentType: 'text/plain',
      userProperties: [{ name: 'trace', value: 'abc' }],
    });
    const request = await withTimeout(requests, 5_000, 'the responder got no request');
    expect({ topic: request.topicName, responseTopic: request.responseTopic, correlationData: text(request.correlationData), contentType: request.contentType, userProperties: request.userProperties }).toEqual({
      topic: 'sdk/properties/requests',
      responseTopic: 'sdk/properties/responses',
      correlationData: 'request-1',
      contentType: 'text/plain',
      userProperties: [{ name: 'trace', value: 'abc' }],
    });
    const answer = await withTimeout(response, 5_000, 'the requester got no response');
    expect({ payload: text(answer.payload), correlationData: text(answer.correlationData) }).toEqual({ payload: 'echo ping', correlationData: 'request-1' });
    await sdk.stop(requester);
    await sdk.stop(responder);
  });

  it('accepts the SDK’s own outbound topic aliases (LRU): every message arrives under its full topic', async () => {
    const identity = await sharedTopicIdentity('aliases', ['sdk-aliaser']);
    const client = sdk.mqtt5(identity, 'sdk-aliaser', { topicAliasing: { outboundBehavior: mqtt5.OutboundTopicAliasBehaviorType.LRU, outboundCacheMaxSize: 8 } });
    const connected = await started(client);
    // The SDK aliases only when the CONNACK offers aliases (Topic Alias Maximum > 0).
    expect(connected.settings.topicAliasMaximumToServer).toBeGreaterThan(0);
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('messageReceived', ({ message }) => {
        received.push(`${message.topicName} ${text(message.payload)}`);
        if (received.length === 6) resolve();
      }),
    );
    await client.subscribe({ subscriptions: [{ qos: mqtt5.QoS.AtLeastOnce, topicFilter: 'sdk/aliases/+' }] });
    const sent = ['a', 'b', 'a', 'b', 'a', 'b'].map((topic, i) => `sdk/aliases/${topic} ${i}`);
    for (const line of sent) {
      const [topicName, payload] = line.split(' ');
      await expect(client.publish({ qos: mqtt5.QoS.AtLeastOnce, topicName: topicName!, payload: payload! })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.Success });
    }
    await withTimeout(all, 5_000, 'not every aliased message came back');
    expect(received.sort()).toEqual([...sent].sort());
    await sdk.stop(client);
  });

  it('gives each message of a shared subscription to one member of the group ($share/<group>/<filter>)', async () => {
    // Developer guide, "Shared Subscriptions" (mqtt.html): a message on the topic goes to one subscriber of the group.
    const identity = await sharedTopicIdentity('shared', ['sdk-worker-1', 'sdk-worker-2', 'sdk-dispatcher']);
    const workers = [sdk.mqtt5(identity, 'sdk-worker-1'), sdk.mqtt5(identity, 'sdk-worker-2')];
    const dispatcher = sdk.mqtt5(identity, 'sdk-dispatcher');
    const deliveries: string[] = [];
    for (const worker of workers) {
      await started(worker);
      worker.on('messageReceived', ({ message }) => deliveries.push(text(message.payload)));
      await expect(worker.subscribe({ subscriptions: [{ qos: mqtt5.QoS.AtLeastOnce, topicFilter: '$share/workers/sdk/shared/jobs' }] })).resolves.toMatchObject({ reasonCodes: [mqtt5.SubackReasonCode.GrantedQoS1] });
    }
    await started(dispatcher);
    const jobs = Array.from({ length: 6 }, (_, i) => `job-${i}`);
    for (const job of jobs) await dispatcher.publish({ qos: mqtt5.QoS.AtLeastOnce, topicName: 'sdk/shared/jobs', payload: job });
    const deadline = Date.now() + 5_000;
    while (deliveries.length < jobs.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Each job exactly once across the group (not once per member).
    expect(deliveries.sort()).toEqual(jobs);
    for (const client of [...workers, dispatcher]) await sdk.stop(client);
  });
});
