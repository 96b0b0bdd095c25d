import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * The stack's failure queue (resources/storage.cjs `ProvisioningFailureQueue`), as the console reads and
 * redrives it: one function per SQS call. The queue holds Lambda on-failure records (activateCertificate,
 * expirySweep), the topic rule's error-action messages, and the retirement queue's dead letters.
 */

export interface SqsQueue {
  client: SQSClient;
  queueUrl: string;
}

export interface FailureQueueDepth {
  /** Messages available for retrieval (ApproximateNumberOfMessages). */
  visible: number;
  /** Messages received and not yet deleted or visible again (ApproximateNumberOfMessagesNotVisible). */
  inFlight: number;
  delayed: number;
}

/** The queue's approximate counts (SQS: "approximate", eventually consistent, for a distributed queue). */
export async function failureQueueDepth(queue: SqsQueue): Promise<FailureQueueDepth> {
  const { Attributes = {} } = await queue.client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const n = (name: string) => Number(Attributes[name as keyof typeof Attributes] ?? 0) || 0;
  return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
}

export interface FailureMessage {
  messageId: string;
  body: string;
  /** When SQS accepted it (SentTimestamp). */
  sentAt?: string;
  receiveCount?: number;
  /** A dead letter: the queue it came from (the DeadLetterQueueSourceArn system attribute). */
  deadLetterSourceArn?: string;
}

export interface ReceivedFailure extends FailureMessage {
  receiptHandle: string;
}

const SYSTEM_ATTRIBUTES = ['SentTimestamp', 'ApproximateReceiveCount', 'DeadLetterQueueSourceArn'] as const;

function messageOf(m: { MessageId?: string; Body?: string; ReceiptHandle?: string; Attributes?: Partial<Record<string, string>> }): ReceivedFailure {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    ...(a.SentTimestamp ? { sentAt: new Date(Number(a.SentTimestamp)).toISOString() } : {}),
    ...(a.ApproximateReceiveCount ? { receiveCount: Number(a.ApproximateReceiveCount) } : {}),
    ...(a.DeadLetterQueueSourceArn ? { deadLetterSourceArn: a.DeadLetterQueueSourceArn } : {}),
  };
}

/**
 * Up to 10 messages, hidden for `visibilitySeconds` (0: a peek — they stay visible to everyone at once). A
 * receive raises each message's ApproximateReceiveCount, which this queue, having no redrive policy of its
 * own, does not act on. Short polling samples some of SQS's servers, so a receive may miss messages
 * (SQS developer guide, "Short and long polling").
 */
export async function receiveFailures(queue: SqsQueue, options: { max: number; visibilitySeconds: number }): Promise<ReceivedFailure[]> {
  const { Messages = [] } = await queue.client.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.queueUrl,
      MaxNumberOfMessages: Math.min(10, Math.max(1, options.max)),
      VisibilityTimeout: options.visibilitySeconds,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
    }),
  );
  return Messages.map(messageOf);
}

export async function deleteFailure(queue: SqsQueue, receiptHandle: string): Promise<void> {
  await queue.client.send(new DeleteMessageCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: receiptHandle }));
}

/** Makes a received message visible again at once (a redrive that could not place it). */
export async function releaseFailure(queue: SqsQueue, receiptHandle: string): Promise<void> {
  await queue.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }));
}

/** Sends a dead letter back to the queue it came from (by URL). */
export async function sendToQueue(client: SQSClient, queueUrl: string, body: string): Promise<void> {
  await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}
