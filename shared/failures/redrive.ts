/**
 * Redriving the stack's failure queue (the console's `POST /failure-queue/redrive`): each message goes back
 * to where it failed. SQS's own redrive (StartMessageMoveTask) only moves messages dead-lettered from other
 * SQS queues — "Non-SQS queue sources of dead-letter queues, such as AWS Lambda or Amazon SNS topics, are
 * currently not supported" (SQS API reference, StartMessageMoveTask) — and this queue mixes three kinds, so
 * each message is placed by what it is:
 * - a Lambda on-failure record (activateCertificate, expirySweep, rotateCertificate, rotationEvents): its `requestPayload` is invoked again,
 *   asynchronously, on the function the record names — one of this stack's;
 * - a topic rule error-action message (a rule could not invoke its function): the decoded
 *   `base64OriginalPayload` is invoked on the function of the rule the message names;
 * - a dead letter of the retirement queue (DeadLetterQueueSourceArn): its body is sent back to that queue.
 * A message that is none of these stays in the queue (made visible again), and the answer says why. The
 * handlers are idempotent (style.md §8), so a message redriven twice (a crash between the re-invoke and the
 * delete) does no harm.
 */

import type { ReceivedFailure } from '../aws/failure-queue';
import { parseJsonObject } from '../diagnosis/failure-messages';

export interface RedriveSettings {
  /** This stack's functions whose failures may be re-invoked: by function name. */
  functions: readonly string[];
  /** Each topic rule's function, by rule name (their error actions write the rule messages). */
  ruleFunctions: Readonly<Record<string, string>>;
  /** Dead-letter sources: queue ARN → its URL. */
  deadLetterSources: Readonly<Record<string, string>>;
}

export type RedrivePlan =
  | { kind: 'invoke'; functionName: string; payload: string }
  | { kind: 'send'; queueUrl: string; body: string }
  | { kind: 'keep'; why: string };

type Json = Record<string, unknown>;

const parse = parseJsonObject;

/** arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>] → name */
const functionNameOf = (arn: unknown) => (typeof arn === 'string' ? arn.split(':')[6] : undefined);

export function planRedrive(message: Pick<ReceivedFailure, 'body' | 'deadLetterSourceArn'>, settings: RedriveSettings): RedrivePlan {
  if (message.deadLetterSourceArn) {
    const queueUrl = settings.deadLetterSources[message.deadLetterSourceArn];
    return queueUrl ? { kind: 'send', queueUrl, body: message.body } : { kind: 'keep', why: `dead-lettered from ${message.deadLetterSourceArn}, not a queue of this stack` };
  }
  const json = parse(message.body);
  const context = json?.requestContext as Json | undefined;
  if (context && 'requestPayload' in (json ?? {})) {
    const functionName = functionNameOf(context.functionArn);
    if (!functionName || !settings.functions.includes(functionName)) return { kind: 'keep', why: `a failure of ${functionName ?? 'an unnamed function'}, not a function of this stack` };
    return { kind: 'invoke', functionName, payload: JSON.stringify(json!.requestPayload ?? null) };
  }
  if (typeof json?.ruleName === 'string') {
    if (typeof json.base64OriginalPayload !== 'string') return { kind: 'keep', why: 'a rule error message without its original payload' };
    const payload = Buffer.from(json.base64OriginalPayload, 'base64').toString('utf8');
    if (!parse(payload)) return { kind: 'keep', why: 'a rule error message whose original payload is not a JSON object' };
    const functionName = Object.hasOwn(settings.ruleFunctions, json.ruleName) ? settings.ruleFunctions[json.ruleName] : undefined;
    if (!functionName) return { kind: 'keep', why: `an error of rule ${json.ruleName}, not a rule of this stack` };
    return { kind: 'invoke', functionName, payload };
  }
  return { kind: 'keep', why: 'not a message this stack writes (no Lambda record, rule error or dead letter)' };
}

export interface RedrivePorts {
  receive(max: number): Promise<ReceivedFailure[]>;
  remove(receiptHandle: string): Promise<void>;
  release(receiptHandle: string): Promise<void>;
  invokeAsync(functionName: string, payload: string): Promise<void>;
  send(queueUrl: string, body: string): Promise<void>;
}

export interface RedriveOutcome {
  redriven: Array<{ messageId: string; to: string }>;
  kept: Array<{ messageId: string; why: string }>;
}

/** Redrives up to `max` messages (those one pass of receives finds), each once. */
export async function redriveFailures(max: number, settings: RedriveSettings, ports: RedrivePorts): Promise<RedriveOutcome> {
  const outcome: RedriveOutcome = { redriven: [], kept: [] };
  const seen = new Set<string>();
  // Messages that stay are made visible again only at the end, so the receives of this pass find others.
  const keep: string[] = [];
  while (seen.size < max) {
    const batch = (await ports.receive(Math.min(10, max - seen.size))).filter((m) => !seen.has(m.messageId));
    if (batch.length === 0) break;
    for (const message of batch) {
      seen.add(message.messageId);
      const plan = planRedrive(message, settings);
      if (plan.kind === 'keep') {
        outcome.kept.push({ messageId: message.messageId, why: plan.why });
        keep.push(message.receiptHandle);
        continue;
      }
      try {
        if (plan.kind === 'invoke') await ports.invokeAsync(plan.functionName, plan.payload);
        else await ports.send(plan.queueUrl, plan.body);
      } catch (error) {
        // Not placed: it stays in the queue, visible again, for the next redrive.
        keep.push(message.receiptHandle);
        outcome.kept.push({ messageId: message.messageId, why: `could not be redriven: ${(error as Error).name}` });
        continue;
      }
      // Placed: only now is it removed (a crash before this line redrives it again; the handlers are idempotent).
      await ports.remove(message.receiptHandle);
      outcome.redriven.push({ messageId: message.messageId, to: plan.kind === 'invoke' ? `function ${plan.functionName}` : `queue ${plan.queueUrl.split('/').pop()}` });
    }
  }
  for (const receiptHandle of keep) await ports.release(receiptHandle);
  return outcome;
}
