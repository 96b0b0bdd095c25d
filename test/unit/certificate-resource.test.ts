import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateKeysAndCertificateCommand,
  DeleteCertificateCommand,
  DeleteConflictException,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  ResourceNotFoundException,
  ThrottlingException,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { CustomResourceResponse } from '../../shared/cloudformation/respond';
import { logger } from '../../shared/logger';
import { DEVICE_CERTIFICATE_ATTRIBUTES } from '../../shared/provisioning/certificate-resource';
import type { CustomResourceRequest } from '../../shared/schemas/cloudformation-event';
import { loadEvent } from '../support/fixtures';
import { arnOf, loadHandler } from '../support/handlers';

/**
 * Custom::DeviceCertificate against a mocked AWS SDK, answering a real HTTP receiver that stands in for
 * CloudFormation's presigned ResponseURL.
 */

const iotMock = mockClient(IoTClient);
const s3Mock = mockClient(S3Client);
const BUCKET = 'iot-provisioner-test-certificatebucket';
const ENDPOINT = 'a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com';
const CERT_ID = 'a'.repeat(64);
const NEW_CERT_ID = 'b'.repeat(64);
const OLD_CERT_ID = '3f9c1e7a52b04d6e8a1f2c3b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70'; // the sample events' certificate
const CERTIFICATE_PEM = '-----BEGIN CERTIFICATE-----\nMIIBstand-in-certificate\n-----END CERTIFICATE-----\n';

type Context = { getRemainingTimeInMillis(): number; logStreamName: string };
type HandlerModule = typeof import('../../functions/certificate-resource/handler');
let lambdaHandler: HandlerModule['lambdaHandler'];

// ---- the ResponseURL receiver ----
interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}
let server: Server;
let receiverUrl: string;
let received: Received[] = [];
let statuses: number[] = [];

// Key material is generated here, never committed (.gitignore keeps *.key out).
let privateKey: string;
let publicKey: string;
/** The base64 body of the private key: what must never reach a log line or an answer. */
let privateKeyBody: string;

const context = (remainingMs = 60_000): Context => {
  const until = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => until - Date.now(), logStreamName: '2026/11/22/[$LATEST]0123456789abcdef' };
};

function eventFor<T extends CustomResourceRequest['RequestType']>(type: T): Extract<CustomResourceRequest, { RequestType: T }> {
  const event = loadEvent<Extract<CustomResourceRequest, { RequestType: T }>>(`certificate-resource-${type.toLowerCase()}`);
  event.ResponseURL = `${receiverUrl}/_local/cloudformation-responses/${event.RequestId}`;
  return event;
}

const answers = () => received.map((r) => JSON.parse(r.body) as CustomResourceResponse);
const onlyAnswer = () => {
  expect(received).toHaveLength(1);
  return answers()[0]!;
};

function givenIssuedCertificate(certificateId = CERT_ID) {
  iotMock.on(CreateKeysAndCertificateCommand).resolves({
    certificateId,
    certificateArn: arnOf(certificateId),
    certificatePem: CERTIFICATE_PEM,
    keyPair: { PublicKey: publicKey, PrivateKey: privateKey },
  });
}

function givenCertificate(certificateId: string, status: 'ACTIVE' | 'INACTIVE' | 'REVOKED') {
  iotMock.on(DescribeCertificateCommand, { certificateId }).resolves({
    certificateDescription: { certificateId, certificateArn: arnOf(certificateId), status, certificatePem: CERTIFICATE_PEM },
  });
}

function givenObjects(thingName: string, owner: string | undefined) {
  const keys = ['certificate.pem.crt', 'public.pem.key', 'private.pem.key'].map((name) => `${thingName}/${name}`);
  s3Mock.on(ListObjectsV2Command, { Bucket: BUCKET, Prefix: `${thingName}/` }).resolves({ Contents: keys.map((Key) => ({ Key })), IsTruncated: false });
  for (const Key of keys) s3Mock.on(HeadObjectCommand, { Bucket: BUCKET, Key }).resolves({ Metadata: owner ? { 'certificate-id': owner } : {} });
  return keys;
}

const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });
const iotCalls = () => iotMock.calls().map((call) => call.args[0].constructor.name);

