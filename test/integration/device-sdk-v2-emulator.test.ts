import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CreateProvisioningClaimCommand, DescribeCertificateCommand, DescribeThingCommand, IoTClient, ListProvisioningTemplatesCommand } from '@aws-sdk/client-iot';
import { iotidentity, mqtt, mqtt5, mqtt_request_response } from 'aws-iot-device-sdk-v2';
import { createCa, createCsr, deviceChain, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { DeviceSdk, started, withTimeout, type SdkIdentity } from '../support/device-sdk-v2';
import { startEmulatorProcess } from '../support/emulator-process';

/**
 * The core of device-sdk-v2.test.ts against `npm run emulator` — the separate process users run — instead of the
 * in-process stack harness: AWS's device SDK (aws-iot-device-sdk-v2 on aws-crt), the CLI and the AWS SDK v3 reach
 * it only through its endpoints file. The CA is registered with `iot-provisioner ca register --mode sni-only
 * --local` (ACTIVE, auto-registration on) and the devices allowed with `devices allow --local`; then, with the
 * MQTT 3.1.1 connection and the MQTT 5 client: JITR's refused first connect and the accepted one after the handler
 * activated the certificate, with a publish inside the device policy; and fleet provisioning by claim with
 * IotIdentityClientv2 on MQTT 5, the claim made by CreateProvisioningClaim on the emulator's control plane.
 */

const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);

let dir: string;
let emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;
let iot: IoTClient;
let sdk: DeviceSdk;
let ca: KeyedCertificate;

/** `npx iot-provisioner … --local --endpoints-file <the emulator's>`, as an operator runs it (async: never blocks jest). */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [join(ROOT, 'bin/iot-provisioner.cjs'), ...args, '--local', '--endpoints-file', emulator.endpointsFile], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir },
    timeout: 30_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

const ALLOWED = ['SDKE3-JITR', 'SDKE5-JITR', 'SDKE5-FLEET-KEYS', 'SDKE5-FLEET-CSR'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'device-sdk-v2-emulator-'));
  emulator = await startEmulatorProcess(dir);
  const { endpoints } = emulator;
  // The emulator takes a 12-digit access key as the operator of that account.
  iot = new IoTClient({ endpoint: endpoints.iot, region: endpoints.region, credentials: { accessKeyId: endpoints.accountId, secretAccessKey: 'local' } });
  sdk = new DeviceSdk({ host: endpoints.mqtt.host, port: endpoints.mqtt.port, rootCaFile: endpoints.rootCaFile });

  ca = await createCa({ commonName: 'SDK emulator CA' });
  mkdirSync(join(dir, 'ca'));
  writeFileSync(join(dir, 'ca', 'rootCA.pem'), ca.certificatePem);
  writeFileSync(join(dir, 'ca', 'rootCA.key'), ca.privateKeyPem, { mode: 0o600 });
  const registered = await cli('ca', 'register', '--mode', 'sni-only', '--ca-dir', join(dir, 'ca'));
  expect(registered).toMatchObject({ code: 0, stdout: expect.stringMatching(/auto-registration +ENABLE/) });
  const allowed = await Promise.all(ALLOWED.map((deviceId) => cli('devices', 'allow', deviceId)));
  expect(allowed.map(({ code }) => code)).toEqual(ALLOWED.map(() => 0));
}, 60_000);

