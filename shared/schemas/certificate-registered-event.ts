import * as z from 'zod/mini';
import './zod';

const certificateIdSchema = z.string().check(z.regex(/^(0x)?[a-fA-F0-9]{64}$/, 'must be a 64-hex certificate id'));

/**
 * The JITR event AWS IoT publishes to `$aws/events/certificates/registered/<caCertificateId>`
 * (aws-iot-reference §1.3). `timestamp` is epoch milliseconds; `certificateRegistrationTimestamp`
 * is documented as a string but arrives as `null` in captured events. Unknown keys (e.g. `sourceIp`)
 * are tolerated: the schema is loose so that AWS adding a field never drops an event.
 */
export const certificateRegisteredEventSchema = z.looseObject({
  certificateId: certificateIdSchema,
  caCertificateId: certificateIdSchema,
  timestamp: z.number().check(z.int(), z.gte(0)),
  certificateStatus: z.literal('PENDING_ACTIVATION'),
  awsAccountId: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit account id')),
  certificateRegistrationTimestamp: z.optional(z.nullable(z.string())),
});

export type CertificateRegisteredEvent = z.infer<typeof certificateRegisteredEventSchema>;
