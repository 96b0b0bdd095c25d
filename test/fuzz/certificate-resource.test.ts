import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { CreateKeysAndCertificateCommand, DescribeCertificateCommand, DescribeEndpointCommand, IoTClient, ListAttachedPoliciesCommand, ListPrincipalThingsCommand } from '@aws-sdk/client-iot';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { loadEvent } from '../support/fixtures';
import { arnOf, loadHandler, mutatingIotCalls } from '../support/handlers';
import { deviceId, fcParameters, hex64, junk, nearValid, notDeviceId, RUNS, show, TIMEOUT_MS, wrongType, type FieldRule } from './fuzz-support';

/**
 * Fuzz: `Custom::DeviceCertificate` (`functions/certificate-resource`) with generated CloudFormation
 * requests, the AWS SDK mocked and a local ResponseURL receiver. Its contract: it never rejects; every
 * request that names where to answer and what to echo is answered exactly once, with a body CloudFormation
 * accepts; a malformed one FAILED, with no state-changing IoT call; one that names nowhere to answer
 * returns at once.
 */

const iotMock = mockClient(IoTClient);
const s3Mock = mockClient(S3Client);

let server: Server;
let receiver = '';
const received = new Map<string, Array<{ method: string; body: string; contentType: string | undefined }>>();
let lambdaHandler: (typeof import('../../functions/certificate-resource/handler'))['lambdaHandler'];

/** Stands for the receiver's URL of this run; replaced before the request is sent. */
const HERE = 'http://response.invalid/here';
const HERE_SIGNED = 'http://response.invalid/here?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc%2Fdef';

const nonEmpty = (path: string[]): FieldRule => ({ path, required: true, valid: fc.string({ minLength: 1, maxLength: 40 }), invalid: fc.oneof(fc.constant(''), wrongType) });

function rules(type: 'Create' | 'Update' | 'Delete'): FieldRule[] {
  const envelope = (root: string): FieldRule[] => [{ path: [root], required: true, invalid: fc.constantFrom(null, 'props', [], {}) }, nonEmpty([root, 'ServiceToken'])];
  // What the template author wrote is read strictly for Create and Update; Delete reads the thing name only to
  // find the objects (a Delete without one still deletes the certificate), and old properties that cannot be
  // read make an Update a replacement.
  const readable = (root: string): FieldRule[] => [
    { path: [root, 'ThingName'], required: true, valid: deviceId, invalid: fc.oneof(notDeviceId, wrongType) },
    { path: [root, 'ServiceTimeout'], required: false, valid: fc.oneof(fc.nat(3600), fc.nat(3600).map(String)), invalid: fc.constantFrom(null, true, [], {}) },
  ];
  const anything = (root: string): FieldRule[] => [
    { path: [root, 'ThingName'], required: false, valid: fc.oneof(deviceId, notDeviceId, wrongType) },
    { path: [root, 'ServiceTimeout'], required: false, valid: fc.oneof(fc.nat(3600), wrongType) },
  ];
  return [
    { path: ['RequestType'], required: true, invalid: fc.oneof(fc.constantFrom('create', 'Replace', 'CREATE', ''), wrongType) },
    {
      path: ['ResponseURL'],
      required: true,
      valid: fc.constantFrom(HERE, HERE_SIGNED),
      invalid: fc.oneof(fc.constantFrom('ftp://example.com/x', 'not a url', 'http://', 'http://a b/c', 'https://', '//example.com/x', ' http://x'), wrongType),
    },
    nonEmpty(['StackId']),
    nonEmpty(['RequestId']),
    nonEmpty(['LogicalResourceId']),
    { path: ['ServiceToken'], required: false, valid: fc.string({ maxLength: 30 }), invalid: fc.constantFrom(1, null, {}) },
    {
      path: ['ResourceType'],
      required: true,
      valid: fc.oneof(fc.constant('AWS::CloudFormation::CustomResource'), fc.stringMatching(/^[A-Za-z0-9_@-]{1,52}$/).map((n) => `Custom::${n}`)),
      invalid: fc.oneof(fc.constantFrom('Custom::', 'AWS::S3::Bucket', `Custom::${'x'.repeat(53)}`, 'Custom::a b', 'custom::Thing'), wrongType),
    },
    ...envelope('ResourceProperties'),
    ...(type === 'Delete' ? anything('ResourceProperties') : readable('ResourceProperties')),
    ...(type === 'Create' ? [] : [{ path: ['PhysicalResourceId'], required: true, valid: fc.oneof(hex64, fc.string({ minLength: 1, maxLength: 40 })), invalid: fc.oneof(fc.constant(''), wrongType) } as FieldRule]),
    ...(type === 'Update' ? [...envelope('OldResourceProperties'), ...anything('OldResourceProperties')] : []),
  ];
}

const strictness = (type: 'Create' | 'Update' | 'Delete') =>
  type === 'Delete'
    ? { looseAt: [[], ['ResourceProperties']] }
    : { looseAt: [[], ...(type === 'Update' ? [['OldResourceProperties']] : [])], strictAt: [['ResourceProperties']] };

