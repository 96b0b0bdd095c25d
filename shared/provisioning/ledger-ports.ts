import type { ProvisioningRecord } from '../registry/ports';

/**
 * The provisioning ledger (`shared/aws/provisioning-ledger.ts` implements every port here): claim certificates
 * we issued and every hook decision, Idempotency-Keys of the vending API, and JITR's activation leases.
 */

/** Who asked for a claim certificate (the JWT's subject and username). */
export interface Requester {
  sub: string;
  username?: string;
}

export interface IssuedClaim {
  claimCertificateId: string;
  templateName: string;
  requestedBy: Requester;
  issuedAt: Date;
  expiresAt: Date;
  /** The device the claim was vended for: the hook then provisions that device only (`claim-not-for-device`). */
  deviceId?: string;
}

export interface ProvisioningDecision extends ProvisioningRecord {
  deviceId?: string;
  requestedBy?: Requester;
}

export type IdempotencyBegin =
  | { state: 'new' }
  /**
   * An earlier attempt with this key failed, or died (still marked running long after any attempt can
   * run): this one takes over, with what the earlier one saved (`saveProgress`), if anything.
   */
  | { state: 'resumed'; progress?: unknown }
  | { state: 'completed'; response: unknown }
  | { state: 'in-progress' }
  | { state: 'mismatch' };

/** A retried request with the same Idempotency-Key gets the first answer (the ledger implements it). */
export interface IdempotencyStore {
  /** Starts a request, or tells what the key already stands for. */
  begin(key: string, requestFingerprint: string, at: Date): Promise<IdempotencyBegin>;
  /** Keeps what the request has made so far with its key, so that a retry after a crash carries on with it. */
  saveProgress(key: string, progress: unknown): Promise<void>;
  complete(key: string, response: unknown, at: Date): Promise<void>;
  /** The request failed: a retry may run it again — from its saved progress, if any, else afresh. */
  abandon(key: string): Promise<void>;
}

/**
 * Leases on a JITR registration (the provisioning ledger implements them): AWS IoT re-publishes the
 * registered event on every reconnect while the certificate is pending, so a burst of first connects brings
 * many duplicates. The invocation holding the lease does the work; the others are dropped before any IoT
 * call, leaving the control-plane quota to new devices. A lease ends on its own, so a crashed holder blocks
 * nobody for longer than one invocation can run.
 */
export interface ActivationLeases {
  /** True if this invocation may work on the registration until `until`. */
  takeLease(key: string, until: Date, now: Date): Promise<boolean>;
  /** The work failed: the next delivery (a Lambda retry or the device's next connect) may take it. */
  releaseLease(key: string): Promise<void>;
}

/** The provisioning ledger: claim certificates we issued and every hook decision (`shared/aws/provisioning-ledger.ts`). */
export interface ProvisioningLedger {
  recordClaim(claim: IssuedClaim): Promise<void>;
  getClaim(claimCertificateId: string): Promise<IssuedClaim | undefined>;
  recordDecision(decision: ProvisioningDecision): Promise<void>;
}