beforeAll(async () => {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  privateKey = pair.privateKey;
  publicKey = pair.publicKey;
  privateKeyBody = privateKey.split('\n').slice(1, -2).join('');

  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      response.statusCode = statuses.shift() ?? 200;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The bucket is a stack parameter in serverless.yml: the stage's environment with it given.
  ({ lambdaHandler } = loadHandler<HandlerModule>('certificateResource', { environment: { CERTIFICATE_BUCKET: BUCKET } }));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  statuses = [];
  iotMock.reset();
  s3Mock.reset();
  iotMock.on(DescribeEndpointCommand).resolves({ endpointAddress: ENDPOINT });
  iotMock.on(UpdateCertificateCommand).resolves({});
  iotMock.on(DescribeCertificateCommand).rejects(notFound());
  iotMock.on(ListPrincipalThingsCommand).resolves({ things: [] });
  iotMock.on(ListAttachedPoliciesCommand).resolves({ policies: [] });
  iotMock.on(DeleteCertificateCommand).resolves({});
  s3Mock.on(PutObjectCommand).resolves({});
  s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
  s3Mock.on(DeleteObjectsCommand).resolves({});
  // What S3 answers for a key that is not there (here: no Delete has left a mark for the request).
  s3Mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'Not Found' }));
});

describe('Create', () => {
  it('stores the certificate and both keys under <thing>/, activates the certificate last, and answers SUCCESS with its id', async () => {
    givenIssuedCertificate();
    const event = eventFor('Create');

    const result = await lambdaHandler(event, context());

    const answer = onlyAnswer();
    expect(answer).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: CERT_ID,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: 'DeviceCertificate',
      Data: { CertificateArn: arnOf(CERT_ID), CertificateId: CERT_ID, IoTEndpoint: ENDPOINT, Bucket: BUCKET, KeyPrefix: 'sensor-0001/' },
    });
    expect(result).toEqual(answer);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts.map((put) => [put.Key, put.Body])).toEqual(
      expect.arrayContaining([
        ['sensor-0001/certificate.pem.crt', CERTIFICATE_PEM],
        ['sensor-0001/public.pem.key', publicKey],
        ['sensor-0001/private.pem.key', privateKey],
      ]),
    );
    expect(puts).toHaveLength(3);
    for (const put of puts) {
      expect(put).toMatchObject({ Bucket: BUCKET, ServerSideEncryption: 'AES256', Metadata: { 'certificate-id': CERT_ID } });
    }
    expect(iotMock).toHaveReceivedCommandWith(CreateKeysAndCertificateCommand, { setAsActive: false });
    expect(iotCalls().at(-1)).toBe('UpdateCertificateCommand');
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: CERT_ID, newStatus: 'ACTIVE' });
  });

  it('answers with a PUT to the ResponseURL, an empty content type and the exact content length', async () => {
    givenIssuedCertificate();
    const event = eventFor('Create');

    await lambdaHandler(event, context());

    const [put] = received;
    expect(put).toMatchObject({ method: 'PUT', path: `/_local/cloudformation-responses/${event.RequestId}` });
    expect(put!.headers['content-type']).toBe('');
    expect(Number(put!.headers['content-length'])).toBe(Buffer.byteLength(put!.body));
    expect(put!.body).not.toContain(privateKeyBody);
  });

  it.each([
    ['a missing ThingName', {}, 'ThingName'],
    ['a ThingName with a slash', { ThingName: 'sensor/0001' }, 'ThingName: must be a thing name'],
    ['a ThingName of 129 characters', { ThingName: 'x'.repeat(129) }, 'ThingName: must be a thing name'],
    ['an unknown property', { ThingName: 'sensor-0001', KeyPrefix: 'keys/' }, 'KeyPrefix'],
  ])('fails for %s with a clear reason and a placeholder id, without calling AWS', async (_, properties, reason) => {
    const event = eventFor('Create');
    event.ResourceProperties = { ServiceToken: event.ResourceProperties.ServiceToken, ...properties };

    await lambdaHandler(event, context());

    const answer = onlyAnswer();
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toContain('invalid properties');
    expect(answer.Reason).toContain(reason);
    expect(answer.PhysicalResourceId).toBe(`not-created:${event.RequestId}`);
    expect(iotMock.calls()).toHaveLength(0);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('fails with the error’s name only when S3 refuses, and answers with the certificate id so the rollback Delete removes it', async () => {
    givenIssuedCertificate();
    s3Mock.on(PutObjectCommand).rejects(
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message: 'User: arn:aws:sts::123456789012:assumed-role/internal-role/fn is not authorized to perform: s3:PutObject',
      }),
    );

    await lambdaHandler(eventFor('Create'), context());

    const answer = onlyAnswer();
    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: CERT_ID });
    expect(answer.Reason).toBe('Create failed while storing-keys (AccessDenied); details in CloudWatch Logs, log stream 2026/11/22/[$LATEST]0123456789abcdef');
    expect(answer.Reason).not.toContain('arn:aws:sts');
    expect(iotMock).not.toHaveReceivedCommandWith(UpdateCertificateCommand, { newStatus: 'ACTIVE' });
  });

  it('fails with a placeholder id when AWS IoT keeps throttling before any certificate exists', async () => {
    iotMock.on(CreateKeysAndCertificateCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    const event = eventFor('Create');

    await lambdaHandler(event, context());

    expect(onlyAnswer()).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: `not-created:${event.RequestId}`,
      Reason: expect.stringContaining('Create failed while creating-certificate (ThrottlingException)'),
    });
  });

  it('answers FAILED before the Lambda limit when the work runs late, and abandons the rest of it', async () => {
    iotMock.on(CreateKeysAndCertificateCommand).callsFake(
      () =>
        new Promise((resolve) =>
          setTimeout(
            () => resolve({ certificateId: CERT_ID, certificateArn: arnOf(CERT_ID), certificatePem: CERTIFICATE_PEM, keyPair: { PublicKey: publicKey, PrivateKey: privateKey } }),
            1_500,
          ),
        ),
    );
    // 5 s are kept back to answer in: 600 ms of work may run.
    const remainingMs = 5_600;
    const started = Date.now();

    await lambdaHandler(eventFor('Create'), context(remainingMs));

    const answer = onlyAnswer();
    expect(received[0]!.at - started).toBeLessThan(remainingMs - 4_000);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/^Create timed out while creating-certificate \(answered 5 s before the Lambda limit\)/);
    expect(answer.PhysicalResourceId).toMatch(/^not-created:/);
    // The late certificate arrives after the answer: its keys are not written.
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
    expect(received).toHaveLength(1);
  });
});

