import { randomUUID, X509Certificate, createPrivateKey } from 'node:crypto';
import { DescribeCertificateCommand } from '@aws-sdk/client-iot';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { ReceivedResponse } from '../../local/cloudformation/response-receiver';
import { loadEvent } from '../support/fixtures';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * Custom::DeviceCertificate through the deployed function, the real SDK, the local IoT Core and its S3
 * (s3rver): what CloudFormation receives at the ResponseURL for Create, Update and Delete — on success and
 * on failure — and what AWS IoT and the bucket hold afterwards.
 */

let stack: LocalStack;
let s3: S3Client;
let functionArn: string;
let bucket: string;

type Request = ReturnType<typeof loadEvent<Record<string, any>>>;

/** A request shaped like events/certificate-resource-<type>.json, answered to this core's receiver. */
function request(type: 'create' | 'update' | 'delete', overrides: Record<string, unknown> = {}, properties: Record<string, unknown> = {}): Request {
  const event = structuredClone(loadEvent<Record<string, any>>(`certificate-resource-${type}`));
  event.RequestId = randomUUID();
  event.ResponseURL = stack.core.cloudFormationResponseUrl(event.RequestId);
  event.ResourceProperties = { ...event.ResourceProperties, ServiceToken: functionArn, ...properties };
  return { ...event, ...overrides };
}

async function send(event: Request): Promise<ReceivedResponse> {
  await stack.core.invokeFunction(functionArn, event, 60_000);
  const [answer, ...more] = stack.core.cloudFormationResponses.received(event.RequestId);
  expect(more).toEqual([]); // exactly one answer per request
  return answer!;
}

const keysUnder = async (prefix: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
const read = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
const certificateStatus = (certificateId: string) =>
  stack.iot.send(new DescribeCertificateCommand({ certificateId })).then(
    (r) => r.certificateDescription?.status,
    (error: Error) => (error.name === 'ResourceNotFoundException' ? 'gone' : Promise.reject(error)),
  );

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  const { core, deployed } = stack;
  functionArn = `arn:aws:lambda:us-east-1:${core.endpoints.accountId}:function:${deployed.stack.service}-${deployed.stack.stage}-certificateResource`;
  bucket = deployed.certificateBucket;
  s3 = new S3Client({ endpoint: core.endpoints.s3!, forcePathStyle: true });
});

afterAll(async () => {
  s3.destroy();
  await stack.close();
});

afterEach(() => stack.core.setFaults({}));

describe('Create', () => {
  it('vends an ACTIVE certificate, writes certificate and keys under <thing>/ and answers SUCCESS with the data', async () => {
    const answer = await send(request('create', {}, { ThingName: 'cr-create-1' }));

    expect(answer.problems).toEqual([]);
    expect(answer.contentType).toBe('');
    const certificateId = answer.body!.PhysicalResourceId as string;
    expect(answer.body).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: expect.stringMatching(/^[0-9a-f]{64}$/),
      Data: {
        CertificateId: certificateId,
        CertificateArn: `arn:aws:iot:us-east-1:123456789012:cert/${certificateId}`,
        IoTEndpoint: 'localhost',
        Bucket: bucket,
        KeyPrefix: 'cr-create-1/',
      },
    });
    expect(await certificateStatus(certificateId)).toBe('ACTIVE');
    expect(await keysUnder('cr-create-1/')).toEqual(['cr-create-1/certificate.pem.crt', 'cr-create-1/private.pem.key', 'cr-create-1/public.pem.key']);
    const certificate = new X509Certificate(await read('cr-create-1/certificate.pem.crt'));
    expect(certificate.checkPrivateKey(createPrivateKey(await read('cr-create-1/private.pem.key')))).toBe(true);
    // The answer is what CloudFormation keeps: no key material in it.
    expect(JSON.stringify(answer.body)).not.toMatch(/PRIVATE KEY/);
  });

  it('answers FAILED with a reason (and a placeholder id) for invalid properties, and makes nothing', async () => {
    const event = request('create', {}, { ThingName: 'not a thing name!', Colour: 'red' });
    const answer = await send(event);
    expect(answer.problems).toEqual([]);
    expect(answer.body).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/ThingName|Colour/) });
    expect(answer.body!.PhysicalResourceId).not.toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers FAILED, without internals, when AWS IoT fails — and the rollback Delete of that id succeeds', async () => {
    stack.core.setFaults({ errorRate: 1, errorCode: 'InternalFailureException', operations: ['CreateKeysAndCertificate'] });
    const answer = await send(request('create', {}, { ThingName: 'cr-failing' }));
    stack.core.setFaults({});
    expect(answer.problems).toEqual([]);
    expect(answer.body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('InternalFailureException') });
    expect(answer.body!.Reason).not.toMatch(/at .*\.ts|PRIVATE KEY|amazonaws\.com/);

    const rollback = await send(request('delete', { PhysicalResourceId: answer.body!.PhysicalResourceId }, { ThingName: 'cr-failing' }));
    expect(rollback.body).toMatchObject({ Status: 'SUCCESS' });
  });
});

