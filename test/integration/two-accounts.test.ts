import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand } from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { connectOnce, disconnect, publishAcknowledged } from '../../device/mqtt-connection';
import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { decisionIn } from '../../local/sandbox/accounts';
import { connectJitr } from '../../local/sandbox/simulator';
import { startStackHarness, type AccountStack, type StackHarness } from '../../local/stack-harness';

/**
 * Seed 000 end to end over real MQTT/TLS: the stack deployed into accounts A and B, one CA registered
 * SNI_ONLY in both; a device reaches an account by naming its endpoint in SNI, and that account's handler
 * decides with that account's registry. What one account holds (tables, queues, buckets) the other's
 * operator neither sees nor reaches.
 */

const A = '111122223333';
const B = '444455556666';
let harness: StackHarness;
let a: AccountStack;
let b: AccountStack;
let ca: KeyedCertificate;

beforeAll(async () => {
  harness = await startStackHarness({ core: { lambdaTimeScale: 1_000, mqtt: { port: 0 } }, accounts: [A, B] });
  a = harness.accounts.get(A)!;
  b = harness.accounts.get(B)!;
  ca = await createCa({ commonName: 'MultiAccountRootCA' });
  await a.registerCa(ca);
  await b.registerCa(ca);
});

afterAll(async () => {
  await harness.close();
});

const operator = (accountId: string) => ({ region: harness.core.endpoints.region, credentials: { accessKeyId: accountId, secretAccessKey: 'local' } });

async function device(deviceId: string, allowedIn: AccountStack[]): Promise<KeyedCertificate> {
  for (const stack of allowedIn) await stack.registry.allow(deviceId, {}, new Date());
  return issueCertificate(ca, { subject: { serialNumber: deviceId } });
}

