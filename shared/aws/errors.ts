/**
 * What the AWS SDK's errors mean to a workflow, decided in one place. The SDK's own retry strategy
 * classifies throttling by these error names (@smithy/core retry `THROTTLING_ERROR_CODES`), by HTTP 429,
 * and by the `$retryable.throttling` mark a service model gives an error; an error that is still thrown
 * after the SDK's attempts is answered "retry later" (HTTP 429) when it is one of them.
 */

const THROTTLING_ERROR_NAMES = new Set([
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

interface SdkErrorShape {
  name?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/** True when AWS refused the request for its rate: the caller should retry later. */
export function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & SdkErrorShape;
  return THROTTLING_ERROR_NAMES.has(e.name) || e.$metadata?.httpStatusCode === 429 || e.$retryable?.throttling === true;
}

/** True when the error is the SDK's error of that name (its exception classes set `name`). */
export const isNamed = (error: unknown, ...names: string[]): boolean => error instanceof Error && names.includes(error.name);
