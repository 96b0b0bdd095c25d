import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createCa, createCsr, issueCertificate } from '../lib/pki';
import { PROJECT_ROOT } from '../lib/stack';

/**
 * Writes the public material behind the sample events, so `serverless invoke local` has real things to
 * act on when `npm run emulator` runs. Only certificates and CSRs are written — private keys are discarded.
 *   npx tsx local/make-demo-fixtures.ts [jitr] [vend]     (default: both)
 * - jitr: a demo CA and one device certificate (10 years) behind events/certificate-registered.json;
 * - vend: the vending API's sample requests (events/vend-certificate*.json), one of them with a CSR.
 */

const write = (file: string, json: unknown) => writeFileSync(resolve(PROJECT_ROOT, file), JSON.stringify(json, null, 2) + '\n');

async function jitrFixtures() {
  const YEAR = 365 * 24 * 60 * 60 * 1000;
  const ca = await createCa({ commonName: 'iot-provisioner demo CA', notAfter: new Date(Date.now() + 10 * YEAR) });
  const device = await issueCertificate(ca, {
    subject: { commonName: 'Demo device', serialNumber: 'DEMO-0001' },
    notAfter: new Date(Date.now() + 10 * YEAR),
  });
  const dir = resolve(PROJECT_ROOT, 'events/fixtures');
  writeFileSync(resolve(dir, 'demo-ca.pem'), ca.certificatePem + '\n');
  writeFileSync(resolve(dir, 'demo-device.pem'), device.certificatePem + '\n');
  write('events/certificate-registered.json', {
    certificateId: device.certificateId,
    caCertificateId: ca.certificateId,
    timestamp: 1795363200000,
    certificateStatus: 'PENDING_ACTIVATION',
    awsAccountId: '123456789012',
    certificateRegistrationTimestamp: '1795363199000',
  });
}

/** An API Gateway HTTP API (2.0) request to the vending API, as IAM authorization passes it on. */
function vendingRequest(method: 'POST' | 'DELETE', deviceId: string, body?: unknown, idempotencyKey?: string) {
  const path = `/devices/${deviceId}/certificate`;
  const routeKey = `${method} /devices/{deviceId}/certificate`;
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: {
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=redacted',
      'content-type': 'application/json',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'x-amz-date': '20261122T120000Z',
      ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
    },
    pathParameters: { deviceId },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: {
        iam: {
          accessKey: 'AKIAIOSFODNN7EXAMPLE',
          accountId: '123456789012',
          callerId: 'AIDAEXAMPLEFACTORY01',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: 'arn:aws:iam::123456789012:user/factory-line-7',
          userId: 'AIDAEXAMPLEFACTORY01',
        },
      },
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'iot-provisioner-cli' },
      requestId: `Vx${deviceId.replace(/\W/g, '')}${method}=`,
      routeKey,
      stage: '$default',
      time: '22/Nov/2026:12:00:00 +0000',
      timeEpoch: 1795363200000,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    isBase64Encoded: false,
  };
}

async function vendFixtures() {
  const csr = await createCsr({ commonName: 'Demo vended device', serialNumber: 'DEMO-VEND-0002' }, 'ec-p256');
  write('events/vend-certificate.json', vendingRequest('POST', 'DEMO-VEND-0001', {}, 'demo-vend-0001-first'));
  write('events/vend-certificate-csr.json', vendingRequest('POST', 'DEMO-VEND-0002', { csr: csr.csrPem }));
  write('events/vend-certificate-rotate.json', vendingRequest('POST', 'DEMO-VEND-0001', { rotate: true }));
  write('events/vend-certificate-delete.json', vendingRequest('DELETE', 'DEMO-VEND-0001'));
}

async function main() {
  const which = process.argv.slice(2);
  if (!which.length || which.includes('jitr')) await jitrFixtures();
  if (!which.length || which.includes('vend')) await vendFixtures();
  console.log('wrote the sample events and fixtures under events/');
}
void main();