describe('two accounts, one SNI_ONLY CA (seed 000)', () => {
  it('deploys the stack into both accounts: each its own endpoint and bucket, the same table names', () => {
    expect(harness.accounts.size).toBe(2);
    expect(a.dataEndpoint).toBe('localhost');
    expect(b.dataEndpoint).toMatch(/-ats\.iot\.us-east-1\.amazonaws\.com$/);
    expect(b.endpoint).toMatchObject({ host: 'localhost', servername: b.dataEndpoint });
    expect(b.deployed.tableName).toBe(a.deployed.tableName);
    expect(b.deployed.deviceDataBucket).not.toBe(a.deployed.deviceDataBucket);
    expect(b.deployed.deviceDataBucket).toContain(B);
    expect(harness.core.registry.account(A).certificates.findCa(ca.certificateId)?.certificateMode).toBe('SNI_ONLY');
    expect(harness.core.registry.account(B).certificates.findCa(ca.certificateId)?.certificateMode).toBe('SNI_ONLY');
  });

  it('a device allowed in A, at A’s endpoint, is activated by A’s handler and is unknown in B', async () => {
    const certificate = await device('SEED000-A', [a]);
    const mqtt = await connectJitr({ endpoint: a.endpoint!, core: harness.core }, certificate, ca, 'SEED000-A', 3);

    expect(mqtt.connected).toBe(true);
    expect(decisionIn(harness.core, A, certificate.certificateId)).toMatchObject({ outcome: 'activated' });
    expect(decisionIn(harness.core, B, certificate.certificateId)).toBeUndefined();
    expect(await a.describe(certificate.certificateId)).toMatchObject({ status: 'ACTIVE', things: ['SEED000-A'], policies: [a.deployed.devicePolicyName] });
    expect(await b.describe(certificate.certificateId)).toEqual({ status: undefined, things: [], policies: [] });
  });

  it('a device allowed in B, at B’s endpoint, is activated by B’s handler and is unknown in A', async () => {
    const certificate = await device('SEED000-B', [b]);
    const mqtt = await connectJitr({ endpoint: b.endpoint!, core: harness.core }, certificate, ca, 'SEED000-B', 3);

    expect(mqtt.connected).toBe(true);
    expect(decisionIn(harness.core, B, certificate.certificateId)).toMatchObject({ outcome: 'activated' });
    expect(await b.describe(certificate.certificateId)).toMatchObject({ status: 'ACTIVE', things: ['SEED000-B'] });
    expect(await a.describe(certificate.certificateId)).toEqual({ status: undefined, things: [], policies: [] });
  });

  it('a device allowed only in A, at B’s endpoint, is refused in B (B revokes B’s copy) and A is untouched', async () => {
    const certificate = await device('SEED000-AONLY', [a]);
    expect((await connectJitr({ endpoint: a.endpoint!, core: harness.core }, certificate, ca, 'SEED000-AONLY', 3)).connected).toBe(true);
    const inA = await a.describe(certificate.certificateId);

    const atB = await connectJitr({ endpoint: b.endpoint!, core: harness.core }, certificate, ca, 'SEED000-AONLY', 3);

    expect(atB.connected).toBe(false);
    expect(decisionIn(harness.core, B, certificate.certificateId)).toMatchObject({ outcome: 'rejected', reason: 'device-not-allowlisted' });
    expect(await b.describe(certificate.certificateId)).toEqual({ status: 'REVOKED', things: [], policies: [] });
    // B's handler recorded the refusal in B's registry; A's entry knows nothing of it.
    expect(await b.registry.get('SEED000-AONLY')).toMatchObject({ lastRejection: { reason: 'device-not-allowlisted', certificateId: certificate.certificateId } });
    expect(await b.registry.get('SEED000-AONLY')).not.toHaveProperty('status');
    expect(await a.registry.get('SEED000-AONLY')).not.toHaveProperty('lastRejection');
    expect(await a.describe(certificate.certificateId)).toEqual(inA);
    expect(inA).toMatchObject({ status: 'ACTIVE', things: ['SEED000-AONLY'] });
    const again = await connectJitr({ endpoint: a.endpoint!, core: harness.core }, certificate, ca, 'SEED000-AONLY', 1);
    expect(again).toMatchObject({ connected: true, attempts: 1, published: true });
  });

  it('keeps each account’s MQTT apart: the same client id in A and B, and a topic of B never reaches A’s subscriber', async () => {
    // In each account, a client allowed everything under shared/* (the same policy, the same client id).
    const clientIn = async (stack: AccountStack): Promise<MqttClient> => {
      const arn = `arn:aws:iot:us-east-1:${stack.accountId}`;
      const policyName = 'shared-topics';
      await stack.iot.send(
        new CreatePolicyCommand({
          policyName,
          policyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arn}:client/same-client` },
              { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive', 'iot:RetainPublish'], Resource: `${arn}:topic/shared/*` },
              { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${arn}:topicfilter/shared/*` },
            ],
          }),
        }),
      );
      const keys = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await stack.iot.send(new AttachPolicyCommand({ policyName, target: keys.certificateArn }));
      const { client, error } = await connectOnce(stack.endpoint!, { certificatePem: keys.certificatePem!, privateKeyPem: keys.keyPair!.PrivateKey! }, 'same-client');
      if (!client) throw new Error(`could not connect in ${stack.accountId}: ${error}`);
      return client;
    };
    const inA = await clientIn(a);
    const inB = await clientIn(b);
    try {
      const received: Record<string, string[]> = { A: [], B: [] };
      inA.on('message', (topic, payload) => received.A!.push(`${topic} ${payload.toString()}`));
      inB.on('message', (topic, payload) => received.B!.push(`${topic} ${payload.toString()}`));
      await inA.subscribeAsync('shared/#', { qos: 1 });
      await inB.subscribeAsync('shared/#', { qos: 1 });

      await publishAcknowledged(inB, 'shared/news', 'from B');
      await publishAcknowledged(inA, 'shared/news', 'from A');
      await new Promise((resolve) => setTimeout(resolve, 300));

      // Both connections with one client id stay up: client ids are per account.
      expect(inA.connected && inB.connected).toBe(true);
      expect(received).toEqual({ A: ['shared/news from A'], B: ['shared/news from B'] });

      // Retained messages are per account too: B's is sent to B's exact subscription, never to A's.
      const retainedGot: Record<string, string[]> = { A: [], B: [] };
      inA.on('message', (topic, payload, packet) => packet.retain && retainedGot.A!.push(`${topic} ${payload.toString()}`));
      inB.on('message', (topic, payload, packet) => packet.retain && retainedGot.B!.push(`${topic} ${payload.toString()}`));
      await inB.publishAsync('shared/config', 'B config', { qos: 1, retain: true });
      await inA.subscribeAsync('shared/config', { qos: 1 });
      await inB.subscribeAsync('shared/config', { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(retainedGot).toEqual({ A: [], B: ['shared/config B config'] });
    } finally {
      await disconnect(inA);
      await disconnect(inB);
    }
  });

  it('each account’s registry table holds only its own devices (same table name, one store per account)', async () => {
    const scan = async (accountId: string) => {
      const dynamodb = new DynamoDBClient({ ...operator(accountId), endpoint: harness.core.endpoints.dynamodb });
      try {
        const { Items } = await dynamodb.send(new ScanCommand({ TableName: a.deployed.tableName }));
        return (Items ?? []).map((item) => item.deviceId?.S).sort();
      } finally {
        dynamodb.destroy();
      }
    };
    const inA = await scan(A);
    const inB = await scan(B);
    expect(inA).toEqual(expect.arrayContaining(['SEED000-A', 'SEED000-AONLY']));
    expect(inA).not.toContain('SEED000-B');
    expect(inB).not.toContain('SEED000-A');
    expect(inB).toContain('SEED000-B');
  });

  it('a queue of A is neither found nor reachable by B’s operator', async () => {
    const sqs = (accountId: string) => new SQSClient({ ...operator(accountId), endpoint: harness.core.endpoints.sqs, maxAttempts: 1 });
    const [sqsA, sqsB] = [sqs(A), sqs(B)];
    const QueueName = `${a.deployed.stack.service}-${a.deployed.stack.stage}-retirements`;
    try {
      const queueOfA = (await sqsA.send(new GetQueueUrlCommand({ QueueName }))).QueueUrl!;
      expect(queueOfA).toContain(`/${A}/`);
      expect((await sqsB.send(new GetQueueUrlCommand({ QueueName }))).QueueUrl).toContain(`/${B}/`);
      await expect(sqsB.send(new GetQueueUrlCommand({ QueueName, QueueOwnerAWSAccountId: A }))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
      await expect(sqsB.send(new SendMessageCommand({ QueueUrl: queueOfA, MessageBody: '{}' }))).rejects.toMatchObject({ name: 'AccessDenied' });
    } finally {
      sqsA.destroy();
      sqsB.destroy();
    }
  });

  it('a bucket of A is not readable or writable with B’s operator key', async () => {
    const s3 = (accountId: string) => new S3Client({ ...operator(accountId), endpoint: harness.core.endpoints.s3, forcePathStyle: true, maxAttempts: 1 });
    const [s3A, s3B] = [s3(A), s3(B)];
    const Bucket = a.deployed.deviceDataBucket;
    try {
      await s3A.send(new PutObjectCommand({ Bucket, Key: 'things/SEED000-A/reading.json', Body: '{"t":1}' }));
      await expect(s3B.send(new GetObjectCommand({ Bucket, Key: 'things/SEED000-A/reading.json' }))).rejects.toMatchObject({ name: 'AccessDenied' });
      await expect(s3B.send(new ListObjectsV2Command({ Bucket }))).rejects.toMatchObject({ name: 'AccessDenied' });
      await expect(s3B.send(new PutObjectCommand({ Bucket, Key: 'things/x', Body: 'x' }))).rejects.toMatchObject({ name: 'AccessDenied' });
      expect((await s3A.send(new ListObjectsV2Command({ Bucket }))).Contents?.map((o) => o.Key)).toEqual(['things/SEED000-A/reading.json']);
      await s3B.send(new PutObjectCommand({ Bucket: b.deployed.deviceDataBucket, Key: 'mine', Body: 'b' }));
    } finally {
      s3A.destroy();
      s3B.destroy();
    }
  });
});
