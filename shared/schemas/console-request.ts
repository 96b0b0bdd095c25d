import * as z from 'zod/mini';
import './zod';
import { LIFECYCLE_STATES, type LifecycleState } from '../lifecycle/states';
import { deviceAttributesSchema, deviceIdSchema } from '../registry/device-entry';

/**
 * The operator console's HTTP API (issue 12): query strings and bodies of its routes (functions/console-*).
 * Unknown query parameters and body fields are refused, as in the vending API: a caller that sends one meant
 * something we would silently ignore. Query values arrive as strings.
 */

const unknownField = { error: (issue: { code?: string }) => (issue.code === 'unrecognized_keys' ? 'unknown field' : undefined) };

/** A whole number from `min` to `max`, given as a query string value. */
const count = (min: number, max: number) =>
  z.optional(
    z.string().check(z.refine((value) => /^\d{1,6}$/.test(value) && Number(value) >= min && Number(value) <= max, `must be a whole number from ${min} to ${max}`)),
  );

/** Page tokens are base64url text (shared/http/page-token.ts checks what they hold). */
const token = z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,2048}$/, 'must be a nextToken this API returned')));

const stateSchema = z.enum(LIFECYCLE_STATES as unknown as [LifecycleState, ...LifecycleState[]], { error: `must be one of ${LIFECYCLE_STATES.join(', ')}` });

export const DEVICE_LIST_MAX = 100;
export const DEVICE_LIST_DEFAULT = 25;

/** `GET /devices?prefix=&state=&limit=&nextToken=` */
export const deviceListQuerySchema = z.strictObject(
  {
    // A prefix of a device id: the characters a device id may have.
    prefix: z.optional(z.string().check(z.regex(/^[a-zA-Z0-9:_-]{1,128}$/, 'must be 1-128 of [a-zA-Z0-9:_-]'))),
    state: z.optional(stateSchema),
    limit: count(1, DEVICE_LIST_MAX),
    nextToken: token,
  },
  unknownField,
);

export const TIMELINE_PAGE_MAX = 100;
export const TIMELINE_PAGE_DEFAULT = 20;

/** `GET /devices/{deviceId}?timelineLimit=&timelineToken=` */
export const devicePageQuerySchema = z.strictObject({ timelineLimit: count(1, TIMELINE_PAGE_MAX), timelineToken: token }, unknownField);

/** `GET /devices/{deviceId}/why?certificate=` (a certificate id: 64 hex digits). */
export const whyQuerySchema = z.strictObject(
  { certificate: z.optional(z.string().check(z.regex(/^[0-9a-fA-F]{64}$/, 'must be a certificate id (64 hex digits)'))) },
  unknownField,
);

export const DECISIONS_MAX = 200;
export const DECISIONS_DEFAULT = 50;
/** How far back `since` may reach: the chart reads every decision of the window. */
export const DECISIONS_WINDOW_MAX_HOURS = 7 * 24;

/** `GET /decisions?since=&limit=&nextToken=` */
export const decisionsQuerySchema = z.strictObject(
  {
    since: z.optional(z.string().check(z.refine((value) => /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 time (2026-01-31T12:00:00Z)'))),
    limit: count(1, DECISIONS_MAX),
    nextToken: token,
  },
  unknownField,
);

/** The windows of `GET /metrics`: the last hour, day or week. */
export const METRICS_WINDOW_HOURS = ['1', '24', '168'] as const;

/** `GET /metrics?hours=` */
export const metricsQuerySchema = z.strictObject(
  { hours: z.optional(z.enum(METRICS_WINDOW_HOURS, { error: `must be one of ${METRICS_WINDOW_HOURS.join(', ')}` })) },
  unknownField,
);

const thingName = z.string().check(z.regex(/^[a-zA-Z0-9:_-]{1,128}$/, 'must match [a-zA-Z0-9:_-]{1,128}'));

/** `POST /devices/{deviceId}/actions`: one action and the options the CLI takes for it. */
export const deviceActionSchema = z.discriminatedUnion('action', [
  z.strictObject(
    {
      action: z.literal('allow'),
      thingGroup: z.optional(thingName),
      thingType: z.optional(thingName),
      attributes: z.optional(deviceAttributesSchema),
    },
    unknownField,
  ),
  z.strictObject({ action: z.literal('block') }, unknownField),
  z.strictObject({ action: z.literal('suspend') }, unknownField),
  z.strictObject({ action: z.literal('resume') }, unknownField),
  z.strictObject({ action: z.literal('retire'), keepThing: z.optional(z.boolean({ error: 'must be true or false' })) }, unknownField),
  // `devices allow --reprovision`: the device may take a new certificate once; its profile is kept.
  z.strictObject({ action: z.literal('reprovision') }, unknownField),
], { error: 'action must be one of allow, block, suspend, resume, retire, reprovision' });
export type DeviceAction = z.infer<typeof deviceActionSchema>;

export const deviceIdParameterSchema = deviceIdSchema;

/**
 * `POST /devices/import`: the file's text, at most this many bytes — well under the HTTP API's 10 MB payload
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html) and Lambda's 6 MB
 * synchronous payload, even base64-encoded (4/3).
 */
export const IMPORT_MAX_BYTES = 1_048_576;
/** And at most this many rows, so that the import ends well within API Gateway's 30 s. */
export const IMPORT_MAX_ROWS = 5_000;

/** `POST /failure-queue/redrive` `{ "max": n }` (default 10): how many messages one request redrives. */
export const REDRIVE_MAX = 50;
export const redriveBodySchema = z.strictObject(
  { max: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(REDRIVE_MAX))) },
  unknownField,
);
