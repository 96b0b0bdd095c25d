import { z } from 'zod';

/** Thing names (and therefore device ids) as AWS IoT accepts them (aws-iot-reference §4, CreateThing). */
export const DEVICE_ID_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

export const deviceIdSchema = z.string().regex(DEVICE_ID_PATTERN, 'must match [a-zA-Z0-9:_-]{1,128}');

export const rejectionReasonSchema = z.enum([
  'certificate-unreadable',
  'ca-not-allowed',
  'certificate-not-yet-valid',
  'certificate-expired',
  'key-type-not-allowed',
  'key-too-weak',
  'device-id-missing',
  'device-id-invalid',
  'device-blocked',
  'device-not-allowlisted',
  'device-already-bound',
]);
export type RejectionReason = z.infer<typeof rejectionReasonSchema>;

const attributesSchema = z.record(
  z.string().regex(/^[a-zA-Z0-9_.,@/:#=\[\]-]{1,128}$/, 'attribute names are 1-128 of [a-zA-Z0-9_.,@/:#=[]-]'),
  z.string().regex(/^[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}$/, 'attribute values are up to 800 of [a-zA-Z0-9_.,@/:#=[]-]'),
);

/**
 * One item of the device registry table, keyed by device id (= thing name).
 * `status` is absent for devices the registry has only seen (a rejection recorded before any operator
 * decision); such devices are not allow-listed.
 */
export const deviceEntrySchema = z.looseObject({
  deviceId: deviceIdSchema,
  status: z.enum(['allowed', 'blocked']).optional(),
  thingGroup: z.string().min(1).max(128).optional(),
  thingType: z.string().min(1).max(128).optional(),
  attributes: attributesSchema.optional(),
  /** The certificate the device is bound to: claimed while provisioning runs, bound once ACTIVE. */
  certificateId: z.string().optional(),
  bindingState: z.enum(['claimed', 'bound']).optional(),
  thingName: z.string().optional(),
  claimedAt: z.string().optional(),
  boundAt: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  lastRejection: z
    .object({
      reason: rejectionReasonSchema,
      certificateId: z.string(),
      at: z.string(),
    })
    .optional(),
});

export type DeviceEntry = z.infer<typeof deviceEntrySchema>;
export type DeviceAttributes = z.infer<typeof attributesSchema>;
export { attributesSchema as deviceAttributesSchema };
