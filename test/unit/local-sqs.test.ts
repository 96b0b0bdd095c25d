import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { failureQueueView } from '../../local/sqs/failure-queue-view';
import type { FailureMessage } from '../../local/local-functions';
import { LocalSqs, type SqsRecord } from '../../local/sqs/local-sqs';

/** The local SQS: SendMessage through the real SDK, delays, partial batch failures, redrive to the dead-letter target. */

let sqs: LocalSqs;
let client: SQSClient;
const deadLetters: Array<{ queueName: string; body: string; receiveCount: number }> = [];

beforeEach(async () => {
  deadLetters.length = 0;
  // Time divided by 1000: a 30 s visibility timeout is 30 ms.
  sqs = new LocalSqs({ region: 'us-east-1', timeScale: 1000, onDeadLetter: (_arn, queueName, m) => deadLetters.push({ queueName, ...m }) });
  const endpoint = await sqs.listen(0);
  client = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: '123456789012', secretAccessKey: 'local' } });
});

afterEach(async () => {
  client.destroy();
  await sqs.close();
});

it('delivers a delayed message only after its delay, with the record fields Lambda gives', async () => {
  const { url, arn } = sqs.createQueue('123456789012', 'work', { visibilityTimeoutSeconds: 30 });
  const received: Array<{ at: number; record: SqsRecord }> = [];
  sqs.addConsumer(arn, { batchSize: 10, reportBatchItemFailures: true, invoke: async ({ Records }) => void received.push(...Records.map((record) => ({ at: Date.now(), record }))) });

  const sentAt = Date.now();
  const sent = await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '{"job":1}', DelaySeconds: 300 }));
  await sqs.idle();

  expect(received).toHaveLength(1);
  expect(received[0]!.at - sentAt).toBeGreaterThanOrEqual(290); // 300 s / 1000
  expect(received[0]!.record).toMatchObject({ messageId: sent.MessageId, body: '{"job":1}', eventSource: 'aws:sqs', eventSourceARN: arn, attributes: { ApproximateReceiveCount: '1' } });
});

it('retries only the records the function reports as failed, then dead-letters them after maxReceiveCount', async () => {
  const { url, arn } = sqs.createQueue('123456789012', 'retries', { visibilityTimeoutSeconds: 30, redrive: { deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:dlq', maxReceiveCount: 3 } });
  const attempts: Record<string, number> = {};
  sqs.addConsumer(arn, {
    batchSize: 10,
    reportBatchItemFailures: true,
    invoke: async ({ Records }) => {
      for (const r of Records) attempts[r.body] = (attempts[r.body] ?? 0) + 1;
      return { batchItemFailures: Records.filter((r) => r.body === 'poison').map((r) => ({ itemIdentifier: r.messageId })) };
    },
  });
  await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'fine' }));
  await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison' }));
  await sqs.idle();

  expect(attempts).toEqual({ fine: 1, poison: 3 });
  expect(deadLetters).toEqual([expect.objectContaining({ queueName: 'retries', body: 'poison', receiveCount: 3 })]);
});

it('retries the whole batch when the function throws', async () => {
  const { url, arn } = sqs.createQueue('123456789012', 'throws', { visibilityTimeoutSeconds: 30 });
  let calls = 0;
  sqs.addConsumer(arn, {
    batchSize: 10,
    reportBatchItemFailures: true,
    invoke: async () => {
      calls += 1;
      if (calls === 1) throw new Error('boom');
    },
  });
  await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'a' }));
  await sqs.idle();
  expect(calls).toBe(2);
});

it('answers QueueDoesNotExist for an unknown queue and refuses a delay above 900 s', async () => {
  const { url } = sqs.createQueue('123456789012', 'known');
  await expect(client.send(new SendMessageCommand({ QueueUrl: url.replace('known', 'unknown'), MessageBody: 'x' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
  await expect(client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', DelaySeconds: 901 }))).rejects.toThrow(/DelaySeconds/);
});

describe('the failure queue, served from the core’s failure list', () => {
  const url = () => `${sqs.endpoint}/123456789012/svc-failures`;
  const count = async () => (await client.send(new GetQueueAttributesCommand({ QueueUrl: url(), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes;

  it('shows each failure as AWS writes it, peeks without hiding, hides what is received, and deletes from the list', async () => {
    const failures: FailureMessage[] = [
      { source: 'rule', ruleName: 'r', error: 'Lambda x cannot be invoked', payload: { certificateId: 'c1' }, topic: 't/1', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:x' },
      { source: 'sqs', queueName: 'svc-retirements', messageId: 'm-1', body: '{"certificateId":"c2"}', receiveCount: 5 },
    ];
    sqs.hostQueue('123456789012', 'svc-failures', failureQueueView(failures, (name) => `arn:aws:sqs:us-east-1:123456789012:${name}`));

    const peek = await client.send(new ReceiveMessageCommand({ QueueUrl: url(), MaxNumberOfMessages: 10, VisibilityTimeout: 0, MessageSystemAttributeNames: ['All'] }));
    expect(peek.Messages).toHaveLength(2);
    const rule = JSON.parse(peek.Messages![0]!.Body!) as Record<string, any>;
    expect(rule).toMatchObject({ ruleName: 'r', topic: 't/1', failures: [{ failedAction: 'LambdaAction', errorMessage: 'Lambda x cannot be invoked' }] });
    expect(JSON.parse(Buffer.from(rule.base64OriginalPayload, 'base64').toString('utf8'))).toEqual({ certificateId: 'c1' });
    expect(peek.Messages![1]).toMatchObject({ MessageId: 'm-1', Attributes: { DeadLetterQueueSourceArn: 'arn:aws:sqs:us-east-1:123456789012:svc-retirements' } });
    expect(await count()).toEqual({ ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' });

    const taken = await client.send(new ReceiveMessageCommand({ QueueUrl: url(), MaxNumberOfMessages: 1, VisibilityTimeout: 60 }));
    expect(await count()).toMatchObject({ ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '1' });
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url(), ReceiptHandle: taken.Messages![0]!.ReceiptHandle!, VisibilityTimeout: 0 }));
    expect(await count()).toMatchObject({ ApproximateNumberOfMessages: '2' });

    await client.send(new DeleteMessageCommand({ QueueUrl: url(), ReceiptHandle: taken.Messages![0]!.ReceiptHandle! }));
    expect(failures.map((f) => f.source)).toEqual(['sqs']);
    await expect(client.send(new ReceiveMessageCommand({ QueueUrl: `${sqs.endpoint}/123456789012/other`, VisibilityTimeout: 0 }))).rejects.toThrow(/failure queue only/);
  });
});
