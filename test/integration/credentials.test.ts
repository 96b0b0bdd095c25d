import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fetchRoleCredentials } from '../../device/credential-provider';
import { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { startEmulatorProcess } from '../support/emulator-process';
import { signedFetch } from '../support/signed-fetch';
import { toolAvailable } from '../support/tools';

/**
 * The credential provider (seed 003): a device trades its certificate for temporary credentials of the
 * role behind the stack's role alias — over mutual TLS, with `x-amzn-iot-thingname` checked against the
 * certificate's things and `iot:AssumeRoleWithCertificate` checked against its policies.
 */

const run = promisify(execFile);

describe('the credentials endpoint', () => {
  let stack: LocalStack;
  let caPem: string;

  beforeAll(async () => {
    stack = await startLocalStack({ core: { credentials: { port: 0 }, mqtt: { port: 0 } } });
    caPem = readFileSync(stack.core.endpoints.rootCaFile!, 'utf8');
  });
  afterAll(() => stack.close());

  /** A device admitted by JITR: ACTIVE, attached to its thing, with the stack's device policy. */
  async function admittedDevice(deviceId: string) {
    const device = await stack.device(deviceId, { registry: 'allow' });
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('ACTIVE');
    return { certificatePem: device.certificatePem, privateKeyPem: device.privateKeyPem, certificateId: device.certificateId };
  }
  const ask = (identity: { certificatePem: string; privateKeyPem: string }, thingName?: string, roleAlias = stack.deployed.roleAlias) =>
    fetchRoleCredentials({ endpoint: stack.core.endpoints.credentials!, roleAlias, identity, caPem, ...(thingName !== undefined ? { thingName } : {}) });

  it('answers 200 with AWS-shaped temporary credentials for the device’s own thing', async () => {
    const identity = await admittedDevice('CRED-0001');
    const answer = await ask(identity, 'CRED-0001');
    if (!('credentials' in answer)) throw new Error(`expected 200, got ${answer.status}: ${answer.message}`);
    expect(answer.credentials).toEqual({
      accessKeyId: expect.stringMatching(/^ASIA[A-Z0-9]{16}$/),
      secretAccessKey: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
      sessionToken: expect.any(String),
      expiration: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    // The alias's duration (3600 s).
    expect(Date.parse(answer.credentials.expiration) - Date.now()).toBeGreaterThan(3_500_000);
    expect(stack.core.credentials!.issued.at(-1)).toMatchObject({ thingName: 'CRED-0001', certificateId: identity.certificateId });
  });

  it('answers 403 when the thing name is not a thing of the certificate', async () => {
    const identity = await admittedDevice('CRED-0002');
    await admittedDevice('CRED-0003');
    const answer = await ask(identity, 'CRED-0003');
    expect(answer).toEqual({ status: 403, message: expect.stringMatching(/not attached/) });
  });

  it('answers 403 when no policy of the certificate allows iot:AssumeRoleWithCertificate on the alias', async () => {
    const identity = await admittedDevice('CRED-0004');
    const alias = 'another-alias';
    stack.core.defaultAccount.roleAliases.create(alias, { roleArn: 'arn:aws:iam::123456789012:role/other' });
    expect(await ask(identity, 'CRED-0004', alias)).toEqual({ status: 403, message: expect.stringMatching(/not allowed to assume/) });
  });

  it('answers 404 for an unknown role alias', async () => {
    const identity = await admittedDevice('CRED-0005');
    expect((await ask(identity, 'CRED-0005', 'no-such-alias')).status).toBe(404);
  });

  it('answers 403 once the certificate is revoked', async () => {
    const identity = await admittedDevice('CRED-0006');
    stack.core.defaultAccount.certificates.updateStatus(identity.certificateId, 'REVOKED');
    const answer = await ask(identity, 'CRED-0006').catch((error: Error) => ({ status: 0, message: error.message }));
    expect(answer.status).not.toBe(200);
  });

  it('answers without the thing-name header too (the header only narrows the thing)', async () => {
    const identity = await admittedDevice('CRED-0007');
    expect((await ask(identity)).status).toBe(200);
  });
});

const hasCurl = toolAvailable('curl');
if (!hasCurl) console.warn('credentials.test: no curl on this machine; the seed 003 curl suite is skipped');

(hasCurl ? describe : describe.skip)('seed 003 against npm run emulator: curl, then aws s3 with the credentials', () => {
  let dir: string;
  let emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iot-seed003-'));
    emulator = await startEmulatorProcess(dir);
  }, 90_000);
  afterAll(async () => {
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets credentials with curl --cert --key and the thing-name header, and 403 for another thing', async () => {
    const { endpoints } = emulator;
    const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: endpoints.accountId, AWS_SECRET_ACCESS_KEY: 'local' };
    Object.assign(process.env, env);
    // The factory: allow ADCTestThing and vend it a certificate (generated key) through the vending API.
    const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamodb }));
    await new DynamoDeviceRegistry(documents, 'iot-provisioner-dev-devices').allow('ADCTestThing', {}, new Date());
    documents.destroy();
    const vended = await signedFetch(`${endpoints.http}/devices/ADCTestThing/certificate`, { method: 'POST' });
    expect(vended.status).toBe(201);
    const { certificatePem, privateKey, roleAlias } = (await vended.json()) as { certificatePem: string; privateKey: string; roleAlias: string };
    writeFileSync(join(dir, 'cert.pem'), certificatePem);
    writeFileSync(join(dir, 'private.key'), privateKey, { mode: 0o600 });

    const curl = (thingName: string) =>
      run('curl', [
        '-s',
        '-w',
        '\n%{http_code}',
        '--cacert',
        endpoints.rootCaFile,
        '--cert',
        join(dir, 'cert.pem'),
        '--key',
        join(dir, 'private.key'),
        '-H',
        `x-amzn-iot-thingname: ${thingName}`,
        `${endpoints.credentials}/role-aliases/${roleAlias}/credentials`,
      ]).then(({ stdout }) => {
        const at = stdout.lastIndexOf('\n');
        return { status: Number(stdout.slice(at + 1)), body: JSON.parse(stdout.slice(0, at)) as Record<string, any> };
      });

    const ok = await curl('ADCTestThing');
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body.credentials).sort()).toEqual(['accessKeyId', 'expiration', 'secretAccessKey', 'sessionToken']);
    expect((await curl('SomeoneElsesThing')).status).toBe(403);

    // Step 3 of the seed: the temporary credentials work against (local) S3, under the thing's own prefix.
    const { accessKeyId, secretAccessKey, sessionToken } = ok.body.credentials as Record<string, string>;
    if (!toolAvailable('aws')) return console.warn('aws CLI not installed: skipping seed 003 step 3 (aws s3 cp)');
    const s3Env = {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_SESSION_TOKEN: sessionToken,
      AWS_DEFAULT_REGION: 'us-east-1',
    };
    writeFileSync(join(dir, 'test.txt'), 'hello from ADCTestThing\n');
    const bucket = 'iot-provisioner-dev-devicedatabucket';
    const s3 = (...args: string[]) => run('aws', ['s3', ...args, '--endpoint-url', endpoints.s3!], { env: s3Env, cwd: dir });
    await s3('cp', join(dir, 'test.txt'), `s3://${bucket}/things/ADCTestThing/test.txt`);
    await s3('cp', `s3://${bucket}/things/ADCTestThing/test.txt`, join(dir, 'downloaded.txt'));
    expect(readFileSync(join(dir, 'downloaded.txt'), 'utf8')).toBe('hello from ADCTestThing\n');
  }, 120_000);
});
