import { SNSClient } from '@aws-sdk/client-sns';
import { publishMessage } from '../../shared/aws/sns/publish';
import { LocalSns } from '../../local/sns/local-sns';
import { LocalSchedules, ratePeriodMs } from '../../local/schedules';

/** The local SNS through the sweep's Publish adapter (the SDK's SNS client: SigV4, Query protocol), and the local schedules. */

const ACCOUNT = '123456789012';
const credentials = async () => ({ accessKeyId: ACCOUNT, secretAccessKey: 'local' });

describe('the local SNS', () => {
  let sns: LocalSns;
  let endpoint: string;
  let topicArn: string;
  let client: SNSClient;
  beforeAll(async () => {
    sns = new LocalSns({ region: 'us-east-1' });
    endpoint = await sns.listen();
    topicArn = sns.createTopic(ACCOUNT, 'findings');
    client = new SNSClient({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
  });
  afterAll(() => {
    client.destroy();
    return sns.close();
  });

  it('keeps what is published to a topic, with its subject, and answers the message id', async () => {
    const id = await publishMessage(client, topicArn, '{"a":"<&>"}', 'certificate expiring: D1');
    expect(sns.messages(topicArn)).toEqual([expect.objectContaining({ messageId: id, message: '{"a":"<&>"}', subject: 'certificate expiring: D1' })]);
  });

  it.each<[string, string, string, string | undefined, string]>([
    ['a topic that does not exist', 'arn:aws:sns:us-east-1:123456789012:nope', 'm', undefined, 'NotFound'],
    ["another account's topic", 'arn:aws:sns:us-east-1:210987654321:findings', 'm', undefined, 'NotFound'],
    ['an empty message', 'TOPIC', '', undefined, 'InvalidParameter'],
    ['a subject of more than 100 characters', 'TOPIC', 'm', 's'.repeat(101), 'InvalidParameter'],
    ['a message over 256 KiB', 'TOPIC', 'x'.repeat(262_145), undefined, 'InvalidParameter'],
  ])('refuses %s as SNS does (%s)', async (_, topic, message, subject, code) => {
    const before = sns.messages(topicArn).length;
    const sent = publishMessage(client, topic === 'TOPIC' ? topicArn : topic, message, subject);
    // The SDK's error class for SNS's code (Query protocol: <Code>NotFound</Code> is NotFoundException).
    await expect(sent).rejects.toMatchObject({ name: `${code}Exception` });
    expect(sns.messages(topicArn)).toHaveLength(before);
  });
});

describe('the local schedules', () => {
  it.each([
    ['rate(1 day)', 86_400_000],
    ['rate(10 minutes)', 600_000],
    ['rate(2 hours)', 7_200_000],
  ])('reads %s', (expression, ms) => {
    expect(ratePeriodMs(expression)).toBe(ms);
  });

  it.each(['cron(0 3 * * ? *)', 'rate(0 days)', 'rate(1 week)', 'daily'])('refuses %s with its name', (expression) => {
    expect(() => ratePeriodMs(expression)).toThrow(`schedule "${expression}"`);
  });

  it('sends the scheduled event EventBridge sends, every period divided by the time scale', async () => {
    const schedules = new LocalSchedules({ timeScale: 60_000 });
    const events: Array<Record<string, unknown>> = [];
    try {
      const { periodMs } = schedules.add({ ruleArn: 'arn:aws:events:us-east-1:123456789012:rule/r', expression: 'rate(10 minutes)', accountId: ACCOUNT, region: 'us-east-1', invoke: (e) => void events.push(e) });
      expect(periodMs).toBe(10);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      schedules.close();
    }
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events[0]).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event', account: ACCOUNT, resources: ['arn:aws:events:us-east-1:123456789012:rule/r'], detail: {} });
    const count = events.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toHaveLength(count);
  });
});
