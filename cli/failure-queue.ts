import { ListQueuesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueuedFailure } from '../shared/diagnosis/failure-messages';
import type { DiagnosisPorts } from '../shared/diagnosis/gather-facts';
import { CliError } from './target';

/**
 * The stack's failure queue as `devices why` reads it on AWS, without consuming it: the SQS queue of the
 * stack (its ProvisioningFailureQueueUrl output). With --local: lib/local-failure-queue.ts.
 */

type FailureQueue = DiagnosisPorts['failureQueue'];

// Short polling samples a subset of SQS's servers, so a few receives see more of a small queue; each is one
// request (priced per million). Bounded: a failure queue of thousands is a finding of its own.
const RECEIVES = 5;

/**
 * The SQS failure queue, read without consuming: ReceiveMessage with VisibilityTimeout 0 leaves every
 * message visible (and raises its ApproximateReceiveCount, which this queue, without a redrive policy, does
 * not act on). Best-effort: short polling returns a sample, at most 10 a call, so a message may be missed.
 * The queue is unnamed in the stack, so it is found by CloudFormation's name prefix, unless its URL is given.
 */
export function sqsFailureQueue(sqs: SQSClient, queue: { url?: string; namePrefix: string }): FailureQueue {
  return {
    async peek() {
      let url = queue.url;
      if (!url) {
        const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: queue.namePrefix }));
        if (QueueUrls.length !== 1) {
          throw new CliError(`${QueueUrls.length ? 'several queues' : 'no queue'} named ${queue.namePrefix}…; pass --failure-queue-url (the stack's ProvisioningFailureQueueUrl output)`);
        }
        url = QueueUrls[0]!;
      }
      const seen = new Map<string, QueuedFailure>();
      for (let i = 0; i < RECEIVES; i++) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['SentTimestamp'] }),
        );
        for (const m of Messages) {
          const sent = m.Attributes?.SentTimestamp;
          seen.set(m.MessageId ?? String(seen.size), { body: m.Body ?? '', ...(sent ? { sentAt: new Date(Number(sent)).toISOString() } : {}) });
        }
        if (Messages.length === 0) break;
      }
      return [...seen.values()];
    },
  };
}