describe('Update', () => {
  it('keeps the certificate when ThingName is unchanged, and replaces it (new physical id) when it changes', async () => {
    const created = await send(request('create', {}, { ThingName: 'cr-update-1' }));
    const certificateId = created.body!.PhysicalResourceId as string;

    const kept = await send(request('update', { PhysicalResourceId: certificateId, OldResourceProperties: { ServiceToken: functionArn, ThingName: 'cr-update-1' } }, { ThingName: 'cr-update-1' }));
    expect(kept.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: certificateId, Data: { CertificateId: certificateId } });

    const replaced = await send(request('update', { PhysicalResourceId: certificateId, OldResourceProperties: { ServiceToken: functionArn, ThingName: 'cr-update-1' } }, { ThingName: 'cr-update-2' }));
    const newId = replaced.body!.PhysicalResourceId as string;
    expect(replaced.body).toMatchObject({ Status: 'SUCCESS', Data: { KeyPrefix: 'cr-update-2/' } });
    expect(newId).not.toBe(certificateId);
    expect(await certificateStatus(newId)).toBe('ACTIVE');
    expect(await keysUnder('cr-update-2/')).toHaveLength(3);
    // CloudFormation then deletes the old physical resource.
    const cleanup = await send(request('delete', { PhysicalResourceId: certificateId }, { ThingName: 'cr-update-1' }));
    expect(cleanup.body).toMatchObject({ Status: 'SUCCESS' });
    expect(await certificateStatus(certificateId)).toBe('gone');
    expect(await keysUnder('cr-update-1/')).toEqual([]);
    expect(await keysUnder('cr-update-2/')).toHaveLength(3);
  });
});

describe('Delete', () => {
  it('deletes the objects and the certificate (detached from its thing and policy first), then succeeds again when already gone', async () => {
    const created = await send(request('create', {}, { ThingName: 'cr-delete-1' }));
    const certificateId = created.body!.PhysicalResourceId as string;
    // What the example stack's ThingPrincipalAttachment and PolicyPrincipalAttachment add.
    const account = stack.core.defaultAccount;
    account.things.create('cr-delete-1', {});
    account.things.attachPrincipal('cr-delete-1', `arn:aws:iot:us-east-1:123456789012:cert/${certificateId}`, undefined);
    account.policies.attach(stack.deployed.devicePolicyName, `arn:aws:iot:us-east-1:123456789012:cert/${certificateId}`);

    const deleted = await send(request('delete', { PhysicalResourceId: certificateId }, { ThingName: 'cr-delete-1' }));
    expect(deleted.problems).toEqual([]);
    expect(deleted.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: certificateId });
    expect(await certificateStatus(certificateId)).toBe('gone');
    expect(await keysUnder('cr-delete-1/')).toEqual([]);

    const again = await send(request('delete', { PhysicalResourceId: certificateId }, { ThingName: 'cr-delete-1' }));
    expect(again.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: certificateId });
  });

  it('answers FAILED (not silence) when AWS IoT keeps failing during Delete, so the stack does not wait an hour', async () => {
    const created = await send(request('create', {}, { ThingName: 'cr-delete-2' }));
    const certificateId = created.body!.PhysicalResourceId as string;
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cr-delete-2/private.pem.key' }));
    stack.core.setFaults({ errorRate: 1, errorCode: 'ServiceUnavailableException', operations: ['UpdateCertificate'] });
    const failed = await send(request('delete', { PhysicalResourceId: certificateId }, { ThingName: 'cr-delete-2' }));
    stack.core.setFaults({});
    expect(failed.problems).toEqual([]);
    expect(failed.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: certificateId, Reason: expect.stringContaining('ServiceUnavailable') });
  }, 90_000);
});
