import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncLambda, type FailureRecord, type LambdaContext } from '../../local/lambda/async-lambda';
import { WorkerRuntime } from '../../local/lambda/worker-runtime';

/**
 * The local Lambda's timeout of an invocation (local/lambda/): as on AWS, an invocation past the function's
 * limit fails with Sandbox.Timedout, counts as an error for the asynchronous retries, and ends its
 * execution environment.
 */

const context = (remainingMs: number): LambdaContext => {
  const until = Date.now() + remainingMs;
  return {
    functionName: 'fn',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fn',
    memoryLimitInMB: '256',
    awsRequestId: 'r-1',
    logGroupName: '/aws/lambda/fn',
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, until - Date.now()),
  };
};

describe('AsyncLambda', () => {
  it('fails an invocation past its timeout with Sandbox.Timedout, retries it, and reports it once the retries are spent', async () => {
    const failures: FailureRecord[] = [];
    let calls = 0;
    const lambda = new AsyncLambda({
      functionName: 'fn',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fn',
      handler: () => {
        calls++;
        return new Promise(() => {});
      },
      timeoutSeconds: 0.05,
      // Retries one and two minutes later, divided by this.
      timeScale: 2_000,
      onFailure: (record) => failures.push(record),
    });

    lambda.invoke({ n: 1 });
    await lambda.idle();

    expect(calls).toBe(3);
    expect(lambda.stats).toMatchObject({ invocations: 3, errors: 3, succeeded: 0, failures: 1 });
    expect(failures).toEqual([
      expect.objectContaining({
        requestContext: expect.objectContaining({ condition: 'RetriesExhausted', approximateInvokeCount: 3 }),
        responsePayload: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 0.05 seconds' },
      }),
    ]);
  });

  it('hands on the result of an invocation within its timeout', async () => {
    const results: unknown[] = [];
    const lambda = new AsyncLambda({
      functionName: 'fn',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fn',
      handler: async (event) => ({ echoed: event }),
      timeoutSeconds: 1,
      onFailure: () => {},
      onResult: (_, result) => results.push(result),
    });
    lambda.invoke({ n: 1 });
    await lambda.idle();
    expect(results).toEqual([{ echoed: { n: 1 } }]);
  });
});

describe('WorkerRuntime', () => {
  let dir: string;
  let runtime: WorkerRuntime;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-lambda-'));
    writeFileSync(
      join(dir, 'handler.cjs'),
      "exports.handler = async (event) => { if (event.hang) await new Promise((resolve) => setTimeout(resolve, 5000)); return { ok: event.n }; };\n",
    );
    runtime = new WorkerRuntime({ modulePath: join(dir, 'handler.cjs'), exportName: 'handler', environment: {} });
  });

  afterAll(async () => {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers within the limit from a warm environment, and ends the environment of an invocation that timed out', async () => {
    await expect(runtime.handler({ n: 1 }, context(5_000))).resolves.toEqual({ ok: 1 });
    await expect(runtime.handler({ n: 2 }, context(5_000))).resolves.toEqual({ ok: 2 });
    expect(runtime.stats.coldStarts).toBe(1);

    const started = Date.now();
    await expect(runtime.handler({ hang: true }, context(300))).rejects.toMatchObject({ name: 'Sandbox.Timedout', message: 'Task timed out' });
    expect(Date.now() - started).toBeLessThan(2_000);

    await expect(runtime.handler({ n: 3 }, context(5_000))).resolves.toEqual({ ok: 3 });
    expect(runtime.stats.coldStarts).toBe(2);
  });
});
