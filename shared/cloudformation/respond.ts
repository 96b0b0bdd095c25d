import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * Answering CloudFormation: one JSON body PUT to the request's presigned ResponseURL (aws-iot-reference §7).
 * The ResponseURL is a short-lived credential for that one object: it never appears in a log line or error.
 */

export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  /** Required when FAILED; what the stack's events show. */
  Reason?: string;
  /** Non-empty, at most 1 KB, and the same in every answer for the resource. */
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  NoEcho?: boolean;
  /** What `Fn::GetAtt` reads. */
  Data?: Record<string, string>;
}

/** CloudFormation refuses a larger body (aws-iot-reference §7). */
export const MAX_RESPONSE_BYTES = 4096;

const ELLIPSIS = '…';

/**
 * The JSON body, at most 4096 bytes: a long Reason is cut (on a character boundary) so the answer still
 * fits. If it cannot fit even without a Reason, the answer becomes a FAILED one without Data, which is what
 * CloudFormation would make of the oversized answer anyway, but with a reason that says so.
 */
export function responseBody(response: CustomResourceResponse, maxBytes: number = MAX_RESPONSE_BYTES): string {
  const size = (r: CustomResourceResponse) => Buffer.byteLength(JSON.stringify(r), 'utf8');
  if (size(response) <= maxBytes) return JSON.stringify(response);
  const reason = Array.from(response.Reason ?? '');
  const withReason = (chars: number): CustomResourceResponse => ({ ...response, Reason: reason.slice(0, chars).join('') + ELLIPSIS });
  if (size(withReason(0)) > maxBytes) {
    const failed: CustomResourceResponse = {
      Status: 'FAILED',
      Reason: `the answer was larger than ${maxBytes} bytes`,
      PhysicalResourceId: response.PhysicalResourceId.slice(0, 1024),
      StackId: response.StackId,
      RequestId: response.RequestId,
      LogicalResourceId: response.LogicalResourceId,
    };
    return JSON.stringify(failed);
  }
  // The longest prefix of the Reason that fits (JSON escaping makes bytes per character vary).
  let fits = 0;
  let tooLong = reason.length;
  while (tooLong - fits > 1) {
    const middle = Math.floor((fits + tooLong) / 2);
    if (size(withReason(middle)) <= maxBytes) fits = middle;
    else tooLong = middle;
  }
  return JSON.stringify(withReason(fits));
}

export interface DeliveryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Per attempt. */
  timeoutMs?: number;
  /** Before the second attempt; doubles after each. */
  backoffMs?: number;
  /** Epoch milliseconds after which no attempt starts and none is waited for (the Lambda limit). */
  deadline?: number;
}

const DEFAULT_DELIVERY: Required<Omit<DeliveryOptions, 'deadline'>> = { attempts: 4, timeoutMs: 5_000, backoffMs: 250 };

export class ResponseDeliveryError extends Error {
  override name = 'ResponseDeliveryError';
  constructor(
    message: string,
    readonly attempts: number,
    readonly lastStatus?: number,
  ) {
    super(message);
  }
}

/** PUTs one body; resolves with the HTTP status. */
function putOnce(url: URL, body: string, timeoutMs: number): Promise<number> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method: 'PUT',
        // As AWS's cfn-response module sends it: the presigned URL is signed without a content type.
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(body, 'utf8') },
        timeout: timeoutMs,
      },
      (response: IncomingMessage) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

const retriable = (status: number) => status >= 500 || status === 429;

/**
 * Sends the answer; retries network errors, 5xx and 429 with backoff, never past `deadline`. Any other
 * status (an expired or mis-signed URL answers 403) is final. Throws ResponseDeliveryError when the answer
 * could not be delivered.
 */
export async function sendResponse(
  responseUrl: string,
  response: CustomResourceResponse,
  options: DeliveryOptions = {},
): Promise<{ status: number; attempts: number }> {
  const { attempts, timeoutMs, backoffMs } = { ...DEFAULT_DELIVERY, ...options };
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const url = new URL(responseUrl);
  const body = responseBody(response);
  let lastStatus: number | undefined;
  let lastProblem = 'no attempt was made before the deadline';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) return fail(`${lastProblem}; the deadline has passed`, attempt - 1, lastStatus);
    let status: number | undefined;
    try {
      status = await putOnce(url, body, Math.min(timeoutMs, left));
    } catch (error) {
      lastProblem = `${url.host} could not be reached (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
    }
    if (status !== undefined) {
      if (status >= 200 && status < 300) return { status, attempts: attempt };
      lastStatus = status;
      lastProblem = `${url.host} answered ${status}`;
      if (!retriable(status)) return fail(lastProblem, attempt, status);
    }
    const pause = backoffMs * 2 ** (attempt - 1);
    if (attempt < attempts && Date.now() + pause < deadline) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  return fail(lastProblem, attempts, lastStatus);
}

function fail(problem: string, attempts: number, lastStatus: number | undefined): never {
  throw new ResponseDeliveryError(`the answer to CloudFormation was not delivered after ${attempts} attempt(s): ${problem}`, attempts, lastStatus);
}
