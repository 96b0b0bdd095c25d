import * as z from 'zod/mini';
import './zod';

/** SQS event source batches; records are decoded one by one so one bad message fails alone. */
export const sqsEventSchema = z.looseObject({
  Records: z.array(z.looseObject({ messageId: z.string(), body: z.string() })),
});

export type SqsEvent = z.infer<typeof sqsEventSchema>;

/** A rotated-out certificate to retire after its grace period. */
export const retirementSchema = z.object({
  deviceId: z.string().check(z.regex(/^[a-zA-Z0-9:_-]{1,128}$/)),
  certificateId: z.string().check(z.regex(/^[a-f0-9]{64}$/)),
  thingName: z.string().check(z.minLength(1)),
});

export type Retirement = z.infer<typeof retirementSchema>;
