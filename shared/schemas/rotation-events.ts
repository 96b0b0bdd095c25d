import * as z from 'zod/mini';
import './zod';
import { deviceIdSchema } from '../registry/device-entry';

/**
 * The two events the rotation's commit watches (docs/rotation-design.md §1 S2), as the topic rules pass them
 * (`SELECT *`). Loose objects: AWS adding a field never drops an event.
 */

/**
 * `$aws/events/presence/connected/<clientId>` (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html):
 * clientId, timestamp (epoch ms), eventType, sessionIdentifier, principalIdentifier (the certificate id for an
 * X.509 connection), and thingName only with the exclusive-thing feature. The device's client id is its thing
 * name (docs/rotation-protocol.md §1), which is its device id.
 */
export const presenceConnectedEventSchema = z.looseObject({
  eventType: z.literal('connected'),
  clientId: deviceIdSchema,
  thingName: z.optional(deviceIdSchema),
  timestamp: z.number().check(z.gte(0)),
  principalIdentifier: z.string().check(z.minLength(1)),
});
export type PresenceConnectedEvent = z.infer<typeof presenceConnectedEventSchema>;

/**
 * `$aws/events/jobExecution/<jobId>/<operation>` (https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html,
 * enabled by UpdateEventConfigurations JOB_EXECUTION; checked against the page's example payload): eventType
 * JOB_EXECUTION, eventId, timestamp (epoch seconds), operation (succeeded|failed|rejected|timed_out|canceled|
 * removed|deleted), jobId, thingArn (the thing by ARN, not by name), status, statusDetails (absent in captured
 * events without details). "When you delete a job, the operation field in the message reflects this, but the
 * status field reflects the job execution status prior to the deletion" (same page).
 */
export const jobExecutionEventSchema = z.looseObject({
  eventType: z.literal('JOB_EXECUTION'),
  operation: z.optional(z.string()),
  jobId: z.string().check(z.regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be a job id')),
  thingArn: z.string().check(z.regex(/^arn:[^:]+:iot:[^:]*:\d{12}:thing\/[a-zA-Z0-9:_-]{1,128}$/, 'must be a thing ARN')),
  status: z.enum(['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED', 'DELETED']),
  statusDetails: z.optional(z.record(z.string(), z.string())),
  timestamp: z.number().check(z.gte(0)),
});
export type JobExecutionEvent = z.infer<typeof jobExecutionEventSchema>;

/** The thing name of a thing ARN (`arn:aws:iot:<region>:<account>:thing/<name>`). */
export const thingNameOfArn = (thingArn: string): string => thingArn.slice(thingArn.indexOf(':thing/') + ':thing/'.length);
