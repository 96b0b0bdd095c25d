import { readFileSync } from 'node:fs';
import { DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { DynamoDBClient, GetItemCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { fetchRoleCredentials } from '../../device/credential-provider';
import type { IdentityPolicy } from '../../local/iam/local-iam';
import type { CertificateRegisteredEvent } from '../../shared/schemas/certificate-registered-event';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * IAM evaluated locally: every function runs with credentials of its own role from the stack, and what it
 * calls is checked against that role's policies — so a role without a permission fails locally as on AWS.
 */

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken: string };
const keysOf = ({ accessKeyId, secretAccessKey, sessionToken }: Credentials): Credentials => ({ accessKeyId, secretAccessKey, sessionToken });

/** The role's policies without `action` in any statement (a statement left with no action is dropped). */
function without(action: string) {
  return (policies: IdentityPolicy[]): IdentityPolicy[] =>
    policies.map(({ name, policy }) => {
      const document = structuredClone(policy) as { Statement: Array<{ Action: string | string[] }> };
      document.Statement = document.Statement.flatMap((statement) => {
        const actions = ([] as string[]).concat(statement.Action).filter((a) => a !== action);
        return actions.length ? [{ ...statement, Action: actions }] : [];
      });
      return { name, policy: document };
    });
}

describe('a function whose role lacks one permission', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      deploy: { editRole: (logicalId, policies) => (logicalId === 'ActivateCertificateRole' ? without('iot:UpdateCertificate')(policies) : policies) },
    });
  });
  afterAll(() => stack.close());

  it('fails JITR with AccessDeniedException: the certificate stays PENDING_ACTIVATION and the failure record says why', async () => {
    const device = await stack.device('IAM-DENIED-1', { registry: 'allow' });

    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();

    expect((await stack.state(device)).status).toBe('PENDING_ACTIVATION');
    const failure = stack.core.failures.find(
      (f) => f.source === 'lambda' && (f.record.requestPayload as CertificateRegisteredEvent).certificateId === device.certificateId,
    );
    const functionName = stack.deployed.stack.functions.find((fn) => fn.name === 'activateCertificate')!.functionName;
    expect(failure).toMatchObject({
      source: 'lambda',
      record: {
        requestContext: { condition: 'RetriesExhausted' },
        responsePayload: {
          errorType: 'AccessDeniedException',
          errorMessage: expect.stringMatching(
            new RegExp(
              `^User: arn:aws:sts::123456789012:assumed-role/[\\w-]+/${functionName} is not authorized to perform: iot:UpdateCertificate ` +
                `on resource: arn:aws:iot:us-east-1:123456789012:cert/${device.certificateId} because no identity-based policy allows the iot:UpdateCertificate action$`,
            ),
          ),
        },
      },
    });
  });
});