afterAll(async () => {
  await sdk?.close();
  iot?.destroy();
  await emulator?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A new certificate of the registered CA for `deviceId`, presented as JITR wants it: followed by the CA. */
async function jitrDevice(deviceId: string): Promise<{ identity: SdkIdentity; certificateId: string }> {
  const device = await issueCertificate(ca, { subject: { serialNumber: deviceId } });
  return { identity: { certificatePem: deviceChain(device, ca), privateKeyPem: device.privateKeyPem }, certificateId: device.certificateId };
}

const statusOf = async (certificateId: string) => (await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status;

/** Waits until the JITR handler (a Lambda of the emulator's process) has settled the certificate. */
async function settled(certificateId: string): Promise<string | undefined> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await statusOf(certificateId).catch(() => undefined);
    if ((status && status !== 'PENDING_ACTIVATION') || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}


describe('JITR with the SDK against npm run emulator', () => {
  it('MQTT 3.1.1: the first connect is refused; once the handler activated the certificate the same connection gets in and publishes', async () => {
    const { identity, certificateId } = await jitrDevice('SDKE3-JITR');
    const connection = sdk.mqtt311(identity, 'SDKE3-JITR');
    // CONNACK 5 (not authorized), which aws-c-mqtt reports as a protocol error (see device-sdk-v2.test.ts).
    await expect(connection.connect()).rejects.toMatch(/AWS_ERROR_MQTT_PROTOCOL_ERROR/);
    expect(await settled(certificateId)).toBe('ACTIVE');

    await expect(connection.connect()).resolves.toBe(false);
    await expect(connection.publish('device/SDKE3-JITR/telemetry', JSON.stringify({ temperature: 21.5 }), mqtt.QoS.AtLeastOnce)).resolves.toMatchObject({ packet_id: expect.any(Number) });
    await sdk.disconnect(connection);
  });

  it('MQTT 5: the first connect is answered CONNACK 135; the client’s own retry gets in after activation and publishes', async () => {
    const { identity, certificateId } = await jitrDevice('SDKE5-JITR');
    const client = sdk.mqtt5(identity, 'SDKE5-JITR', { reconnectDelayMs: { min: 200, max: 1_000 } });
    const failure = once(client, 'connectionFailure') as Promise<[mqtt5.ConnectionFailureEvent]>;
    const success = once(client, 'connectionSuccess') as Promise<[mqtt5.ConnectionSuccessEvent]>;
    client.start();

    const [refused] = await withTimeout(failure, 10_000, 'the first connect was not refused');
    expect(refused.connack?.reasonCode).toBe(mqtt5.ConnectReasonCode.NotAuthorized);
    expect(await settled(certificateId)).toBe('ACTIVE');
    const [accepted] = await withTimeout(success, 15_000, 'the client did not get in after activation');
    expect(accepted.connack.reasonCode).toBe(mqtt5.ConnectReasonCode.Success);
    await expect(client.publish({ topicName: 'device/SDKE5-JITR/telemetry', payload: '{}', qos: mqtt5.QoS.AtLeastOnce })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.Success });
    // Outside the device policy: PUBACK 135 (developer guide, "MQTT reason codes").
    await expect(client.publish({ topicName: 'device/OTHER/telemetry', payload: '{}', qos: mqtt5.QoS.AtLeastOnce })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.NotAuthorized });
    await sdk.stop(client);
  });

  it('a device not allowed in the registry is refused and its certificate REVOKED', async () => {
    const { identity, certificateId } = await jitrDevice('SDKE3-STRANGER');
    const connection = sdk.mqtt311(identity, 'SDKE3-STRANGER');
    await expect(connection.connect()).rejects.toMatch(/AWS_ERROR_MQTT_PROTOCOL_ERROR/);
    expect(await settled(certificateId)).toBe('REVOKED');
    await expect(connection.connect()).rejects.toMatch(/AWS_IO_SOCKET_CLOSED|AWS_ERROR_MQTT_UNEXPECTED_HANGUP/);
  });
});

describe('fleet provisioning by claim with IotIdentityClientv2.newFromMqtt5 against npm run emulator', () => {
  /** The sample's request-response options (service_clients/fleet_provisioning/basic). */
  const IDENTITY_CLIENT_OPTIONS = { maxRequestResponseSubscriptions: 2, maxStreamingSubscriptions: 0, operationTimeoutInSeconds: 60 };
  let templateName: string;

  beforeAll(async () => {
    // The stack deploys one fleet template (resources: AWS::IoT::ProvisioningTemplate).
    const { templates } = await iot.send(new ListProvisioningTemplatesCommand({}));
    expect(templates).toHaveLength(1);
    templateName = templates![0]!.templateName!;
  });

  /** A claim certificate from the control plane's CreateProvisioningClaim, connected over MQTT 5 with the identity client on it. */
  async function claimSession(clientId: string): Promise<{ identity: iotidentity.IotIdentityClientv2; close: () => Promise<void> }> {
    const claim = await iot.send(new CreateProvisioningClaimCommand({ templateName }));
    const client = sdk.mqtt5({ certificatePem: claim.certificatePem!, privateKeyPem: claim.keyPair!.PrivateKey! }, clientId);
    const identity = iotidentity.IotIdentityClientv2.newFromMqtt5(client, IDENTITY_CLIENT_OPTIONS);
    await started(client);
    return {
      identity,
      close: async () => {
        identity.close();
        await sdk.stop(client);
      },
    };
  }

  async function expectProvisioned(thingName: string, certificateId: string): Promise<void> {
    expect(await statusOf(certificateId)).toBe('ACTIVE');
    expect((await iot.send(new DescribeThingCommand({ thingName }))).thingName).toBe(thingName);
  }

  it('CreateKeysAndCertificate, then RegisterThing for an allowed serial; the device connects with what it got and publishes', async () => {
    const session = await claimSession('claim-SDKE5-FLEET-KEYS');
    const created = await session.identity.createKeysAndCertificate({});
    expect(created).toEqual({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), privateKey: expect.stringContaining('PRIVATE KEY'), certificateOwnershipToken: expect.any(String) });
    const registered = await session.identity.registerThing({ templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDKE5-FLEET-KEYS' } });
    expect(registered).toEqual({ thingName: 'SDKE5-FLEET-KEYS', deviceConfiguration: expect.any(Object) });
    await session.close();

    await expectProvisioned('SDKE5-FLEET-KEYS', created.certificateId!);
    const device = sdk.mqtt5({ certificatePem: created.certificatePem!, privateKeyPem: created.privateKey! }, 'SDKE5-FLEET-KEYS');
    await started(device);
    await expect(device.publish({ topicName: 'device/SDKE5-FLEET-KEYS/telemetry', payload: '{}', qos: mqtt5.QoS.AtLeastOnce })).resolves.toMatchObject({ reasonCode: mqtt5.PubackReasonCode.Success });
    await sdk.stop(device);
  });

  it('CreateCertificateFromCsr, then RegisterThing', async () => {
    const session = await claimSession('claim-SDKE5-FLEET-CSR');
    const csr = await createCsr({ commonName: 'SDKE5-FLEET-CSR' });
    const created = await session.identity.createCertificateFromCsr({ certificateSigningRequest: csr.csrPem });
    expect(created).toEqual({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), certificateOwnershipToken: expect.any(String) });
    const registered = await session.identity.registerThing({ templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDKE5-FLEET-CSR' } });
    expect(registered).toMatchObject({ thingName: 'SDKE5-FLEET-CSR' });
    await session.close();

    await expectProvisioned('SDKE5-FLEET-CSR', created.certificateId!);
    const device = sdk.mqtt5({ certificatePem: created.certificatePem!, privateKeyPem: csr.privateKeyPem }, 'SDKE5-FLEET-CSR');
    await started(device);
    await sdk.stop(device);
  });

  it('a RegisterThing for a serial not allowed reaches the SDK as AWS’s error payload {statusCode, errorCode, errorMessage}', async () => {
    const session = await claimSession('claim-SDKE5-FLEET-NO');
    const created = await session.identity.createKeysAndCertificate({});
    const error = await session.identity.registerThing({ templateName, certificateOwnershipToken: created.certificateOwnershipToken!, parameters: { SerialNumber: 'SDKE5-FLEET-NO' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await session.close();
    // The rejected topic's payload (aws-iot-reference §3.1), as the SDK hands it back.
    expect(error).toBeInstanceOf(mqtt_request_response.ServiceError);
    expect((error as mqtt_request_response.ServiceError).modeledError).toEqual({ statusCode: expect.any(Number), errorCode: 'AccessDenied', errorMessage: expect.any(String) });
    await expect(iot.send(new DescribeThingCommand({ thingName: 'SDKE5-FLEET-NO' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // The hook's decision is in the registry, as the operator's CLI shows it.
    const shown = await cli('devices', 'show', 'SDKE5-FLEET-NO', '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ deviceId: 'SDKE5-FLEET-NO', lastProvisioning: { outcome: 'denied', reason: 'device-not-allowlisted' } });
  });
});
