import * as z from 'zod/mini';
import './zod';

/**
 * What the rotation CSR rule sends to rotateCertificate: the device's JSON payload (protocol §3.3:
 * `{jobId, clientToken, csr}`) plus the fields the rule's SQL adds
 * (`SELECT *, topic(2) AS thingName, principal() AS principal, clientid() AS clientId FROM 'device/+/rotation/csr'`,
 * functions/rotate-certificate/resources.cjs). `thingName` always comes from the topic; `principal` and
 * `clientId` are absent when the publish did not come over a device connection (rules.ts), which admission
 * refuses. `csr` is checked by admission (`malformed-csr`), so that a bad one is answered, not dropped.
 */
export const rotationCsrEventSchema = z.looseObject({
  thingName: z.string().check(z.minLength(1)),
  jobId: z.string().check(z.minLength(1), z.maxLength(64)),
  clientToken: z.string().check(z.minLength(1), z.maxLength(64)),
  csr: z.optional(z.unknown()),
  principal: z.optional(z.string()),
  clientId: z.optional(z.string()),
});

export type RotationCsrEvent = z.infer<typeof rotationCsrEventSchema>;
