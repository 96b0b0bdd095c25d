import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { IoTClient, RegisterCACertificateCommand } from '@aws-sdk/client-iot';
import mqtt, { type IConnackPacket } from 'mqtt';
import { createCa, deviceChain, issueCertificate } from '../../lib/pki';
import { startEmulatorProcess, type EmulatorEndpoints } from '../support/emulator-process';
import { toolAvailable } from '../support/tools';

/**
 * The seeds' own commands against `npm run emulator` (the process): seed 004's mosquitto_rr steps with a
 * claim from the HTTP API, and seed 001's mosquitto_pub first connect that fails, then succeeds. Runs when
 * Debian's mosquitto-clients are installed; otherwise the suite says so and skips.
 */

const run = promisify(execFile);
/** How long the JITR handler may take to activate a certificate before the test gives up. */
const ACTIVATION_BUDGET_MS = 60_000;
const ROOT = resolve(__dirname, '../..');
// mosquitto clients print usage and exit 1 on --help: available all the same.
const available = toolAvailable('mosquitto_rr', ['--help']);
if (!available) console.warn('mosquitto.test: mosquitto-clients are not installed (apt-get install mosquitto-clients); suite skipped');

(available ? describe : describe.skip)('mosquitto clients against npm run emulator', () => {
  let emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;
  let dir: string;
  let endpoints: EmulatorEndpoints;
  const cli = (...args: string[]) =>
    run(process.execPath, [resolve(ROOT, 'bin/iot-provisioner.cjs'), ...args, '--endpoints-file', emulator.endpointsFile], { env: { PATH: process.env.PATH, HOME: dir } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
    emulator = await startEmulatorProcess(dir);
    endpoints = emulator.endpoints;
  }, 90_000);

  afterAll(async () => {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('provisions a device with seed 004’s mosquitto_rr steps and a claim from the HTTP API', async () => {
    const { stdout: token } = await cli('local', 'token', 'operator@example.com', '--group', 'technicians');
    await cli('devices', 'allow', 'sampleSerialNumber', '--local');
    const response = await fetch(`${endpoints.http}/provisioning-claims`, { method: 'POST', headers: { authorization: token.trim() }, body: '{}' });
    expect(response.status).toBe(201);
    const claim = (await response.json()) as { certificatePem: string; privateKey: string; templateName: string };
    writeFileSync(join(dir, 'claimCert.pem'), claim.certificatePem);
    writeFileSync(join(dir, 'claimPrivateKey.pem'), claim.privateKey);
    const rr = (topic: string, message: string) =>
      run('mosquitto_rr', [
        '--cert', join(dir, 'claimCert.pem'), '--key', join(dir, 'claimPrivateKey.pem'), '--cafile', endpoints.rootCaFile,
        '-h', 'localhost', '-p', String(endpoints.mqtt.port),
        '-t', topic, '-m', message, '-e', `${topic}/accepted`,
        '-i', 'sample-client-id-1', '--protocol-version', 'mqttv311', '-q', '1', '-W', '15',
      ]);

    const created = JSON.parse((await rr('$aws/certificates/create/json', '{}')).stdout) as Record<string, string>;
    expect(created).toMatchObject({ certificateId: expect.stringMatching(/^[a-f0-9]{64}$/), certificateOwnershipToken: expect.any(String) });
    expect(created.privateKey).toContain('PRIVATE KEY');

    const provisioned = JSON.parse(
      (await rr(`$aws/provisioning-templates/${claim.templateName}/provision/json`, JSON.stringify({ certificateOwnershipToken: created.certificateOwnershipToken, parameters: { SerialNumber: 'sampleSerialNumber' } }))).stdout,
    ) as Record<string, unknown>;
    expect(provisioned).toEqual({ deviceConfiguration: {}, thingName: 'sampleSerialNumber' });

    // The device reconnects with its new certificate (client id = thing name) and publishes.
    writeFileSync(join(dir, 'device.crt'), created.certificatePem!);
    writeFileSync(join(dir, 'device.key'), created.privateKey!);
    await run('mosquitto_pub', ['--cafile', endpoints.rootCaFile, '--cert', join(dir, 'device.crt'), '--key', join(dir, 'device.key'), '-h', 'localhost', '-p', String(endpoints.mqtt.port), '-q', '1', '-t', 'device/sampleSerialNumber/telemetry', '-i', 'sampleSerialNumber', '-m', 'hello']);
  });

  it('lets a JITR device’s mosquitto_pub fail on the first connect and succeed once activated (seed 001)', async () => {
    const ca = await createCa({ commonName: 'CAroot' });
    const iot = new IoTClient({ endpoint: endpoints.iot, region: endpoints.region, credentials: { accessKeyId: endpoints.accountId, secretAccessKey: 'local' } });
    await iot.send(new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true }));
    iot.destroy();
    const device = await issueCertificate(ca, { subject: { serialNumber: 'JustInTime' } });
    await cli('devices', 'allow', 'JustInTime', '--local');
    writeFileSync(join(dir, 'deviceCertAndCA.crt'), deviceChain(device, ca));
    writeFileSync(join(dir, 'deviceCert.key'), device.privateKeyPem);
    const publish = () =>
      run('mosquitto_pub', [
        '--cafile', endpoints.rootCaFile, '--cert', join(dir, 'deviceCertAndCA.crt'), '--key', join(dir, 'deviceCert.key'),
        '-h', 'localhost', '-p', String(endpoints.mqtt.port), '-q', '1', '-t', 'device/JustInTime/telemetry', '-i', 'JustInTime', '--tls-version', 'tlsv1.2', '-m', 'test',
      ]).then(() => 'published', (error: { stderr: string }) => `failed: ${error.stderr.trim()}`);

    expect(await publish()).toMatch(/^failed: .*(not authori[sz]ed|Connection Refused)/i);
    // The emulator's JITR handler activates the certificate asynchronously (the registered event, a Lambda
    // invocation, UpdateCertificate); on a loaded machine (load average ~20 on 2 cores) that and each
    // mosquitto_pub run take seconds, so the retries run against a deadline, not a count of attempts.
    let second = 'not tried';
    const deadline = Date.now() + ACTIVATION_BUDGET_MS;
    while (second !== 'published' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      second = await publish();
    }
    expect(second).toBe('published');
  }, ACTIVATION_BUDGET_MS + 30_000);

  it('answers mosquitto_rr over MQTT 5 too (its response topic is the accepted topic), and the CONNACK says what AWS supports', async () => {
    const { stdout: token } = await cli('local', 'token', 'operator@example.com', '--group', 'technicians');
    const response = await fetch(`${endpoints.http}/provisioning-claims`, { method: 'POST', headers: { authorization: token.trim() }, body: '{}' });
    const claim = (await response.json()) as { certificatePem: string; privateKey: string };
    writeFileSync(join(dir, 'claim5Cert.pem'), claim.certificatePem);
    writeFileSync(join(dir, 'claim5PrivateKey.pem'), claim.privateKey);
    const { stdout } = await run('mosquitto_rr', [
      '--cert', join(dir, 'claim5Cert.pem'), '--key', join(dir, 'claim5PrivateKey.pem'), '--cafile', endpoints.rootCaFile,
      '-h', 'localhost', '-p', String(endpoints.mqtt.port),
      '-t', '$aws/certificates/create/json', '-m', '{}', '-e', '$aws/certificates/create/json/accepted',
      '-i', 'sample-client-id-5', '--protocol-version', 'mqttv5', '-q', '1', '-W', '15',
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ certificateId: expect.stringMatching(/^[a-f0-9]{64}$/) });

    // The emulator process (Node loads aedes as ESM) amends its CONNACKs as the in-process tests see.
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      const client = mqtt.connect({
        protocol: 'mqtts', host: 'localhost', port: endpoints.mqtt.port, ca: readFileSync(endpoints.rootCaFile, 'utf8'),
        cert: claim.certificatePem, key: claim.privateKey, clientId: 'sample-client-id-6', protocolVersion: 5, reconnectPeriod: 0,
      });
      client.once('connect', (packet) => {
        client.end(true);
        resolve(packet);
      });
      client.once('error', (error) => {
        client.end(true);
        reject(error);
      });
    });
    expect(connack.properties).toMatchObject({ sharedSubscriptionAvailable: true, maximumQoS: 1, topicAliasMaximum: 8 });
  });
});
