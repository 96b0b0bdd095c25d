import { randomUUID } from 'node:crypto';
import { AsyncLambda, type FailureRecord, type LambdaHandler } from './lambda/async-lambda';
import { RuleEngine, type PublishSource, type TopicRule } from './iot-core/rules';

/**
 * The stack's Lambda functions as the local IoT Core runs them: asynchronous invocation (topic rules,
 * retries, the on-failure destination), synchronous invocation (the pre-provisioning hook, the HTTP API,
 * SQS event source mappings), each account's topic rules, and the failure queue they all report to.
 */

/** A message in the stack's failure queue: a Lambda on-failure record, or a rule error action message. */
export type FailureMessage =
  | { source: 'lambda'; functionName: string; record: FailureRecord }
  | { source: 'rule'; ruleName: string; error: string; payload: unknown; topic?: string; functionArn?: string }
  | { source: 'sqs'; queueName: string; messageId: string; body: string; receiveCount: number; queueArn?: string };

/** The account whose failure queue a failure goes to: its function's, rule action's or queue's (ARN field 5). */
export function accountOfFailure(failure: FailureMessage): string | undefined {
  const arn = failure.source === 'lambda' ? failure.record.requestContext.functionArn : failure.source === 'rule' ? failure.functionArn : failure.queueArn;
  return arn?.split(':')[4];
}

export interface LocalFunctionsOptions {
  region: string;
  defaultAccountId: string;
  /** Divides Lambda's retry delays (one and two minutes on AWS). */
  timeScale: number;
  /** Concurrent invocations per function. */
  concurrency: number;
}

// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>] → without the qualifier
const unqualified = (functionArn: string) => functionArn.split(':').slice(0, 7).join(':');

/** A Lambda function as the local IoT Core runs it: its handler and Lambda's settings for async invocations. */
export interface FunctionOptions {
  functionName: string;
  handler: LambdaHandler;
  maximumRetryAttempts?: number;
  maximumEventAgeSeconds?: number;
  timeoutSeconds?: number;
  accountId?: string;
  /** Lambda's reserved concurrency: caps the function's concurrent invocations below the local default. */
  reservedConcurrency?: number;
}

export class LocalFunctions {
  readonly failures: FailureMessage[] = [];
  /** What each function returned, in completion order (async invocations discard it on AWS). */
  readonly results: Array<{ functionName: string; event: unknown; result: unknown }> = [];
  private readonly ruleEngines = new Map<string, RuleEngine>();
  private readonly lambdas = new Map<string, AsyncLambda>();
  private readonly invokers = new Map<string, { handler: LambdaHandler; functionName: string; timeoutSeconds: number }>();

  constructor(private readonly options: LocalFunctionsOptions) {}

  /** Registers a Lambda function that topic rules can invoke. */
  add(options: FunctionOptions): AsyncLambda {
    const accountId = options.accountId ?? this.options.defaultAccountId;
    const functionArn = `arn:aws:lambda:${this.options.region}:${accountId}:function:${options.functionName}`;
    const lambda = new AsyncLambda({
      functionName: options.functionName,
      functionArn,
      handler: options.handler,
      concurrency: Math.min(this.options.concurrency, options.reservedConcurrency ?? Infinity),
      timeScale: this.options.timeScale,
      ...(options.maximumRetryAttempts !== undefined ? { maximumRetryAttempts: options.maximumRetryAttempts } : {}),
      ...(options.maximumEventAgeSeconds !== undefined ? { maximumEventAgeSeconds: options.maximumEventAgeSeconds } : {}),
      ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
      onFailure: (record) => this.failures.push({ source: 'lambda', functionName: options.functionName, record }),
      onResult: (event, result) => this.results.push({ functionName: options.functionName, event, result }),
    });
    this.lambdas.set(functionArn, lambda);
    this.invokers.set(functionArn, { handler: options.handler, functionName: options.functionName, timeoutSeconds: options.timeoutSeconds ?? 30 });
    return lambda;
  }

  /** Invokes a function asynchronously (InvocationType Event): false when there is no such function. */
  invokeAsync(functionArn: string, event: unknown): boolean {
    const lambda = this.lambdas.get(unqualified(functionArn));
    if (!lambda) return false;
    lambda.invoke(structuredClone(event));
    return true;
  }

  /**
   * Invokes a function synchronously (InvocationType RequestResponse), as IoT calls a pre-provisioning
   * hook: the answer, or an error when the function fails or `timeoutMs` passes.
   */
  async invoke(functionArn: string, event: unknown, timeoutMs: number): Promise<unknown> {
    const target = this.invokers.get(unqualified(functionArn));
    if (!target) throw new Error(`function ${functionArn} does not exist`);
    const budget = Math.min(timeoutMs, target.timeoutSeconds * 1000);
    const deadline = Date.now() + budget;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        target.handler(structuredClone(event), {
          functionName: target.functionName,
          functionVersion: '$LATEST',
          invokedFunctionArn: functionArn,
          memoryLimitInMB: '256',
          awsRequestId: randomUUID(),
          logGroupName: `/aws/lambda/${target.functionName}`,
          logStreamName: 'local',
          callbackWaitsForEmptyEventLoop: true,
          getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${budget} ms`)), budget);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The topic rules of an account. */
  rules(accountId: string): RuleEngine {
    let engine = this.ruleEngines.get(accountId);
    if (!engine) {
      engine = new RuleEngine(
        (functionArn, event) => {
          const lambda = this.lambdas.get(unqualified(functionArn));
          if (!lambda) return false;
          lambda.invoke(event);
          return true;
        },
        (ruleName, error, failed) => this.failures.push({ source: 'rule', ruleName, error, payload: failed.payload, topic: failed.topic, functionArn: failed.functionArn }),
      );
      this.ruleEngines.set(accountId, engine);
    }
    return engine;
  }

  addRule(rule: TopicRule, accountId: string, createdAt?: Date): void {
    this.rules(accountId).addRule(rule, createdAt);
  }

  /** A message published by the service (an event) on an account's topic: the rules that matched it. */
  publish(accountId: string, topic: string, payload: unknown, source?: PublishSource): string[] {
    return this.rules(accountId).publish(topic, payload, source);
  }

  isIdle(): boolean {
    return [...this.lambdas.values()].every((lambda) => lambda.isIdle());
  }

  /** Resolves once every function has finished its queued work, retries included (not what it queues anew). */
  async idle(): Promise<void> {
    await Promise.all([...this.lambdas.values()].map((lambda) => lambda.idle()));
  }
}
