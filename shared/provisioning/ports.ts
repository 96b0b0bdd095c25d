import type { CaFacts } from '../admission/admit';
import type { DeviceAttributes, DeviceEntry, RejectionReason } from '../registry/device-entry';

/** The narrow view of AWS IoT that provisioning workflows use; `shared/aws/iot-directory.ts` implements it. */

export interface CertificateRecord {
  certificateId: string;
  certificateArn: string;
  caCertificateId: string | undefined;
  status: string;
  certificatePem: string;
}

export interface ThingSpec {
  thingName: string;
  thingTypeName?: string;
  attributes: Record<string, string>;
}

export type SettableCertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED';

export interface IotDirectory {
  /** `undefined` when the certificate does not exist. */
  describeCertificate(certificateId: string): Promise<CertificateRecord | undefined>;
  /** `undefined` when the CA is not registered in this account. */
  describeCaCertificate(caCertificateId: string): Promise<CaFacts | undefined>;
  /** Creates the thing; an existing thing of that name (even with other attributes) counts as done. */
  createThing(thing: ThingSpec): Promise<'created' | 'exists'>;
  addThingToThingGroup(thingName: string, thingGroupName: string): Promise<void>;
  attachPolicy(policyName: string, certificateArn: string): Promise<void>;
  /** Attaches exclusively: the certificate may belong to this thing only. */
  attachThingPrincipal(thingName: string, certificateArn: string): Promise<void>;
  detachThingPrincipal(thingName: string, certificateArn: string): Promise<void>;
  updateCertificateStatus(certificateId: string, status: SettableCertificateStatus): Promise<void>;
  listPrincipalThings(certificateArn: string): Promise<string[]>;
  listAttachedPolicies(certificateArn: string): Promise<string[]>;
  /** A temporary claim certificate for a provisioning template (trusted-user provisioning). */
  createProvisioningClaim(templateName: string): Promise<ProvisioningClaim>;
  /** An endpoint address of the account (`iot:Data-ATS`, `iot:CredentialProvider`). */
  describeEndpoint(type: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string>;
  /** A new key pair and certificate (INACTIVE); the private key is returned this once. */
  createKeysAndCertificate(): Promise<IssuedCertificate & { privateKey: string; publicKey: string }>;
  /** A certificate (INACTIVE) for the key of a CSR; the private key stays with the device. */
  createCertificateFromCsr(csrPem: string): Promise<IssuedCertificate>;
  detachPolicy(policyName: string, certificateArn: string): Promise<void>;
  /**
   * Deletes a certificate that is not ACTIVE; policies still attached go with it (`forceDelete`).
   * `'not-found'`: it was gone already. `'things-attached'`: a thing is still attached — detaching is
   * asynchronous in AWS IoT (aws-iot-reference §4), so a caller that just detached it tries again shortly.
   */
  deleteCertificate(certificateId: string): Promise<'deleted' | 'not-found' | 'things-attached'>;
}

export interface IssuedCertificate {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
}

export interface ProvisioningClaim {
  certificateId: string;
  certificatePem: string;
  privateKey: string;
  expiration: Date;
}

export interface DeviceRejection {
  reason: RejectionReason;
  certificateId: string;
  at: Date;
}

export type ClaimResult = { claimed: true } | { claimed: false; current: DeviceEntry | undefined };

/** What provisioning needs from the device registry; `shared/aws/device-registry.ts` implements it. */
export interface DeviceRegistry {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  /**
   * Claims the device for a certificate before provisioning starts, so two certificates cannot both
   * become its identity. Succeeds when the device is unbound (`previousCertificateId` absent) or still
   * bound to `previousCertificateId`, and when it is already claimed by this certificate.
   */
  claim(deviceId: string, certificateId: string, options: { previousCertificateId?: string; at: Date }): Promise<ClaimResult>;
  /** Records that the certificate is ACTIVE and attached to the thing. */
  markBound(deviceId: string, certificateId: string, thingName: string, at: Date): Promise<void>;
  recordRejection(deviceId: string, rejection: DeviceRejection): Promise<void>;
  /** Records the pre-provisioning hook's last decision on the device's entry. */
  recordProvisioning(deviceId: string, record: ProvisioningRecord): Promise<void>;
  /** Removes the device's binding to `certificateId` (revocation); false when it was bound to another. */
  unbind(deviceId: string, certificateId: string, at: Date): Promise<boolean>;
}

export interface ProvisioningRecord {
  at: Date;
  outcome: 'allowed' | 'denied';
  reason?: string;
  templateName: string;
  claimCertificateId: string;
  certificateId: string;
  clientId: string;
}

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

/** Delayed work: retiring a rotated certificate after its grace period (`shared/aws/retirement-queue.ts`). */
export interface RetirementQueue {
  schedule(retirement: Retirement, delaySeconds: number): Promise<void>;
}

export interface Retirement {
  deviceId: string;
  certificateId: string;
  thingName: string;
}

/** The provisioning ledger: claim certificates we issued and every hook decision (`shared/aws/provisioning-ledger.ts`). */
export interface ProvisioningLedger {
  recordClaim(claim: IssuedClaim): Promise<void>;
  getClaim(claimCertificateId: string): Promise<IssuedClaim | undefined>;
  recordDecision(decision: ProvisioningDecision): Promise<void>;
}

/** What the operator CLI does with the registry. */
export interface DeviceRegistryAdmin {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  allow(
    deviceId: string,
    options: { thingGroup?: string; thingType?: string; attributes?: DeviceAttributes; reprovision?: boolean },
    at: Date,
  ): Promise<DeviceEntry>;
  block(deviceId: string, at: Date): Promise<DeviceEntry>;
}

/** The logging surface workflows use (Powertools' Logger satisfies it). */
export type LogAttributes = Record<string, unknown>;
export interface Log {
  debug(message: string, ...extra: LogAttributes[]): void;
  info(message: string, ...extra: LogAttributes[]): void;
  warn(message: string, ...extra: LogAttributes[]): void;
  error(message: string, ...extra: LogAttributes[]): void;
}

/** Key material of a vended certificate, as files under `<thingName>/` (`shared/aws/certificate-store.ts`). */
export interface CertificateMaterial {
  certificateId: string;
  certificatePem: string;
  publicKey: string;
  privateKey: string;
}

/** An object under `<thingName>/` and what wrote it. */
export interface StoredObject {
  /** Which part of the material it holds; absent for any other object under the prefix. */
  part?: 'certificatePem' | 'publicKey' | 'privateKey';
  certificateId?: string;
  /** The CloudFormation request that wrote it. */
  requestId?: string;
}

export interface CertificateStore {
  /** Where a thing's objects are: the bucket and the `<thingName>/` prefix. */
  locationOf(thingName: string): { bucket: string; prefix: string };
  /**
   * Writes (or overwrites) the certificate and both keys, each marked with the certificate id and the
   * request that wrote it; settles only once every write has (none is left in flight on failure).
   */
  put(thingName: string, material: CertificateMaterial, requestId: string): Promise<void>;
  /** The objects under `<thingName>/` with their marks; nothing there is an empty list. */
  inspect(thingName: string): Promise<StoredObject[]>;
  /**
   * Removes the objects under `<thingName>/` that belong to `certificateId`; objects another certificate
   * wrote there since (a replacement for the same thing) are left alone. Nothing there counts as done.
   */
  remove(thingName: string, certificateId: string): Promise<{ removed: number; kept: number }>;
  /**
   * Before a Delete removes a certificate: records, for each request whose objects name it, that the
   * certificate it made is deleted — so that a late retry of that request makes no new one. Idempotent.
   */
  markDeleted(thingName: string, certificateId: string): Promise<void>;
  /** The certificate a request made, if a Delete has removed it since (`markDeleted`). */
  deletedFor(thingName: string, requestId: string): Promise<string | undefined>;
}
