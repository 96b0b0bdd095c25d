import { randomUUID } from 'node:crypto';
import { raceDeadline } from '../../shared/lambda/deadline';

/**
 * AWS Lambda's asynchronous invocation, as the IoT rules engine uses it: events are queued, run with a
 * concurrency limit, retried twice on error (one minute, then two minutes later), and after the last
 * attempt — or once older than the maximum event age — sent to the on-failure destination with AWS's
 * invocation record. `timeScale` divides every delay, to run the same behaviour faster.
 */

export type LambdaHandler = (event: unknown, context: LambdaContext) => Promise<unknown>;

/** Invokes a function synchronously (RequestResponse); rejects on error or when `timeoutMs` passes. */
export type FunctionInvoker = (functionArn: string, event: unknown, timeoutMs: number) => Promise<unknown>;

export interface LambdaContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

/** The record Lambda sends to an on-failure destination. */
export interface FailureRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetriesExhausted' | 'EventAgeExceeded';
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion: string; functionError: 'Unhandled' };
  responsePayload: { errorType: string; errorMessage: string };
}

export interface AsyncLambdaOptions {
  functionName: string;
  functionArn: string;
  handler: LambdaHandler;
  /** Reserved concurrency: how many invocations run at once. */
  concurrency?: number;
  maximumRetryAttempts?: number;
  maximumEventAgeSeconds?: number;
  timeoutSeconds?: number;
  timeScale?: number;
  onFailure: (record: FailureRecord) => void;
  onResult?: (event: unknown, result: unknown) => void;
}

interface QueuedEvent {
  requestId: string;
  event: unknown;
  attempts: number;
  enqueuedAt: number;
  lastError?: { errorType: string; errorMessage: string };
}

// AWS waits one minute before the first retry and two minutes before the second.
const RETRY_DELAYS_MS = [60_000, 120_000];

export class AsyncLambda {
  readonly stats = { invocations: 0, errors: 0, failures: 0, succeeded: 0 };
  private readonly queue: QueuedEvent[] = [];
  private running = 0;
  private scheduled = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly o: Required<Omit<AsyncLambdaOptions, 'onResult'>> & Pick<AsyncLambdaOptions, 'onResult'>;

  constructor(options: AsyncLambdaOptions) {
    this.o = {
      concurrency: 10,
      maximumRetryAttempts: 2,
      maximumEventAgeSeconds: 21_600,
      timeoutSeconds: 30,
      timeScale: 1,
      ...options,
    };
  }

  /** Queues an event (Invoke with InvocationType=Event); always accepted. */
  invoke(event: unknown): string {
    const requestId = randomUUID();
    this.queue.push({ requestId, event, attempts: 0, enqueuedAt: Date.now() });
    this.pump();
    return requestId;
  }

  /** Resolves once nothing is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  isIdle(): boolean {
    return this.queue.length === 0 && this.running === 0 && this.scheduled === 0;
  }

  private pump(): void {
    while (this.running < this.o.concurrency && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.running++;
      void this.run(item).finally(() => {
        this.running--;
        this.pump();
        if (this.isIdle()) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          waiters.forEach((resolve) => resolve());
        }
      });
    }
  }

  private async run(item: QueuedEvent): Promise<void> {
    const ageMs = (Date.now() - item.enqueuedAt) * this.o.timeScale;
    if (ageMs > this.o.maximumEventAgeSeconds * 1000) {
      this.fail(item, 'EventAgeExceeded');
      return;
    }
    item.attempts++;
    this.stats.invocations++;
    const deadline = Date.now() + this.o.timeoutSeconds * 1000;
    const context: LambdaContext = {
      functionName: this.o.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.o.functionArn,
      memoryLimitInMB: '256',
      awsRequestId: item.requestId,
      logGroupName: `/aws/lambda/${this.o.functionName}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    try {
      const raced = await raceDeadline(() => this.o.handler(structuredClone(item.event), context), deadline);
      if (raced.kind === 'timed-out') throw Object.assign(new Error(`Task timed out after ${this.o.timeoutSeconds} seconds`), { name: 'Sandbox.Timedout' });
      if (raced.kind === 'failed') throw raced.error;
      this.stats.succeeded++;
      this.o.onResult?.(item.event, raced.value);
    } catch (error) {
      this.stats.errors++;
      const e = error instanceof Error ? error : new Error(String(error));
      item.lastError = { errorType: e.name, errorMessage: e.message };
      if (item.attempts > this.o.maximumRetryAttempts) {
        this.fail(item, 'RetriesExhausted');
      } else {
        const delay = RETRY_DELAYS_MS[item.attempts - 1] ?? RETRY_DELAYS_MS.at(-1)!;
        this.scheduled++;
        setTimeout(() => {
          this.scheduled--;
          this.queue.push(item);
          this.pump();
        }, delay / this.o.timeScale);
      }
    }
  }

  private fail(item: QueuedEvent, condition: FailureRecord['requestContext']['condition']): void {
    this.stats.failures++;
    this.o.onFailure({
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: item.requestId,
        functionArn: `${this.o.functionArn}:$LATEST`,
        condition,
        approximateInvokeCount: item.attempts,
      },
      requestPayload: item.event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: item.lastError ?? { errorType: 'EventAgeExceeded', errorMessage: 'event too old' },
    });
  }
}
