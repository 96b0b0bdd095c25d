import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { LocalSns } from '../../local/sns/local-sns';
import { loadEvent } from '../support/fixtures';
import { loadHandler, TEST_ACCOUNT, TEST_REGION } from '../support/handlers';

/**
 * The sweep's handler as Lambda loads it (serverless.yml's environment): the registry's expiry indexes
 * mocked, the findings published for real to the local SNS (the Publish adapter, signed).
 */

const ddbMock = mockClient(DynamoDBDocumentClient);
const DAY = 86_400_000;
let sns: LocalSns;
let topicArn: string;
let lambdaHandler: typeof import('../../functions/expiry-sweep/handler').lambdaHandler;

beforeAll(async () => {
  sns = new LocalSns({ region: TEST_REGION });
  const endpoint = await sns.listen();
  topicArn = sns.createTopic(TEST_ACCOUNT, 'iot-provisioner-test-findings');
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/expiry-sweep/handler')>('expirySweep', {
    // ROTATION_JOB_TEMPLATE_ARN is the stack's template (!GetAtt): none here, auto-rotation is off by default.
    environment: { FINDINGS_TOPIC_ARN: topicArn, ROTATION_JOB_TEMPLATE_ARN: '', AWS_ENDPOINT_URL_SNS: endpoint, AWS_REGION: TEST_REGION, AWS_ACCESS_KEY_ID: TEST_ACCOUNT, AWS_SECRET_ACCESS_KEY: 'local' },
  }));
});

afterAll(() => sns.close());

beforeEach(() => {
  ddbMock.reset();
});

describe('expirySweep handler', () => {
  it('queries both expiry indexes of every shard and publishes one finding per due device', async () => {
    const now = Date.now();
    ddbMock.on(QueryCommand).callsFake((input: QueryCommandInput) => {
      const values = input.ExpressionAttributeValues as Record<string, string>;
      if (input.IndexName !== 'by-not-after' || values[':shard'] !== '2') return { Items: [] };
      return {
        Items: [
          {
            deviceId: 'D-1',
            certificateId: 'c'.repeat(64),
            bindingState: 'bound',
            notBefore: new Date(now - 100 * DAY).toISOString(),
            // Four whole days and some hours left, whenever within the test the sweep reads the clock.
            notAfter: new Date(now + 5 * DAY - 3_600_000).toISOString(),
            issuer: { subject: 'CN=Device CA', awsIot: false },
            expiryShard: '2',
          },
        ],
      };
    });

    const result = await lambdaHandler(loadEvent('scheduled-event'));

    expect(result).toEqual({ outcome: 'swept', published: 1 });
    const queries = ddbMock.commandCalls(QueryCommand).map((c) => `${c.args[0].input.IndexName}:${(c.args[0].input.ExpressionAttributeValues as Record<string, string>)[':shard']}`);
    expect(queries.sort()).toEqual(['by-not-after:0', 'by-not-after:1', 'by-not-after:2', 'by-not-after:3', 'by-not-before:0', 'by-not-before:1', 'by-not-before:2', 'by-not-before:3']);
    expect(ddbMock.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({ TableName: 'iot-provisioner-test-devices', KeyConditionExpression: 'expiryShard = :shard AND #sortKey <= :at' });
    const [message] = sns.messages(topicArn);
    expect(JSON.parse(message!.message)).toMatchObject({ deviceId: 'D-1', reasons: ['expiring'], daysLeft: 4 });
    // And on the device's timeline, keyed by the certificate and the day (a retried sweep writes it once).
    const timeline = ddbMock.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(timeline).toEqual([
      expect.objectContaining({
        TableName: 'iot-provisioner-test-device-timeline',
        Item: expect.objectContaining({ deviceId: 'D-1', type: 'finding', reason: 'expiring', certificateId: 'c'.repeat(64), actor: { kind: 'function', id: 'expirySweep' } }),
      }),
    ]);
    expect((timeline[0]!.Item as { at: string }).at).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T00:00:00.000Z#finding#${'c'.repeat(64)}#\\d{4}-\\d{2}-\\d{2}$`));
  });

  it('drops an event that is not a scheduled event, without reading the registry', async () => {
    const event = { ...loadEvent('scheduled-event'), source: 'my.app' };
    expect(await lambdaHandler(event)).toEqual({ outcome: 'dropped', reason: 'invalid-event' });
    expect(ddbMock.calls()).toHaveLength(0);
  });
});