describe('Update', () => {
  it('keeps the certificate when the ThingName is the same: same physical id, Data computed again', async () => {
    givenCertificate(OLD_CERT_ID, 'ACTIVE');
    const event = eventFor('Update');
    event.ResourceProperties = { ...event.ResourceProperties, ThingName: 'sensor-0001' };

    await lambdaHandler(event, context());

    expect(onlyAnswer()).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: OLD_CERT_ID,
      Data: { CertificateArn: arnOf(OLD_CERT_ID), CertificateId: OLD_CERT_ID, IoTEndpoint: ENDPOINT, Bucket: BUCKET, KeyPrefix: 'sensor-0001/' },
    });
    expect(iotMock).not.toHaveReceivedCommand(CreateKeysAndCertificateCommand);
    expect(iotMock).not.toHaveReceivedCommand(UpdateCertificateCommand);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('replaces the certificate when the ThingName changes: a new certificate and objects, a new physical id, the old one untouched', async () => {
    givenIssuedCertificate(NEW_CERT_ID);
    const event = eventFor('Update');

    await lambdaHandler(event, context());

    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: NEW_CERT_ID, Data: { KeyPrefix: 'sensor-0002/', CertificateId: NEW_CERT_ID } });
    expect(s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Key).sort()).toEqual([
      'sensor-0002/certificate.pem.crt',
      'sensor-0002/private.pem.key',
      'sensor-0002/public.pem.key',
    ]);
    // CloudFormation sends the Delete for the old certificate once the stack is updated.
    expect(iotMock).not.toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: OLD_CERT_ID });
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand);
  });

  it('replaces a certificate that was deleted outside CloudFormation', async () => {
    givenIssuedCertificate(NEW_CERT_ID);
    const event = eventFor('Update');
    event.ResourceProperties = { ...event.ResourceProperties, ThingName: 'sensor-0001' };

    await lambdaHandler(event, context());

    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: NEW_CERT_ID });
  });

  it('keeps its physical id when the new properties are invalid', async () => {
    const event = eventFor('Update');
    event.ResourceProperties = { ...event.ResourceProperties, ThingName: 'no spaces allowed' };

    await lambdaHandler(event, context());

    expect(onlyAnswer()).toMatchObject({ Status: 'FAILED', PhysicalResourceId: OLD_CERT_ID, Reason: expect.stringContaining('ThingName') });
    expect(iotMock.calls()).toHaveLength(0);
  });

  it('removes the new certificate of a replacement that failed, and keeps the old physical id', async () => {
    givenIssuedCertificate(NEW_CERT_ID);
    givenCertificate(NEW_CERT_ID, 'INACTIVE');
    iotMock.on(DescribeEndpointCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    s3Mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: {}, message: 'slow down' }));
    givenObjects('sensor-0002', NEW_CERT_ID);

    await lambdaHandler(eventFor('Update'), context());

    expect(onlyAnswer()).toMatchObject({ Status: 'FAILED', PhysicalResourceId: OLD_CERT_ID, Reason: expect.stringContaining('storing-keys (SlowDown)') });
    expect(iotMock).toHaveReceivedCommandWith(DeleteCertificateCommand, { certificateId: NEW_CERT_ID });
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectsCommand, { Bucket: BUCKET });
    expect(iotMock).not.toHaveReceivedCommandWith(DeleteCertificateCommand, { certificateId: OLD_CERT_ID });
  });
});

