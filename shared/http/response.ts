import { isThrottling } from '../aws/errors';
import type { Issue } from '../schemas/issues';

/** API Gateway HTTP API (payload 2.0) answers. Bodies never carry raw errors or internals. */
export interface HttpApiResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpApiResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** A refusal of the caller's request: a message for people, a machine-readable reason, and what was wrong. */
export function refusal(statusCode: number, message: string, reason: string, issues?: readonly Issue[]): HttpApiResult {
  return jsonResponse(statusCode, { message, reason, ...(issues ? { issues } : {}) });
}

/**
 * What a request that failed unexpectedly answers: 429 (`retry-after: 1`) when AWS still throttled after the
 * SDK's attempts — the caller retries, with its Idempotency-Key —, else 500 without internals.
 */
export function failureAnswer(error: unknown): HttpApiResult {
  if (isThrottling(error)) return jsonResponse(429, { message: 'Too many requests; retry later.' }, { 'retry-after': '1' });
  return jsonResponse(500, { message: 'Internal error' });
}
