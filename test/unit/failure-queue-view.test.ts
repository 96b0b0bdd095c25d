import type { FailureMessage } from '../../local/local-functions';
import { failureQueueView } from '../../local/sqs/failure-queue-view';

/** Each account's stack has its own failure queue: the view of an account holds that account's failures. */

const failures = (): FailureMessage[] => [
  { source: 'rule', ruleName: 'r', error: 'e', payload: {}, functionArn: 'arn:aws:lambda:us-east-1:111111111111:function:x' },
  { source: 'rule', ruleName: 'r', error: 'e', payload: {}, functionArn: 'arn:aws:lambda:us-east-1:222222222222:function:x' },
  { source: 'sqs', queueName: 'q', messageId: 'm-b', body: '{}', receiveCount: 5, queueArn: 'arn:aws:sqs:us-east-1:222222222222:svc-failures' },
  {
    source: 'lambda',
    functionName: 'x',
    record: {
      version: '1.0',
      timestamp: new Date(0).toISOString(),
      requestContext: { requestId: 'r-1', functionArn: 'arn:aws:lambda:us-east-1:111111111111:function:x:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: {},
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'Error', errorMessage: 'boom' },
    },
  },
];
const arnOf = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

it('holds the account’s own failures (its functions’, rule actions’ and queues’) and deletes only those', () => {
  const list = failures();
  const a = failureQueueView(list, arnOf, '111111111111');
  const b = failureQueueView(list, arnOf, '222222222222');
  expect(a.messages()).toHaveLength(2);
  expect(b.messages().map((m) => m.messageId)).toContain('m-b');
  expect(b.messages()).toHaveLength(2);

  a.remove('m-b');
  expect(list).toHaveLength(4);
  b.remove('m-b');
  expect(list).toHaveLength(3);
  expect(failureQueueView(list, arnOf).messages()).toHaveLength(3);
});