describe('Delete', () => {
  it('removes the objects, deactivates, detaches things and policies, and deletes the certificate', async () => {
    givenCertificate(OLD_CERT_ID, 'ACTIVE');
    const keys = givenObjects('sensor-0001', OLD_CERT_ID);
    iotMock.on(ListPrincipalThingsCommand).resolves({ things: ['sensor-0001'] });
    iotMock.on(ListAttachedPoliciesCommand).resolves({ policies: [{ policyName: 'iot-provisioner-test-device' }] });
    const event = eventFor('Delete');

    await lambdaHandler(event, context());

    expect(onlyAnswer()).toEqual({ Status: 'SUCCESS', PhysicalResourceId: OLD_CERT_ID, StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: 'DeviceCertificate' });
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectsCommand, { Bucket: BUCKET, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } });
    expect(iotMock).toHaveReceivedCommandWith(DetachThingPrincipalCommand, { thingName: 'sensor-0001', principal: arnOf(OLD_CERT_ID) });
    expect(iotMock).toHaveReceivedCommandWith(DetachPolicyCommand, { policyName: 'iot-provisioner-test-device', target: arnOf(OLD_CERT_ID) });
    expect(iotCalls().filter((name) => ['UpdateCertificateCommand', 'DetachThingPrincipalCommand', 'DeleteCertificateCommand'].includes(name))).toEqual([
      'UpdateCertificateCommand',
      'DetachThingPrincipalCommand',
      'DeleteCertificateCommand',
    ]);
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: OLD_CERT_ID, newStatus: 'INACTIVE' });
    expect(iotMock).toHaveReceivedCommandWith(DeleteCertificateCommand, { certificateId: OLD_CERT_ID, forceDelete: true });
  });

  it('succeeds when the certificate and its objects are already gone', async () => {
    await lambdaHandler(eventFor('Delete'), context());

    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: OLD_CERT_ID });
    expect(iotMock).not.toHaveReceivedCommand(UpdateCertificateCommand);
    expect(iotMock).not.toHaveReceivedCommand(DeleteCertificateCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand);
  });

  it('succeeds when the certificate goes between the look-up and the delete', async () => {
    givenCertificate(OLD_CERT_ID, 'INACTIVE');
    iotMock.on(DeleteCertificateCommand).rejects(notFound());
    await lambdaHandler(eventFor('Delete'), context());
    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS' });
  });

  it('succeeds without touching anything for the placeholder of a Create that failed', async () => {
    const create = eventFor('Create');
    create.ResourceProperties = { ServiceToken: create.ResourceProperties.ServiceToken, ThingName: '' };
    await lambdaHandler(create, context());
    const placeholder = onlyAnswer().PhysicalResourceId;
    received = [];
    const event = eventFor('Delete');
    event.PhysicalResourceId = placeholder;
    event.ResourceProperties = create.ResourceProperties;

    await lambdaHandler(event, context());

    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: placeholder });
    expect(iotMock.calls()).toHaveLength(0);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('leaves objects that another certificate wrote for the same thing since', async () => {
    givenObjects('sensor-0001', NEW_CERT_ID);
    await lambdaHandler(eventFor('Delete'), context());
    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS' });
    expect(s3Mock).toHaveReceivedCommand(HeadObjectCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand);
  });

  it('treats an object deleted between the listing and the look-up as removed', async () => {
    givenObjects('sensor-0001', OLD_CERT_ID);
    s3Mock.on(HeadObjectCommand, { Key: 'sensor-0001/public.pem.key' }).rejects(new NotFound({ message: 'Not Found', $metadata: {} }));
    await lambdaHandler(eventFor('Delete'), context());
    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS' });
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectsCommand, {
      Delete: { Objects: [{ Key: 'sensor-0001/certificate.pem.crt' }, { Key: 'sensor-0001/private.pem.key' }], Quiet: true },
    });
  });

  it('tries the delete again while a detached thing is still attached (detaching is asynchronous)', async () => {
    givenCertificate(OLD_CERT_ID, 'INACTIVE');
    iotMock
      .on(DeleteCertificateCommand)
      .rejectsOnce(new DeleteConflictException({ message: 'Things are attached to the certificate', $metadata: {} }))
      .resolves({});

    await lambdaHandler(eventFor('Delete'), context());

    expect(onlyAnswer()).toMatchObject({ Status: 'SUCCESS' });
    expect(iotMock.commandCalls(DeleteCertificateCommand)).toHaveLength(2);
  });
});

