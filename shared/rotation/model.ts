import * as z from 'zod/mini';
import '../schemas/zod';

/**
 * Certificate rotation (issue 14): the names every part of it shares — the device protocol's topics, job
 * document and reasons (docs/rotation-protocol.md), and the per-device rotation state the registry keeps
 * (docs/rotation-design.md §1). The start (`./start.ts`), the CSR step (`./issue.ts`) and the commit and
 * roll-back (`./commit.ts`) each write their transitions of the same `rotation` map.
 */

/** The job document of every rotation (protocol §2). */
export const ROTATION_OPERATION = 'rotate-certificate';
export const KEY_ALGORITHMS = ['EC-P256', 'RSA-2048'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** Rotation jobs' ids start with this (the roles grant `job/rotate-*`); the thing group of a wave is `rotation-<jobId>`. */
export const ROTATION_JOB_PREFIX = 'rotate-';
export const rotationThingGroup = (jobId: string): string => `rotation-${jobId}`;

/** The device's rotation topics (protocol §1): the CSR in, the answer out. */
export const csrTopic = (thingName: string): string => `device/${thingName}/rotation/csr`;
export const certificateTopic = (thingName: string): string => `device/${thingName}/rotation/certificate`;

/** The backend's refusal reasons (protocol §3.4). */
export const REFUSAL_REASONS = [
  'not-bound',
  'suspended',
  'retired',
  'key-reused',
  'weak-key',
  'subject-mismatch',
  'malformed-csr',
  'no-rotation',
  'internal',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/**
 * A rotation's state (design §1): `queued` (started, no CSR yet) → `issuing` (a CSR admitted, the certificate
 * being made) → `issued` (new certificate ACTIVE and attached, sent to the device) → `committed` (the binding
 * moved to it) — or `rolled-back` (the new certificate revoked; the old one and the binding untouched), or
 * `refused` (the CSR was refused before any certificate was made). The last three are terminal.
 */
export const ROTATION_STATES = ['queued', 'issuing', 'issued', 'committed', 'rolled-back', 'refused'] as const;
export type RotationStateName = (typeof ROTATION_STATES)[number];
export const OPEN_ROTATION_STATES: ReadonlySet<RotationStateName> = new Set(['queued', 'issuing', 'issued']);

/** The `rotation` map of a registry entry (one rotation per device at a time; design §1). */
export const rotationSchema = z.looseObject({
  jobId: z.string(),
  state: z.enum(ROTATION_STATES),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** The certificate bound when the rotation started: the one that keeps working until the commit. */
  previousCertificateId: z.string(),
  /** From the admitted CSR: the retry key of the CSR step (thing, jobId, newKeySha256). */
  clientToken: z.optional(z.string()),
  newKeySha256: z.optional(z.string()),
  /** Once CreateCertificateFromCsr has answered. */
  newCertificateId: z.optional(z.string()),
  newCertificateArn: z.optional(z.string()),
  /** When the CSR step set `issued` (written once): the time of its `rotation-issued` timeline event, so a retry writes the same event. */
  issuedAt: z.optional(z.string()),
  /** The two commit signals, each recorded when seen, in any order. */
  newConnectedAt: z.optional(z.string()),
  jobStatus: z.optional(z.string()),
  retirementScheduledAt: z.optional(z.string()),
  /** When the rotation became committed / rolled back: the time of its timeline event, so a retry writes that event once. */
  committedAt: z.optional(z.string()),
  rolledBackAt: z.optional(z.string()),
  /** Why it was refused or rolled back (a refusal reason, or the job execution's status). */
  reason: z.optional(z.string()),
});
export type Rotation = z.infer<typeof rotationSchema>;

/**
 * The job execution statuses that end a rotation without a commit (design §1 S3); DELETED: the job was deleted
 * while the execution was still pending (the event's operation `deleted`, functions/rotation-events/handler.ts).
 */
export const ROLLBACK_JOB_STATUSES: ReadonlySet<string> = new Set(['FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED', 'DELETED']);