/** Whether the request names where to answer and what to echo (the envelope's answer fields). */
function answerable(request: unknown): boolean {
  if (!request || typeof request !== 'object' || Array.isArray(request)) return false;
  const r = request as Record<string, unknown>;
  const filled = (v: unknown) => typeof v === 'string' && v.length > 0;
  return (
    (r.ResponseURL === HERE || r.ResponseURL === HERE_SIGNED) &&
    filled(r.StackId) &&
    filled(r.RequestId) &&
    filled(r.LogicalResourceId) &&
    (r.PhysicalResourceId === undefined || filled(r.PhysicalResourceId)) &&
    (r.RequestType === undefined || typeof r.RequestType === 'string')
  );
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = (request.url ?? '').split('?')[0]!;
      received.set(path, [...(received.get(path) ?? []), { method: request.method ?? '', body: Buffer.concat(chunks).toString('utf8'), contentType: request.headers['content-type'] }]);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  ({ lambdaHandler } = loadHandler<typeof import('../../functions/certificate-resource/handler')>('certificateResource', {
    environment: { CERTIFICATE_BUCKET: 'fuzz-certificates' },
  }));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const id = 'c'.repeat(64);
  iotMock.onAnyCommand().resolves({});
  iotMock.on(CreateKeysAndCertificateCommand).resolves({
    certificateId: id,
    certificateArn: arnOf(id),
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    keyPair: { PrivateKey: privateKey, PublicKey: publicKey },
  });
  iotMock.on(DescribeEndpointCommand).resolves({ endpointAddress: 'fuzz-ats.iot.us-east-1.amazonaws.com' });
  iotMock.on(DescribeCertificateCommand).callsFake((input: { certificateId: string }) => ({
    certificateDescription: { certificateId: input.certificateId, certificateArn: arnOf(input.certificateId), status: 'ACTIVE', certificatePem: 'pem' },
  }));
  iotMock.on(ListPrincipalThingsCommand).resolves({ things: [] });
  iotMock.on(ListAttachedPoliciesCommand).resolves({ policies: [] });
  s3Mock.onAnyCommand().resolves({});
  s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('certificateResource under fuzzing', () => {
  it(`answers every answerable request exactly once, FAILED and without changes when malformed, and returns at once otherwise (${RUNS} requests)`, async () => {
    const of = (type: 'Create' | 'Update' | 'Delete') => {
      const event = { ...loadEvent(`certificate-resource-${type.toLowerCase()}`), ResponseURL: HERE };
      return nearValid(event, rules(type), strictness(type)).map((variant) => ({ ...variant, type }));
    };
    const requests = fc.oneof(of('Create'), of('Update'), of('Delete'), junk.map((v) => ({ ...v, type: 'junk' as const })));
    let run = 0;
    const seen = { success: 0, failed: 0, unanswered: 0 };

    await fc.assert(
      fc.asyncProperty(requests, async (input) => {
        iotMock.resetHistory();
        s3Mock.resetHistory();
        const path = `/cfn/${++run}`;
        const request = input.value as Record<string, unknown>;
        const canAnswer = answerable(request);
        if (request && typeof request === 'object' && (request.ResponseURL === HERE || request.ResponseURL === HERE_SIGNED)) {
          request.ResponseURL = String(request.ResponseURL).replace('http://response.invalid/here', `${receiver}${path}`);
        }
        const started = Date.now();
        let result: unknown;
        try {
          result = await lambdaHandler(request, { getRemainingTimeInMillis: () => 60_000, logStreamName: 'fuzz' });
        } catch (error) {
          throw new Error(`rejected with ${(error as Error).name} for ${show(request)} (${input.mutations.join('; ')})`);
        }
        const answers = received.get(path) ?? [];
        received.delete(path);
        const mutating = mutatingIotCalls(iotMock.calls());

        if (!canAnswer) {
          seen.unanswered++;
          expect({ mutations: input.mutations, result, answers: answers.length, mutating }).toEqual({ mutations: input.mutations, result: undefined, answers: 0, mutating: [] });
          expect(Date.now() - started).toBeLessThan(1_000);
          return;
        }
        // One PUT, with a body CloudFormation accepts, echoing the request.
        expect({ mutations: input.mutations, answers: answers.length }).toEqual({ mutations: input.mutations, answers: 1 });
        const [answer] = answers;
        expect(answer!.method).toBe('PUT');
        expect(answer!.contentType).toBe('');
        expect(Buffer.byteLength(answer!.body)).toBeLessThanOrEqual(4096);
        const body = JSON.parse(answer!.body) as Record<string, unknown>;
        expect(body).toMatchObject({ StackId: request.StackId, RequestId: request.RequestId, LogicalResourceId: request.LogicalResourceId });
        expect(result).toEqual(body);
        expect(typeof body.PhysicalResourceId === 'string' && body.PhysicalResourceId.length > 0 && body.PhysicalResourceId.length <= 1024).toBe(true);
        expect(answer!.body).not.toMatch(/PRIVATE KEY/);

        if (!input.valid) {
          seen.failed++;
          expect({ mutations: input.mutations, status: body.Status, reason: typeof body.Reason, mutating }).toEqual({ mutations: input.mutations, status: 'FAILED', reason: 'string', mutating: [] });
        } else {
          seen.success++;
          expect({ mutations: input.mutations, status: body.Status }).toEqual({ mutations: input.mutations, status: 'SUCCESS' });
        }
      }),
      fcParameters(),
    );
    expect(seen.success).toBeGreaterThan(RUNS / 10);
    expect(seen.failed).toBeGreaterThan(RUNS / 10);
    expect(seen.unanswered).toBeGreaterThan(RUNS / 20);
  }, TIMEOUT_MS);
});
