import type { FailureEvidence } from './facts';

/**
 * The failure queue's messages that concern one certificate, read without knowing which producer wrote
 * them. Three kinds end there (resources/storage.cjs, functions/activate-certificate/resources.cjs):
 * - a Lambda on-failure destination record: `requestPayload` is the event (the registered event carries
 *   `certificateId`), `responsePayload` the error — the AWS Lambda invocation record;
 * - a topic rule's error action message: the event in `base64OriginalPayload`, the errors in `failures[]`;
 * - a message dead-lettered from another queue (the retirement queue): its own body.
 * A message concerns the certificate when its text or its decoded original payload names the id.
 */

/** A message as the failure queue holds it: its body (a JSON text, usually) and when it was sent. */
export interface QueuedFailure {
  body: string;
  sentAt?: string;
}

type Json = { [key: string]: unknown };

/** The JSON object a message body holds; undefined for anything else (a failure queue takes any text). */
export const parseJsonObject = (text: string): Json | undefined => {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
};

const decodeBase64 = (value: unknown): string => (typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '');

/** What failed and with which error, from whichever shape the message has. */
function describe(message: Json | undefined, body: string): Omit<FailureEvidence, 'at'> {
  const context = message?.requestContext as Json | undefined;
  const response = message?.responsePayload as Json | undefined;
  if (context && response) {
    const fn = String(context.functionArn ?? 'a function').split(':').slice(6, 7)[0] ?? 'a function';
    const condition = context.condition ? ` after ${String(context.approximateInvokeCount ?? '?')} attempts (${String(context.condition)})` : '';
    return { origin: `function ${fn}`, error: `${String(response.errorType ?? 'Error')}: ${String(response.errorMessage ?? '')}${condition}`.trim() };
  }
  if (message?.ruleName) {
    const failures = Array.isArray(message.failures) ? (message.failures as Json[]) : [];
    const error = failures.map((f) => String(f.errorMessage ?? f.failedAction ?? '')).filter(Boolean).join('; ') || String(message.error ?? 'the rule action failed');
    return { origin: `rule ${String(message.ruleName)}`, error };
  }
  return { origin: 'a dead-lettered message', error: body.length > 200 ? `${body.slice(0, 200)}…` : body };
}

/** What one message says failed, and with which error (the console's failure-queue list). */
export function summarizeFailure(body: string): Omit<FailureEvidence, 'at'> {
  return describe(parseJsonObject(body), body);
}

/** The messages naming `certificateId` (case-insensitive), oldest first, as evidence lines. */
export function failuresFor(certificateId: string, messages: QueuedFailure[]): FailureEvidence[] {
  const id = certificateId.toLowerCase();
  return messages.flatMap((queued) => {
    const message = parseJsonObject(queued.body);
    const text = `${queued.body}\n${decodeBase64(message?.base64OriginalPayload)}`.toLowerCase();
    if (!text.includes(id)) return [];
    const at = queued.sentAt ?? (typeof message?.timestamp === 'string' ? message.timestamp : undefined);
    return [{ ...describe(message, queued.body), ...(at ? { at } : {}) }];
  });
}

const CERTIFICATE_ID = /^[0-9a-f]{64}$/i;

/**
 * The certificates the messages are about, newest first: the `certificateId` of the event each carries
 * (a Lambda record's `requestPayload`, a rule message's decoded `base64OriginalPayload`, or the body itself).
 */
export function certificateIdsIn(messages: QueuedFailure[]): string[] {
  const ids: string[] = [];
  for (const queued of [...messages].reverse()) {
    const message = parseJsonObject(queued.body);
    const original = parseJsonObject(decodeBase64(message?.base64OriginalPayload));
    for (const candidate of [(message?.requestPayload as Json | undefined)?.certificateId, original?.certificateId, message?.certificateId]) {
      if (typeof candidate === 'string' && CERTIFICATE_ID.test(candidate) && !ids.includes(candidate.toLowerCase())) ids.push(candidate.toLowerCase());
    }
  }
  return ids;
}
