import { randomUUID } from 'node:crypto';
import { accountOfFailure, type FailureMessage } from '../local-functions';
import type { HostedQueue, HostedMessage } from './local-sqs';

/**
 * The stack's failure queue as SQS serves it (local-sqs.ts `hostQueue`): the local IoT Core keeps the
 * failures as a list (`core.failures`, which tests and the sandbox read), and this view shows each one as
 * its AWS producer writes it to SQS, so that the console's functions read and redrive it through the SDK:
 * - a Lambda on-failure record: the record itself (Lambda developer guide, "Adding a destination");
 * - a rule error action: `{ ruleName, topic, base64OriginalPayload, failures: [{ failedAction,
 *   failedResource, errorMessage }] }` (AWS IoT developer guide, "Error handling (error action)":
 *   https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html);
 * - a dead letter: its body, with the DeadLetterQueueSourceArn system attribute naming the queue it left.
 * Deleting a message removes it from the list. With `accountId`, the view holds that account's failures only
 * (each account's stack has its own failure queue).
 */
export function failureQueueView(failures: FailureMessage[], sourceArnOf: (queueName: string) => string, accountId?: string): HostedQueue {
  const mine = (failure: FailureMessage) => {
    const owner = accountId === undefined ? undefined : accountOfFailure(failure);
    return owner === undefined || owner === accountId;
  };
  const ids = new WeakMap<FailureMessage, { messageId: string; sentAt: number }>();
  const idOf = (failure: FailureMessage) => {
    let id = ids.get(failure);
    if (!id) {
      id = { messageId: failure.source === 'sqs' ? failure.messageId : randomUUID(), sentAt: Date.now() };
      ids.set(failure, id);
    }
    return id;
  };
  const bodyOf = (failure: FailureMessage): string => {
    switch (failure.source) {
      case 'lambda':
        return JSON.stringify(failure.record);
      case 'rule':
        return JSON.stringify({
          ruleName: failure.ruleName,
          ...(failure.topic ? { topic: failure.topic } : {}),
          ...(failure.payload !== null && failure.payload !== undefined ? { base64OriginalPayload: Buffer.from(JSON.stringify(failure.payload)).toString('base64') } : {}),
          failures: [{ failedAction: 'LambdaAction', ...(failure.functionArn ? { failedResource: failure.functionArn } : {}), errorMessage: failure.error }],
        });
      case 'sqs':
        return failure.body;
    }
  };
  return {
    messages: () =>
      failures.filter(mine).map((failure): HostedMessage => {
        const { messageId, sentAt } = idOf(failure);
        return {
          messageId,
          body: bodyOf(failure),
          sentAt,
          ...(failure.source === 'sqs' ? { attributes: { DeadLetterQueueSourceArn: sourceArnOf(failure.queueName) } } : {}),
        };
      }),
    remove: (messageId) => {
      const index = failures.findIndex((failure) => mine(failure) && idOf(failure).messageId === messageId);
      if (index >= 0) failures.splice(index, 1);
    },
  };
}
