import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createLambdaClient, createSqsClient } from '../../shared/aws/clients';
import { deleteFailure, failureQueueDepth, receiveFailures, releaseFailure, sendToQueue, type FailureMessage } from '../../shared/aws/failure-queue';
import { invokeAsync } from '../../shared/aws/function-invoke';
import { loadConsoleQueueConfig } from '../../shared/config';
import { redriveFailures, type RedriveSettings } from '../../shared/failures/redrive';
import type { HttpApiResult } from '../../shared/http/response';
import { logger } from '../../shared/logger';
import { handleConsoleQueue, type ConsoleQueueDeps } from './http';

/** The console's failure-queue routes (HTTP API, operators' JWT): GET /failure-queue, POST /failure-queue/redrive. */

const config = loadConsoleQueueConfig();
const sqs = createSqsClient({ maxAttempts: 3 });
const lambda = createLambdaClient({ maxAttempts: 3 });
const queue = { client: sqs, queueUrl: config.failureQueueUrl };
const settings: RedriveSettings = {
  functions: config.redriveFunctions,
  ruleFunctions: config.ruleFunctions,
  deadLetterSources: { [config.retirementQueue.arn]: config.retirementQueue.url },
};

// Short polling samples some of SQS's servers: a few receives see more of a small queue (each is one request).
const PEEK_RECEIVES = 5;
// A message being redriven is hidden this long: long enough for its re-invoke or send and its delete.
const REDRIVE_VISIBILITY_SECONDS = 60;

async function peek(): Promise<FailureMessage[]> {
  const seen = new Map<string, FailureMessage>();
  for (let i = 0; i < PEEK_RECEIVES; i++) {
    const messages = await receiveFailures(queue, { max: 10, visibilitySeconds: 0 });
    for (const { receiptHandle: _handle, ...m } of messages) seen.set(m.messageId, m);
    if (messages.length === 0) break;
  }
  return [...seen.values()];
}

const deps: ConsoleQueueDeps = {
  depth: () => failureQueueDepth(queue),
  peek,
  redrive: (max) =>
    redriveFailures(max, settings, {
      receive: (n) => receiveFailures(queue, { max: n, visibilitySeconds: REDRIVE_VISIBILITY_SECONDS }),
      remove: (handle) => deleteFailure(queue, handle),
      release: (handle) => releaseFailure(queue, handle),
      invokeAsync: (functionName, payload) => invokeAsync(lambda, functionName, payload),
      send: (url, body) => sendToQueue(sqs, url, body),
    }),
  now: () => new Date(),
  log: logger,
};

export const lambdaHandler = (event: unknown): Promise<HttpApiResult> => handleConsoleQueue(event, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
