import * as z from 'zod/mini';
import './zod';

/**
 * An EventBridge scheduled event (a `schedule` event of serverless.yml: `source` aws.events, `detail-type`
 * "Scheduled Event"). The sweep needs none of its fields; it checks that it is one, so that a stray invoke
 * with another payload is refused, not swept on.
 */
export const scheduledEventSchema = z.looseObject({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
  time: z.optional(z.string()),
});

export type ScheduledEvent = z.infer<typeof scheduledEventSchema>;
