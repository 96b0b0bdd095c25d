import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { promisify } from 'node:util';
import { DescribeCertificateCommand, ListCertificatesCommand } from '@aws-sdk/client-iot';
import { createCsr } from '../../lib/pki';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { DynamoProvisioningLedger } from '../../shared/aws/provisioning-ledger';
import { handleVendingRequest } from '../../functions/vend-certificate/http';
import type { VendAnswer, VendDeps } from '../../shared/provisioning/vend-certificate';
import { loadEvent } from '../support/fixtures';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { signedFetch } from '../support/signed-fetch';
import { toolAvailable } from '../support/tools';

/**
 * The vending API (POST/DELETE /devices/{deviceId}/certificate) through the local HTTP API with IAM
 * authorization, the real handler, the local IoT Core and DynamoDB: what a factory system sees, and what
 * AWS IoT and the registry hold afterwards.
 */

let stack: LocalStack;
let api: string;
const hasCurl = toolAvailable('curl');
if (!hasCurl) console.warn('vending.test: no curl on this machine; the curl --aws-sigv4 test is skipped');

/** A 201 answer, or an error answer's fields. */
type VendBody = VendAnswer & { reason?: string; issues?: Array<{ path: string; message: string }>; message?: string };

async function vend(deviceId: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: VendBody; headers: Headers }> {
  const response = await signedFetch(`${api}/devices/${deviceId}/certificate`, {
    method: 'POST',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    headers,
  });
  return { status: response.status, body: (await response.json()) as VendBody, headers: response.headers };
}