describe('requests that are not quite right', () => {
  it('answers FAILED to a request of an unknown type', async () => {
    const event = { ...eventFor('Create'), RequestType: 'Upsert' };
    await lambdaHandler(event, context());
    expect(onlyAnswer()).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('invalid request'), PhysicalResourceId: `not-created:${event.RequestId}` });
  });

  it('resolves without answering an event that names no ResponseURL', async () => {
    const event: Record<string, unknown> = { ...eventFor('Create') };
    delete event.ResponseURL;
    await expect(lambdaHandler(event, context())).resolves.toBeUndefined();
    expect(received).toHaveLength(0);
  });
});

// The wire (size limit, retries, headers) on its own: test/unit/custom-resource.test.ts.
describe('the answer to the ResponseURL', () => {
  it('retries the handler’s answer on a 500', async () => {
    givenIssuedCertificate();
    statuses = [500];
    await lambdaHandler(eventFor('Create'), context());
    expect(received).toHaveLength(2);
    expect(answers()[1]).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: CERT_ID });
  });
});

describe('logging', () => {
  let lines: string[];
  let restore: () => void;

  beforeEach(() => {
    lines = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const errorWrite = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    logger.setLogLevel('DEBUG');
    restore = () => {
      logger.setLogLevel('SILENT');
      write.mockRestore();
      errorWrite.mockRestore();
    };
  });

  afterEach(() => restore());

  it('never writes the private key, not even when an error message carries it', async () => {
    givenIssuedCertificate();
    await lambdaHandler(eventFor('Create'), context());
    s3Mock.on(PutObjectCommand).rejects(new Error(`could not store ${privateKey}`));
    await lambdaHandler(eventFor('Create'), context());

    const log = lines.join('');
    expect(log).toContain('device certificate created');
    expect(log).toContain('PEM redacted');
    expect(log).not.toContain(privateKeyBody);
    expect(log).not.toContain(privateKeyBody.slice(0, 64));
    expect(log).not.toContain('PRIVATE KEY');
    // The presigned ResponseURL is a credential too.
    expect(log).not.toContain('/_local/cloudformation-responses/');
  });
});

describe('the attributes', () => {
  it('are exactly what a Create answers as Data', async () => {
    givenIssuedCertificate();
    await lambdaHandler(eventFor('Create'), context());
    expect(Object.keys(onlyAnswer().Data ?? {}).sort()).toEqual([...DEVICE_CERTIFICATE_ATTRIBUTES].sort());
  });
});