describe('the calls a role session signs', () => {
  let stack: LocalStack;
  let role: Credentials;
  let endpoints: LocalStack['core']['endpoints'];

  beforeAll(async () => {
    stack = await startLocalStack({ core: { credentials: { port: 0 }, mqtt: { port: 0 } } });
    endpoints = stack.core.endpoints;
    // activateCertificate's role: the registry's GetItem, the failure queue's SendMessage, no S3 at all.
    role = stack.core.iam.assumeRole('arn:aws:iam::123456789012:role/iot-provisioner-dev-ActivateCertificateRole', 'iam-test');
  });
  afterAll(() => stack.close());

  const region = 'us-east-1';
  const dynamo = (credentials: Credentials) => new DynamoDBClient({ endpoint: endpoints.dynamodb, region, credentials });
  const sqs = (credentials: Credentials) => new SQSClient({ endpoint: endpoints.sqs, region, credentials });

  it('lets through what the role allows and denies the rest, each service with its own error', async () => {
    const client = dynamo(role);
    await expect(client.send(new GetItemCommand({ TableName: stack.deployed.tableName, Key: { deviceId: { S: 'nobody' } } }))).resolves.toBeDefined();
    const denied = await client.send(new GetItemCommand({ TableName: stack.deployed.ledgerTableName, Key: { pk: { S: 'x' } } })).catch((e: Error) => e);
    expect(denied).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    expect((denied as Error).message).toBe(
      `User: arn:aws:sts::123456789012:assumed-role/iot-provisioner-dev-ActivateCertificateRole/iam-test is not authorized to perform: dynamodb:GetItem ` +
        `on resource: arn:aws:dynamodb:us-east-1:123456789012:table/${stack.deployed.ledgerTableName} because no identity-based policy allows the dynamodb:GetItem action`,
    );
    await expect(client.send(new ListTablesCommand({}))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    client.destroy();

    const queueUrl = `${endpoints.sqs}/123456789012/iot-provisioner-dev-failures`;
    const queue = sqs(role);
    const queueDenied = await queue.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] })).catch((e: Error) => e);
    expect(queueDenied).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect((queueDenied as Error).message).toMatch(/is not authorized to perform: sqs:getqueueattributes on resource: arn:aws:sqs:us-east-1:123456789012:/);
    queue.destroy();

    const iot = new IoTClient({ endpoint: endpoints.iot, region, credentials: role });
    await expect(iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 403 },
      message: expect.stringMatching(/iot:DescribeEndpoint on resource: \* because no identity-based policy allows/),
    });
    iot.destroy();
  });

  it('checks SNS, CloudWatch Logs, CloudWatch and Lambda Invoke too, each with its own error', async () => {
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:any-topic';
    await expect(new SNSClient({ endpoint: endpoints.sns, region, credentials: role }).send(new PublishCommand({ TopicArn: topicArn, Message: 'x' }))).rejects.toMatchObject({
      // The Query code AuthorizationError is the model's AuthorizationErrorException, as the SDK names it.
      name: 'AuthorizationErrorException',
      $metadata: { httpStatusCode: 403 },
      message: expect.stringMatching(/is not authorized to perform: SNS:Publish on resource: arn:aws:sns:us-east-1:123456789012:any-topic because/),
    });
    await expect(
      new CloudWatchLogsClient({ endpoint: endpoints.logs, region, credentials: role }).send(new FilterLogEventsCommand({ logGroupName: 'AWSIotLogsV2' })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException', message: expect.stringMatching(/logs:FilterLogEvents on resource: arn:aws:logs:us-east-1:123456789012:log-group:AWSIotLogsV2 /) });
    await expect(new CloudWatchClient({ endpoint: endpoints.cloudwatch, region, credentials: role }).send(new ListMetricsCommand({}))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(new LambdaClient({ endpoint: endpoints.lambda, region, credentials: role }).send(new InvokeCommand({ FunctionName: 'iot-provisioner-dev-expirySweep' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringMatching(/lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:iot-provisioner-dev-expirySweep /),
    });
  });

  it('refuses a temporary key nobody issued, as each service does (fail closed)', async () => {
    const forged = { accessKeyId: 'ASIA123456789012ZZZZ', secretAccessKey: 'x'.repeat(40), sessionToken: 'forged' };
    await expect(dynamo(forged).send(new ListTablesCommand({}))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(new IoTClient({ endpoint: endpoints.iot, region, credentials: forged }).send(new DescribeEndpointCommand({}))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(
      sqs(forged).send(new SendMessageCommand({ QueueUrl: `${endpoints.sqs}/123456789012/iot-provisioner-dev-failures`, MessageBody: 'x' })),
    ).rejects.toMatchObject({ name: 'InvalidClientTokenId' });
    const s3 = new S3Client({ endpoint: endpoints.s3, region, forcePathStyle: true, credentials: forged });
    await expect(s3.send(new GetObjectCommand({ Bucket: stack.deployed.deviceDataBucket, Key: 'x' }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
  });

  it('checks a device’s S3 calls against its role alias’s role: GetObject on one bucket only', async () => {
    // A role alias whose role allows s3:GetObject on the device-data bucket and nothing else.
    const roleArn = 'arn:aws:iam::123456789012:role/read-device-data';
    stack.core.iam.defineRole(roleArn, [
      {
        name: 'read-only',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${stack.deployed.deviceDataBucket}/*` }] },
      },
    ]);
    const account = stack.core.defaultAccount;
    account.roleAliases.create('read-device-data', { roleArn });
    const device = await stack.device('IAM-S3-1', { registry: 'allow' });
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();
    // The stack's device policy allows AssumeRoleWithCertificate on its own alias only: allow this one too.
    account.policies.create('assume-read-device-data', {
      policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: account.roleAliases.find('read-device-data')!.roleAliasArn }] }),
    });
    account.policies.attach('assume-read-device-data', account.certificates.describe(device.certificateId).certificateArn);
    // The operator puts an object the device may read.
    const operator = new S3Client({ endpoint: endpoints.s3, region, forcePathStyle: true, credentials: { accessKeyId: '123456789012', secretAccessKey: 'local' } });
    await operator.send(new PutObjectCommand({ Bucket: stack.deployed.deviceDataBucket, Key: 'firmware/v1.bin', Body: 'v1' }));
    await operator.send(new PutObjectCommand({ Bucket: stack.deployed.certificateBucket, Key: 'secret.txt', Body: 'not for devices' }));

    const answer = await fetchRoleCredentials({
      endpoint: endpoints.credentials!,
      roleAlias: 'read-device-data',
      identity: { certificatePem: device.certificatePem, privateKeyPem: device.privateKeyPem },
      caPem: readFileSync(endpoints.rootCaFile!, 'utf8'),
      thingName: 'IAM-S3-1',
    });
    if (!('credentials' in answer)) throw new Error(`expected credentials, got ${answer.status}: ${answer.message}`);
    const deviceS3 = new S3Client({ endpoint: endpoints.s3, region, forcePathStyle: true, credentials: keysOf(answer.credentials) });

    const read = await deviceS3.send(new GetObjectCommand({ Bucket: stack.deployed.deviceDataBucket, Key: 'firmware/v1.bin' }));
    expect(await read.Body!.transformToString()).toBe('v1');
    const session = `assumed-role/read-device-data/${device.certificateId}`;
    await expect(deviceS3.send(new PutObjectCommand({ Bucket: stack.deployed.deviceDataBucket, Key: 'things/IAM-S3-1/x', Body: 'x' }))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: `User: arn:aws:sts::123456789012:${session} is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::${stack.deployed.deviceDataBucket}/things/IAM-S3-1/x" because no identity-based policy allows the s3:PutObject action`,
    });
    await expect(deviceS3.send(new GetObjectCommand({ Bucket: stack.deployed.certificateBucket, Key: 'secret.txt' }))).rejects.toMatchObject({ name: 'AccessDenied' });
    operator.destroy();
    deviceS3.destroy();
  });

  it('gives the stack’s alias the thing name as credentials-iot:ThingName: its own prefix only', async () => {
    const device = await stack.device('IAM-S3-2', { registry: 'allow' });
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();
    const answer = await fetchRoleCredentials({
      endpoint: endpoints.credentials!,
      roleAlias: stack.deployed.roleAlias,
      identity: { certificatePem: device.certificatePem, privateKeyPem: device.privateKeyPem },
      caPem: readFileSync(endpoints.rootCaFile!, 'utf8'),
      thingName: 'IAM-S3-2',
    });
    if (!('credentials' in answer)) throw new Error(`expected credentials, got ${answer.status}: ${answer.message}`);
    const deviceS3 = new S3Client({ endpoint: endpoints.s3, region, forcePathStyle: true, credentials: keysOf(answer.credentials) });
    await deviceS3.send(new PutObjectCommand({ Bucket: stack.deployed.deviceDataBucket, Key: 'things/IAM-S3-2/reading.json', Body: '{}' }));
    await expect(deviceS3.send(new PutObjectCommand({ Bucket: stack.deployed.deviceDataBucket, Key: 'things/SOMEONE-ELSE/reading.json', Body: '{}' }))).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    deviceS3.destroy();
  });
});
