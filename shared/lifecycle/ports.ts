import type { DeviceEntry } from '../registry/device-entry';
import type { CertificateRecord, SettableCertificateStatus } from '../provisioning/iot-ports';
import type { RotationStateName } from '../rotation/model';

/** What the lifecycle workflows (`./actions.ts`) need; `shared/aws/` implements each, one function per call. */

export interface Suspension {
  at: Date;
  certificateId: string;
  thingName: string;
  thingGroups: string[];
  previousStatus?: 'allowed';
}

export interface Retirement {
  at: Date;
  certificateId?: string;
  thingName?: string;
  keepThing: boolean;
}

/**
 * The registry's lifecycle writes. Each `begin…` is conditional on the entry being as it was read
 * (`seenUpdatedAt`), so an action never acts on a state another writer changed meanwhile: `'changed'` then.
 */
export interface LifecycleRegistry {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  /** Records that the certificate is ACTIVE and attached to the thing (the binding port's `markBound`). */
  markBound(deviceId: string, certificateId: string, thingName: string, at: Date): Promise<void>;
  beginSuspension(deviceId: string, suspension: Suspension, seenUpdatedAt: string | undefined): Promise<'done' | 'changed'>;
  /**
   * Restores the status the device had before its suspension (`previousStatus`; absent: none) and records the
   * resume; only while it is suspended with `certificateId`.
   */
  completeResume(deviceId: string, certificateId: string, previousStatus: 'allowed' | undefined, at: Date): Promise<'done' | 'changed'>;
  beginRetirement(deviceId: string, retirement: Retirement, seenUpdatedAt: string | undefined): Promise<'done' | 'changed'>;
  /** Removes the binding and records the retirement complete; only while the device is retired. */
  completeRetirement(deviceId: string, certificateId: string | undefined, at: Date): Promise<'done' | 'changed'>;
  /**
   * Closes an open certificate rotation as rolled back (shared/aws/registry/rotation-commit.ts): only while the
   * rotation is still `jobId` in state `expected`.
   */
  rollBackRotation(deviceId: string, input: { jobId: string; expected: RotationStateName; reason: string; at: Date }): Promise<'done' | 'changed'>;
}

/** The AWS IoT calls the lifecycle makes. */
export interface LifecycleIot {
  describeCertificate(certificateId: string): Promise<CertificateRecord | undefined>;
  updateCertificateStatus(certificateId: string, status: SettableCertificateStatus): Promise<void>;
  /** The thing's groups; `undefined` when the thing does not exist. */
  listThingGroupsForThing(thingName: string): Promise<string[] | undefined>;
  addThingToThingGroup(thingName: string, thingGroupName: string): Promise<void>;
  removeThingFromThingGroup(thingName: string, thingGroupName: string): Promise<void>;
  listAttachedPolicies(certificateArn: string): Promise<string[]>;
  detachPolicy(policyName: string, certificateArn: string): Promise<void>;
  listPrincipalThings(certificateArn: string): Promise<string[]>;
  detachThingPrincipal(thingName: string, certificateArn: string): Promise<void>;
  /** `'principals-attached'`: a detach has not propagated yet (aws-iot-reference §4: it takes seconds). */
  deleteThing(thingName: string): Promise<'deleted' | 'principals-attached'>;
}

export type TimelineEventType =
  | 'allowed'
  | 'blocked'
  | 'claimed'
  | 'decided'
  | 'activated'
  | 'refused'
  | 'suspended'
  | 'resumed'
  | 'retired'
  | 'rotated'
  /** Certificate rotation with Jobs (shared/rotation/): one event per transition, keyed by jobId and state. */
  | 'rotation-queued'
  | 'rotation-issued'
  | 'rotation-committed'
  | 'rotation-rolled-back'
  | 'rotation-refused'
  /** The expiry sweep found the bound certificate expiring, expired or aged (shared/expiry/). */
  | 'finding';

/**
 * Who did it: an operator through the CLI (its caller identity), an API caller (IAM), a user signed in to the
 * console (the user pool's JWT), or a function of the stack.
 */
export interface Actor {
  kind: 'cli' | 'api' | 'user' | 'function';
  /** The caller's ARN, the API caller's identity, the user's email (else username) and subject, or the function's name. */
  id: string;
}

export interface TimelineEvent {
  deviceId: string;
  at: Date;
  type: TimelineEventType;
  actor: Actor;
  certificateId?: string;
  reason?: string;
  detail?: string;
  /**
   * Makes the event's key: the same (at, type, key) is the same event, so a retried action writes it once.
   * Defaults to a random suffix (two events at the same millisecond stay two).
   */
  key?: string;
}

/** The per-device timeline: append-only, bounded by a TTL. */
export interface Timeline {
  append(event: TimelineEvent): Promise<void>;
}

export interface TimelineReader {
  /** The device's events, oldest first, at most `limit` (the newest ones). */
  list(deviceId: string, options?: { limit?: number }): Promise<(Omit<TimelineEvent, 'at' | 'key'> & { at: string })[]>;
}
