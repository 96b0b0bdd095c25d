import * as z from 'zod/mini';
import '../schemas/zod';
import { rotationSchema } from '../rotation/model';

/** Thing names (and therefore device ids) as AWS IoT accepts them (aws-iot-reference §4, CreateThing). */
export const DEVICE_ID_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

export const deviceIdSchema = z.string().check(z.regex(DEVICE_ID_PATTERN, 'must match [a-zA-Z0-9:_-]{1,128}'));

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
  'device-suspended',
  'device-retired',
  'device-not-allowlisted',
  'device-already-bound',
  // a key pinned at the factory (`pinnedKeySha256`)
  'key-not-pinned',
  // certificate vending (a CSR)
  'csr-unreadable',
  'csr-subject-mismatch',
  // fleet provisioning (pre-provisioning hook)
  'invalid-event',
  'template-not-allowed',
  'certificate-not-pending',
  'parameters-invalid',
  'claim-not-for-template',
  'claim-not-for-device',
  'claim-unknown',
  'deadline-exceeded',
  'internal-error',
]);
export type RejectionReason = z.infer<typeof rejectionReasonSchema>;

// AWS IoT thing attributes: names up to 128 and values up to 800 of [a-zA-Z0-9_.,@/:#=[]-].
export const deviceAttributesSchema = z.record(
  z.string().check(z.regex(/^[a-zA-Z0-9_.,@/:#=\[\]-]{1,128}$/, 'attribute names are 1-128 of [a-zA-Z0-9_.,@/:#=[]-]')),
  z.string().check(z.regex(/^[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}$/, 'attribute values are up to 800 of [a-zA-Z0-9_.,@/:#=[]-]')),
);
export type DeviceAttributes = z.infer<typeof deviceAttributesSchema>;

const name = z.string().check(z.minLength(1), z.maxLength(128));

/** A key fingerprint as the registry keeps it: 64 lower-case hex digits. */
export const KEY_SHA256_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The stored lifecycle status (`shared/lifecycle/states.ts` has the states and the transitions). `allowed` and
 * `blocked` are what items have always held; `suspended` and `retired` are new values of the same attribute,
 * so items written before them read unchanged (no migration). `provisioned` is not stored: it is derived
 * (not suspended/retired/blocked, and bound), because the binding already records it and storing it twice
 * could disagree.
 */
export const deviceStatusSchema = z.enum(['allowed', 'blocked', 'suspended', 'retired']);
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

/**
 * One item of the device registry table, keyed by device id (= thing name).
 * `status` is absent for devices the registry has only seen (a rejection recorded before any operator
 * decision); such devices are not allow-listed.
 */
export const deviceEntrySchema = z.looseObject({
  deviceId: deviceIdSchema,
  status: z.optional(deviceStatusSchema),
  thingGroup: z.optional(name),
  thingType: z.optional(name),
  attributes: z.optional(deviceAttributesSchema),
  /**
   * The device's key, recorded at the factory (`devices import`): the lower-case hex SHA-256 of its DER
   * SubjectPublicKeyInfo. When present, only a certificate or CSR with this key can become the device's
   * identity (`key-not-pinned`); absent, any key may (as before pinning existed).
   */
  pinnedKeySha256: z.optional(z.string().check(z.regex(KEY_SHA256_PATTERN, 'must be 64 lower-case hex digits'))),
  /** The certificate the device is bound to: claimed while provisioning runs, bound once ACTIVE. */
  certificateId: z.optional(z.string()),
  bindingState: z.optional(z.enum(['claimed', 'bound'])),
  thingName: z.optional(z.string()),
  claimedAt: z.optional(z.string()),
  boundAt: z.optional(z.string()),
  /**
   * The bound certificate's validity (ISO 8601) and issuer, recorded with the binding (issue 11 §3). Absent on
   * entries bound before they were recorded, and removed with the binding (a new claim, an unbinding).
   */
  notBefore: z.optional(z.string()),
  notAfter: z.optional(z.string()),
  issuer: z.optional(z.looseObject({ subject: z.string(), awsIot: z.boolean() })),
  /**
   * Only bound entries with recorded certificate facts have it: the partition key of the registry's sparse
   * expiry indexes (resources/storage.cjs), so "what expires before T" reads bound entries only.
   */
  expiryShard: z.optional(z.string()),
  /** The partition of the registry's device-list index (every entry: shared/aws/registry/entries.ts `listShardOf`). */
  listShard: z.optional(z.string()),
  createdAt: z.optional(z.string()),
  updatedAt: z.optional(z.string()),
  /** Set by an operator to let the device take a new certificate once while its current one is ACTIVE. */
  reprovision: z.optional(z.boolean()),
  lastProvisioning: z.optional(
    z.looseObject({
      at: z.string(),
      outcome: z.enum(['allowed', 'denied']),
      reason: z.optional(z.string()),
      templateName: z.string(),
      claimCertificateId: z.string(),
      certificateId: z.string(),
      clientId: z.string(),
    }),
  ),
  /**
   * While suspended: the certificate suspended, the thing's groups to return it to on resume, and the status
   * to restore (absent: the device had none, as in `ca` mode).
   */
  suspension: z.optional(
    z.looseObject({
      at: z.string(),
      certificateId: z.string(),
      thingName: z.optional(z.string()),
      thingGroups: z.array(z.string()),
      previousStatus: z.optional(z.enum(['allowed'])),
    }),
  ),
  /** The last resume, so a retried resume records the same timeline event once. */
  lastResume: z.optional(z.object({ at: z.string(), certificateId: z.string() })),
  /**
   * A retirement: set when it starts (with the certificate and thing it takes down), `completedAt` once the
   * certificate is revoked and detached and the registry's binding removed. Kept after completion as history.
   */
  retirement: z.optional(
    z.looseObject({
      at: z.string(),
      certificateId: z.optional(z.string()),
      thingName: z.optional(z.string()),
      keepThing: z.boolean(),
      completedAt: z.optional(z.string()),
    }),
  ),
  /** The device's certificate rotation, open or the last one (shared/rotation/model.ts; issue 14). */
  rotation: z.optional(rotationSchema),
  lastRevocation: z.optional(z.object({ certificateId: z.string(), at: z.string() })),
  lastRejection: z.optional(
    z.object({
      reason: rejectionReasonSchema,
      certificateId: z.string(),
      at: z.string(),
    }),
  ),
});

export type DeviceEntry = z.infer<typeof deviceEntrySchema>;