async function revoke(deviceId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await signedFetch(`${api}/devices/${deviceId}/certificate`, { method: 'DELETE' });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const allow = (deviceId: string) => stack.registry.allow(deviceId, {}, new Date());
const statusOf = async (certificateId: string) =>
  (await stack.iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status;
const certificateCount = async () => (await stack.iot.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates?.length ?? 0;

beforeAll(async () => {
  stack = await startLocalStack({ core: { credentials: { port: 0 }, mqtt: { port: 0 } } });
  api = stack.core.endpoints.http!;
});

afterAll(async () => {
  await stack.close();
});

afterEach(() => stack.core.setFaults({}));

describe('IAM authorization', () => {
  it('refuses an unsigned request before the handler runs', async () => {
    await allow('VEND-UNSIGNED');
    const response = await fetch(`${api}/devices/VEND-UNSIGNED/certificate`, { method: 'POST' });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Forbidden' });
    expect((await stack.registry.get('VEND-UNSIGNED'))?.certificateId).toBeUndefined();
  });

  (hasCurl ? it : it.skip)('accepts a request signed by curl --aws-sigv4 (an independent SigV4 implementation)', async () => {
    await allow('VEND-CURL');
    const { stdout } = await promisify(execFile)('curl', [
      '-s', '-X', 'POST', `${api}/devices/VEND-CURL/certificate`,
      '--aws-sigv4', 'aws:amz:us-east-1:execute-api', '--user', '123456789012:local',
      '-H', 'content-type: application/json', '-d', '{}',
      '-w', '\n%{http_code}',
    ]).catch((error: Error) => ({ stdout: `curl failed: ${error.message}\n0` }));
    const status = stdout.slice(stdout.lastIndexOf('\n') + 1);
    expect(status).toBe('201');
    expect(JSON.parse(stdout.slice(0, stdout.lastIndexOf('\n')))).toMatchObject({ thingName: 'VEND-CURL' });
  });

  it('refuses a request signed with the wrong secret key', async () => {
    const response = await signedFetch(`${api}/devices/VEND-UNSIGNED/certificate`, { method: 'POST' }, { accessKeyId: '123456789012', secretAccessKey: 'wrong' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toMatch(/signature we calculated does not match/);
  });
});

describe('POST /devices/{deviceId}/certificate', () => {
  it('accepts a device id with a colon (signed path segments are encoded again, as SigV4 wants)', async () => {
    await allow('line7:unit-0001');
    const { status, body } = await vend('line7:unit-0001');
    expect(status).toBe(201);
    expect(body.thingName).toBe('line7:unit-0001');
  });

  it('generates a key and certificate for an allowed device and binds it like JITR', async () => {
    await allow('VEND-KEY-1');
    const { status, body } = await vend('VEND-KEY-1');

    expect(status).toBe(201);
    expect(body).toMatchObject({ deviceId: 'VEND-KEY-1', thingName: 'VEND-KEY-1', roleAlias: stack.deployed.roleAlias });
    expect(body.privateKey).toMatch(/-{5}BEGIN (?:RSA )?PRIVATE KEY-{5}/);
    // The key and the certificate belong together.
    expect(new X509Certificate(body.certificatePem).checkPrivateKey(createPrivateKey(body.privateKey!))).toBe(true);
    expect(body.endpoints).toEqual({ data: 'localhost', credentials: 'localhost' });
    expect(body.rootCaUrl).toBe('https://www.amazontrust.com/repository/AmazonRootCA1.pem');
    expect(await stack.state({ certificateId: body.certificateId } as never)).toEqual({
      status: 'ACTIVE',
      things: ['VEND-KEY-1'],
      policies: [stack.deployed.devicePolicyName],
    });
    // The binding records the certificate's facts: AWS IoT issued it, valid until 2049 (aws-iot-reference).
    expect(await stack.registry.get('VEND-KEY-1')).toMatchObject({
      certificateId: body.certificateId,
      bindingState: 'bound',
      notAfter: expect.stringMatching(/^2049-12-31T/),
      issuer: { awsIot: true },
      expiryShard: expect.any(String),
    });
  });

  it('signs a CSR without ever seeing the private key', async () => {
    await allow('VEND-CSR-1');
    const csr = await createCsr({ serialNumber: 'VEND-CSR-1' }, 'ec-p256');
    const { status, body } = await vend('VEND-CSR-1', { csr: csr.csrPem });

    expect(status).toBe(201);
    expect(body.privateKey).toBeUndefined();
    expect(new X509Certificate(body.certificatePem).publicKey.export({ format: 'pem', type: 'spki' })).toBe(
      createPublicKey(csr.privateKeyPem).export({ format: 'pem', type: 'spki' }),
    );
    expect(await statusOf(body.certificateId)).toBe('ACTIVE');
  });

  it.each([
    ['a CSR naming another device', async () => (await createCsr({ serialNumber: 'SOMEONE-ELSE' })).csrPem, 'csr-subject-mismatch'],
    ['a CSR with a 1024-bit RSA key', async () => (await createCsr({ serialNumber: 'VEND-BAD-CSR' }, 'rsa-1024')).csrPem, 'key-too-weak'],
    ['text that is not a CSR', async () => '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----', 'csr-unreadable'],
  ])('refuses %s with 400 and mints nothing', async (_, csrOf, reason) => {
    await allow('VEND-BAD-CSR');
    const before = await certificateCount();
    const { status, body } = await vend('VEND-BAD-CSR', { csr: await csrOf() });
    expect(status).toBe(400);
    expect(body.reason).toBe(reason);
    expect(body.issues?.[0]?.path).toBe('csr');
    expect(await certificateCount()).toBe(before);
  });

  it('answers 400 with every validation issue of the body', async () => {
    const { status, body } = await vend('VEND-BODY', { csr: 42, rotate: 'yes', colour: 'red' });
    expect(status).toBe(400);
    expect(body.issues?.map((i) => i.path).sort()).toEqual(['colour', 'csr', 'rotate']);
  });

  it('refuses a device that is not allowed (403) or blocked (403)', async () => {
    expect((await vend('VEND-UNKNOWN')).status).toBe(403);
    await stack.registry.block('VEND-BLOCKED', new Date());
    const blocked = await vend('VEND-BLOCKED');
    expect(blocked).toMatchObject({ status: 403, body: { reason: 'device-blocked' } });
  });

  it('refuses a second certificate for a bound device with 409', async () => {
    await allow('VEND-TWICE');
    const first = await vend('VEND-TWICE');
    const before = await certificateCount();
    const second = await vend('VEND-TWICE');
    expect(second).toMatchObject({ status: 409, body: { reason: 'device-already-bound' } });
    expect(await certificateCount()).toBe(before);
    expect(await statusOf(first.body.certificateId)).toBe('ACTIVE');
  });

  it('rotates: the new certificate is active at once, the old one retires after the grace period', async () => {
    await allow('VEND-ROTATE');
    const first = await vend('VEND-ROTATE');
    const rotated = await vend('VEND-ROTATE', { rotate: true });

    expect(rotated.status).toBe(201);
    expect(rotated.body.rotation?.previousCertificateId).toBe(first.body.certificateId);
    expect(await statusOf(rotated.body.certificateId)).toBe('ACTIVE');
    // Within the grace period both work: devices in the field switch over.
    expect(await statusOf(first.body.certificateId)).toBe('ACTIVE');
    expect((await stack.registry.get('VEND-ROTATE'))?.certificateId).toBe(rotated.body.certificateId);

    await stack.core.idle(); // the retirement message's delay (300 s, scaled) passes and the consumer runs
    expect(await stack.state({ certificateId: first.body.certificateId } as never)).toMatchObject({ status: 'INACTIVE', things: [] });
    expect(await stack.state({ certificateId: rotated.body.certificateId } as never)).toMatchObject({ status: 'ACTIVE', things: ['VEND-ROTATE'] });
  });

  it('replays the first answer for a retried Idempotency-Key instead of minting again', async () => {
    await allow('VEND-IDEM');
    const key = 'factory-line-7:0001';
    const first = await vend('VEND-IDEM', undefined, { 'idempotency-key': key });
    const before = await certificateCount();
    const retried = await vend('VEND-IDEM', undefined, { 'idempotency-key': key });

    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.body.certificateId).toBe(first.body.certificateId);
    expect(retried.body.privateKey).toBe(first.body.privateKey);
    expect(await certificateCount()).toBe(before);
  });

  it('refuses an Idempotency-Key reused for a different request', async () => {
    await allow('VEND-IDEM-2');
    await vend('VEND-IDEM-2', undefined, { 'idempotency-key': 'reused-key-0001' });
    const other = await vend('VEND-IDEM-2', { rotate: true }, { 'idempotency-key': 'reused-key-0001' });
    expect(other).toMatchObject({ status: 400, body: { reason: 'idempotency-key-reused' } });
  });

  it('answers 429 when AWS IoT keeps throttling, and a retry with the same key then succeeds', async () => {
    await allow('VEND-THROTTLED');
    stack.core.setFaults({ throttleRate: 1, operations: ['CreateKeysAndCertificate'] });
    const throttled = await vend('VEND-THROTTLED', undefined, { 'idempotency-key': 'throttled-0001' });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');

    stack.core.setFaults({});
    const retried = await vend('VEND-THROTTLED', undefined, { 'idempotency-key': 'throttled-0001' });
    expect(retried.status).toBe(201);
  }, 90_000);

  it('answers 500 without internals when AWS IoT fails', async () => {
    await allow('VEND-FAILING');
    stack.core.setFaults({ errorRate: 1, errorCode: 'InternalFailureException', operations: ['CreateKeysAndCertificate'] });
    const response = await signedFetch(`${api}/devices/VEND-FAILING/certificate`, { method: 'POST' });
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ message: 'Internal error' });
  }, 90_000);
});

describe('DELETE /devices/{deviceId}/certificate', () => {
  it('revokes the certificate, detaches it and unbinds the device; a second DELETE is 404', async () => {
    await allow('VEND-REVOKE');
    const { body } = await vend('VEND-REVOKE');
    const revoked = await revoke('VEND-REVOKE');

    expect(revoked).toEqual({ status: 200, body: { deviceId: 'VEND-REVOKE', certificateId: body.certificateId, status: 'REVOKED' } });
    expect(await stack.state({ certificateId: body.certificateId } as never)).toEqual({ status: 'REVOKED', things: [], policies: [] });
    const unbound = await stack.registry.get('VEND-REVOKE');
    expect(unbound?.certificateId).toBeUndefined();
    // Unbound: out of the expiry indexes, with the certificate's facts.
    expect([unbound?.expiryShard, unbound?.notAfter, unbound?.issuer]).toEqual([undefined, undefined, undefined]);
    expect((await revoke('VEND-REVOKE')).status).toBe(404);
    // The device may be given a new certificate afterwards.
    expect((await vend('VEND-REVOKE')).status).toBe(201);
  });
});

describe('logging', () => {
  it('never logs key material, even at DEBUG, on success and on failure', async () => {
    const lines: string[] = [];
    const record = (level: string) => (message: string, ...extra: Array<Record<string, unknown>>) => lines.push(JSON.stringify({ level, message, extra }));
    const iot = new AwsIotDirectory(createIotClient({ maxAttempts: 1 }));
    const documents = createDocumentClient();
    const deps: VendDeps = {
      iot,
      registry: new DynamoDeviceRegistry(documents, stack.deployed.tableName),
      idempotency: new DynamoProvisioningLedger(documents, stack.deployed.ledgerTableName),
      retirements: { schedule: async () => undefined },
      endpoints: async () => ({ data: 'localhost', credentials: 'localhost' }),
      settings: { devicePolicyName: stack.deployed.devicePolicyName, mode: 'allowlist', deviceIdSource: 'serialNumberOrCommonName', retireGraceSeconds: 300, roleAlias: 'alias', rootCaUrl: 'https://example.invalid/ca.pem' },
      now: () => new Date(),
      log: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
    };
    await allow('DEMO-VEND-0001');
    const event = structuredClone(loadEvent<Record<string, unknown>>('vend-certificate'));
    const answer = await handleVendingRequest(event, deps);
    const { privateKey, certificatePem } = JSON.parse(answer.body) as VendBody;
    expect(answer.statusCode).toBe(201);

    stack.core.setFaults({ errorRate: 1, errorCode: 'InternalFailureException', operations: ['CreateCertificateFromCsr'] });
    await allow('DEMO-VEND-0002');
    expect((await handleVendingRequest(structuredClone(loadEvent('vend-certificate-csr')), deps)).statusCode).toBe(500);

    const logged = lines.join('\n');
    expect(lines.length).toBeGreaterThan(2);
    expect(logged).toContain('certificate vended');
    expect(logged).not.toMatch(/PRIVATE KEY|CERTIFICATE REQUEST/);
    expect(logged).not.toContain(privateKey!.split('\n')[1]!);
    expect(logged).not.toContain(certificatePem.split('\n')[1]!);
  });
});
