import * as z from 'zod/mini';
import './zod';
import { deviceIdSchema } from '../registry/device-entry';

/**
 * The bodies and header of the two HTTP APIs (`functions/vend-certificate`, `functions/vend-provisioning-claim`).
 * Unknown fields are refused: a caller that sends one meant something we would silently ignore.
 */

/** `POST /devices/{deviceId}/certificate`: a CSR (else AWS IoT makes the key) and whether to rotate. */
export const vendBodySchema = z.strictObject(
  {
    csr: z.optional(z.string({ error: 'must be a PEM string' })),
    rotate: z.optional(z.boolean({ error: 'must be true or false' })),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? 'unknown field' : undefined) },
);
export type VendBody = z.infer<typeof vendBodySchema>;

/**
 * `POST /provisioning-claims`: the template is the stack's; the device the claim is for may be named
 * (`{"deviceId": "SENSOR-0001"}`, the console's technician page does), and the claim then provisions that
 * device only.
 */
export const claimBodySchema = z.strictObject({ deviceId: z.optional(deviceIdSchema) }, { error: 'expected {} or {"deviceId": "<serial>"}' });

/** A retried request with the same key gets the first answer (`Idempotency-Key` header). */
export const idempotencyKeySchema = z.string().check(z.regex(/^[A-Za-z0-9_.:-]{8,128}$/, 'must be 8-128 of [A-Za-z0-9_.:-]'));
