import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/**
 * Invokes a function asynchronously (InvocationType Event): Lambda queues the event and answers 202; the
 * function's own retries and on-failure destination then apply, as they did the first time. "For
 * asynchronous invocations, the maximum payload size is 1 MB" (Lambda API reference, Invoke:
 * https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html): a failure-queue message (SQS: 256 KB) fits.
 */
export async function invokeAsync(client: LambdaClient, functionName: string, payload: string): Promise<void> {
  const answer = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(payload, 'utf8') }));
  if (answer.StatusCode !== 202) throw new Error(`Invoke of ${functionName} answered ${String(answer.StatusCode)}`);
}
