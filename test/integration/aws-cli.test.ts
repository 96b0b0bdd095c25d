import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEmulatorProcess } from '../support/emulator-process';
import { createCa, issueCertificate, issueVerificationCertificate } from '../../lib/pki';
import { toolAvailable } from '../support/tools';

/**
 * The real AWS CLI against `npm run emulator` (the process, on free ports), with the commands of seeds 000
 * and 001. Runs when an `aws` command is installed (AWS CLI v1 or v2); otherwise the suite says so and skips.
 */

const run = promisify(execFile);
const awsAvailable = toolAvailable('aws');
if (!awsAvailable) console.warn('aws-cli.test: no `aws` command on this machine; the AWS CLI suite is skipped');

(awsAvailable ? describe : describe.skip)('the AWS CLI against npm run emulator', () => {
  let emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;
  let endpoint: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const aws = async (...args: string[]) => {
    const { stdout } = await run('aws', ['iot', ...args, '--endpoint-url', endpoint, '--output', 'json'], { env, cwd: dir });
    return stdout.trim() ? (JSON.parse(stdout) as Record<string, any>) : {};
  };
  const awsError = async (...args: string[]) => {
    try {
      await aws(...args);
    } catch (error) {
      return (error as { stderr: string }).stderr;
    }
    throw new Error('expected the command to fail');
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iot-cli-'));
    emulator = await startEmulatorProcess(dir);
    endpoint = emulator.endpoints.iot;
    env = {
      HOME: dir,
      PATH: process.env.PATH,
      AWS_ACCESS_KEY_ID: '123456789012',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
    };
  }, 60_000);

  afterAll(async () => {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers a CA in DEFAULT mode with the registration code, as seed 001 does', async () => {
    const { registrationCode } = await aws('get-registration-code');
    expect(registrationCode).toMatch(/^[a-f0-9]{64}$/);
    const ca = await createCa({ commonName: 'CAroot' });
    const verify = await issueVerificationCertificate(ca, registrationCode);
    writeFileSync(join(dir, 'CAroot.pem'), ca.certificatePem);
    writeFileSync(join(dir, 'Verify.crt'), verify.certificatePem);

    const registered = await aws('register-ca-certificate', '--ca-certificate', 'file://CAroot.pem', '--verification-certificate', 'file://Verify.crt');
    expect(registered.certificateArn).toBe(`arn:aws:iot:us-east-1:123456789012:cacert/${ca.certificateId}`);

    const described = await aws('describe-ca-certificate', '--certificate-id', registered.certificateId);
    expect(described.certificateDescription).toMatchObject({ status: 'INACTIVE', autoRegistrationStatus: 'DISABLE', certificateMode: 'DEFAULT' });
    await aws('update-ca-certificate', '--certificate-id', registered.certificateId, '--new-status', 'ACTIVE');
    await aws('update-ca-certificate', '--certificate-id', registered.certificateId, '--new-auto-registration-status', 'ENABLE');
    expect((await aws('describe-ca-certificate', '--certificate-id', registered.certificateId)).certificateDescription).toMatchObject({
      status: 'ACTIVE',
      autoRegistrationStatus: 'ENABLE',
    });
  });

  it('registers a CA in SNI_ONLY (multi-account) mode without a verification certificate, as seed 000 does', async () => {
    const ca = await createCa({ commonName: 'MyDeviceRootCA' });
    writeFileSync(join(dir, 'rootCA.pem'), ca.certificatePem);
    const registered = await aws(
      'register-ca-certificate',
      '--ca-certificate',
      'file://rootCA.pem',
      '--certificate-mode',
      'SNI_ONLY',
      '--set-as-active',
      '--allow-auto-registration',
    );
    const described = await aws('describe-ca-certificate', '--certificate-id', registered.certificateId);
    expect(described.certificateDescription).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE', certificateMode: 'SNI_ONLY' });

    const device = await issueCertificate(ca, { subject: { commonName: 'ValidDevice', serialNumber: 'DEVICE123456' } });
    writeFileSync(join(dir, 'validDevice.crt'), device.certificatePem);
    const cert = await aws('register-certificate', '--certificate-pem', 'file://validDevice.crt', '--status', 'ACTIVE');
    const { certificateDescription } = await aws('describe-certificate', '--certificate-id', cert.certificateId);
    expect(certificateDescription).toMatchObject({ certificateId: device.certificateId, status: 'ACTIVE', caCertificateId: ca.certificateId });
    // Epoch seconds on the wire: AWS CLI v1 prints them as they are, v2 as ISO-8601.
    expect(['number', 'string']).toContain(typeof certificateDescription.creationDate);
    await aws('update-certificate', '--certificate-id', cert.certificateId, '--new-status', 'REVOKED');
    expect(await awsError('update-certificate', '--certificate-id', cert.certificateId, '--new-status', 'ACTIVE')).toContain('CertificateStateException');
  });

  it('describes the ATS and credentials endpoints — this machine, where the local MQTT and credential endpoints listen — and reports unknown certificates as the AWS CLI would', async () => {
    const { endpointAddress } = await aws('describe-endpoint', '--endpoint-type', 'iot:Data-ATS');
    expect(endpointAddress).toBe('localhost');
    // The emulator runs the credential provider too: that endpoint is this machine as well.
    expect((await aws('describe-endpoint', '--endpoint-type', 'iot:CredentialProvider')).endpointAddress).toBe('localhost');
    expect(await awsError('describe-certificate', '--certificate-id', 'a'.repeat(64))).toContain('ResourceNotFoundException');
  });

  it('publishes to the stack’s findings topic with `aws sns publish`, and reports an unknown topic as SNS does', async () => {
    const sns = (...args: string[]) => run('aws', ['sns', ...args, '--endpoint-url', emulator.endpoints.sns!, '--output', 'json'], { env, cwd: dir });
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:iot-provisioner-dev-findings';
    const { stdout } = await sns('publish', '--topic-arn', topicArn, '--message', '{"kind":"test"}', '--subject', 'a finding');
    expect(JSON.parse(stdout)).toEqual({ MessageId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const refused = await sns('publish', '--topic-arn', `${topicArn}-nope`, '--message', 'm').then(
      () => '',
      (error: { stderr: string }) => error.stderr,
    );
    expect(refused).toContain('(NotFound) when calling the Publish operation: Topic does not exist');
  });

  it('updates, reads and deletes a shadow and publishes with `aws iot-data`, and reports a version conflict as AWS does', async () => {
    const iotData = (...args: string[]) => run('aws', ['iot-data', ...args, '--endpoint-url', emulator.endpoints.iotData], { env, cwd: dir });
    const read = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, any>;
    // AWS CLI v1 reads blob arguments as raw bytes (v2 needs --cli-binary-format raw-in-base64-out).
    await iotData('update-thing-shadow', '--thing-name', 'CLI-SHADOW', '--payload', '{"state":{"desired":{"on":true}}}', 'updated.json');
    expect(read('updated.json')).toMatchObject({ state: { desired: { on: true } }, version: 1 });
    await iotData('get-thing-shadow', '--thing-name', 'CLI-SHADOW', 'shadow.json');
    expect(read('shadow.json')).toMatchObject({ state: { desired: { on: true }, delta: { on: true } }, version: 1 });
    const conflict = await iotData('update-thing-shadow', '--thing-name', 'CLI-SHADOW', '--payload', '{"state":{"reported":{"on":true}},"version":7}', 'conflict.json').then(
      () => '',
      (error: { stderr: string }) => error.stderr,
    );
    expect(conflict).toContain('(ConflictException) when calling the UpdateThingShadow operation: Version conflict');
    await iotData('delete-thing-shadow', '--thing-name', 'CLI-SHADOW', 'deleted.json');
    expect(read('deleted.json')).toEqual({ version: 1, timestamp: expect.any(Number) });
    await expect(iotData('publish', '--topic', 'device/CLI-SHADOW/commands', '--qos', '1', '--payload', '{"reboot":true}')).resolves.toBeDefined();
  });
});
