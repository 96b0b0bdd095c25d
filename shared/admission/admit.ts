import type { CertificateFacts } from '../certificates/certificate-facts';
import { DEVICE_ID_PATTERN, type DeviceEntry, type RejectionReason } from '../registry/device-entry';

/**
 * Admission: the pure decision whether a certificate may become a device's identity.
 * No clients, no clock of its own: callers pass the facts they looked up and `now`.
 */

export type AdmissionMode = 'allowlist' | 'ca';
export type DeviceIdSource = 'serialNumber' | 'commonName' | 'serialNumberOrCommonName';

export interface AdmissionPolicy {
  /** `allowlist` admits registry-allowed devices only; `ca` admits any device of an allowed CA unless blocked. */
  mode: AdmissionMode;
  /** Explicit CA ids; when absent, every CA registered ACTIVE with auto-registration ENABLE is allowed. */
  allowedCaIds?: readonly string[];
  deviceIdSource: DeviceIdSource;
  /** What to do when the device is already bound to another ACTIVE certificate. */
  boundDevice: 'refuse' | 'replace';
}

/** The CA as DescribeCACertificate reports it; `undefined` when it is not registered. */
export interface CaFacts {
  status: string | undefined;
  autoRegistrationStatus: string | undefined;
}

export type Rejection = {
  admitted: false;
  reason: RejectionReason;
  deviceId?: string;
  /** What could not be read, when the reason is `certificate-unreadable` or `csr-unreadable`. */
  detail?: string;
};

export type CertificateDecision = { admitted: true; deviceId: string } | Rejection;

export type DeviceIdResult =
  | { deviceId: string }
  | { reason: Extract<RejectionReason, 'device-id-missing' | 'device-id-invalid'> };

/** Takes the device id from the subject: the `serialNumber` attribute, the CN, or the first present. */
export function deviceIdFromSubject(subject: CertificateFacts['subject'], source: DeviceIdSource): DeviceIdResult {
  const candidates =
    source === 'serialNumber'
      ? subject.serialNumber
      : source === 'commonName'
        ? subject.commonName
        : subject.serialNumber.length > 0
          ? subject.serialNumber
          : subject.commonName;
  const distinct = [...new Set(candidates)];
  if (distinct.length === 0 || distinct[0] === '') return { reason: 'device-id-missing' };
  // Two different values for the attribute are ambiguous: refuse rather than guess which one names the device.
  if (distinct.length > 1) return { reason: 'device-id-invalid' };
  const deviceId = distinct[0]!;
  return DEVICE_ID_PATTERN.test(deviceId) ? { deviceId } : { reason: 'device-id-invalid' };
}

function caAllowed(caCertificateId: string, ca: CaFacts | undefined, policy: Pick<AdmissionPolicy, 'allowedCaIds'>): boolean {
  if (policy.allowedCaIds) {
    const id = caCertificateId.toLowerCase();
    return policy.allowedCaIds.some((allowed) => allowed.toLowerCase() === id);
  }
  return ca?.status === 'ACTIVE' && ca.autoRegistrationStatus === 'ENABLE';
}

export function keyRejection(key: CertificateFacts['key']): RejectionReason | undefined {
  switch (key.type) {
    case 'rsa':
      return key.bits >= 2048 ? undefined : 'key-too-weak';
    case 'ec':
      return key.curve === 'P-256' || key.curve === 'P-384' ? undefined : 'key-type-not-allowed';
    default:
      return 'key-type-not-allowed';
  }
}

/** The validity window and key checks. */
export function checkValidityAndKey(certificate: CertificateFacts, now: Date): RejectionReason | undefined {
  if (now.getTime() < certificate.notBefore.getTime()) return 'certificate-not-yet-valid';
  if (now.getTime() > certificate.notAfter.getTime()) return 'certificate-expired';
  return keyRejection(certificate.key);
}

/**
 * One rule about the certificate (or CSR) that would become the device's identity. A flow lists the rules
 * that apply to it, in the order their reasons are decided:
 * - `ca`: its CA is allowed (`ca-not-allowed`);
 * - `validity`: now is inside its validity window (`certificate-not-yet-valid`, `certificate-expired`);
 * - `key`: RSA ≥ 2048 or EC P-256/P-384 (`key-too-weak`, `key-type-not-allowed`);
 * - `subject`: its subject names the device — the device id is read from it (`device-id-missing`,
 *   `device-id-invalid`), or, when the request names the device, it must name that one (`csr-subject-mismatch`).
 */
export type CertificateRule = 'ca' | 'validity' | 'key' | 'subject';

/** What a certificate shows (a CSR has no validity window). */
export type CandidateFacts = Pick<CertificateFacts, 'subject' | 'key' | 'publicKeySha256'> &
  Partial<Pick<CertificateFacts, 'notBefore' | 'notAfter'>>;

/**
 * Checks the certificate against `rules`, in order. The device is the one the request names (`deviceId`),
 * else the one the subject names; a rejection carries the device id whenever one is known, so the registry
 * can record it.
 */
export function checkCertificateRules(
  input: { certificate: CandidateFacts; caCertificateId?: string; ca?: CaFacts | undefined; deviceId?: string },
  rules: readonly CertificateRule[],
  policy: Pick<AdmissionPolicy, 'allowedCaIds' | 'deviceIdSource'>,
  now: Date,
): CertificateDecision {
  const { certificate } = input;
  const identity = deviceIdFromSubject(certificate.subject, policy.deviceIdSource);
  const deviceId = input.deviceId ?? ('deviceId' in identity ? identity.deviceId : undefined);
  const reject = (reason: RejectionReason): Rejection =>
    deviceId === undefined ? { admitted: false, reason } : { admitted: false, reason, deviceId };

  for (const rule of rules) {
    switch (rule) {
      case 'ca':
        if (!caAllowed(input.caCertificateId ?? '', input.ca, policy)) return reject('ca-not-allowed');
        break;
      case 'validity':
        if (certificate.notBefore && now.getTime() < certificate.notBefore.getTime()) return reject('certificate-not-yet-valid');
        if (certificate.notAfter && now.getTime() > certificate.notAfter.getTime()) return reject('certificate-expired');
        break;
      case 'key': {
        const keyReason = keyRejection(certificate.key);
        if (keyReason) return reject(keyReason);
        break;
      }
      case 'subject':
        if (input.deviceId === undefined) {
          if (!('deviceId' in identity)) return reject(identity.reason);
        } else if (!('deviceId' in identity) || identity.deviceId !== input.deviceId) {
          return reject('csr-subject-mismatch');
        }
        break;
    }
  }
  if (deviceId === undefined) throw new Error('checkCertificateRules: no device id — neither the request nor a `subject` rule names one');
  return { admitted: true, deviceId };
}

/** JITR's rules: what the certificate alone decides — its CA, validity window, key and device id. */
export const JITR_CERTIFICATE_RULES: readonly CertificateRule[] = ['ca', 'validity', 'key', 'subject'];

/** Checks what the certificate alone decides: its CA, validity window, key and device id. */
export function checkCertificate(
  input: { caCertificateId: string; ca: CaFacts | undefined; certificate: CertificateFacts },
  policy: AdmissionPolicy,
  now: Date,
): CertificateDecision {
  return checkCertificateRules(input, JITR_CERTIFICATE_RULES, policy, now);
}

/** The certificate a device is bound to in the registry, as IoT reports it now (`status` undefined: gone). */
export interface BoundCertificate {
  certificateId: string;
  status: string | undefined;
  bindingState: DeviceEntry['bindingState'];
  claimedAt?: Date;
}

export type DeviceDecision =
  | {
      admitted: true;
      /** The certificate the device was bound to before, if any; the claim must replace exactly it. */
      previousCertificateId?: string;
      /** The previous certificate is ACTIVE and must be retired once the new one is active. */
      retirePrevious: boolean;
    }
  | Rejection;

/**
 * The factory's key pin: a device whose entry pins a key (`pinnedKeySha256`) is only that key's, so a copied
 * serial or a stolen claim with another key cannot become it. `candidateKeySha256` is the fingerprint of the
 * certificate's or CSR's key; undefined when there is none yet (vending without a CSR: AWS IoT would make
 * the key, which cannot be the pinned one). An entry without a pin admits any key, as before.
 */
export function keyPinRejection(entry: DeviceEntry | undefined, candidateKeySha256: string | undefined): 'key-not-pinned' | undefined {
  if (entry?.pinnedKeySha256 === undefined) return undefined;
  return candidateKeySha256?.toLowerCase() === entry.pinnedKeySha256 ? undefined : 'key-not-pinned';
}

/**
 * Checks what the registry decides, in this order: blocked, suspended, retired, allow-listed, the pinned key, and whether
 * another certificate holds the device. The pin comes after the operator's decisions (a blocked or unlisted
 * device is refused for that, whatever its key) and before the binding: a certificate with another key is not
 * this device, so it learns nothing of the binding and can never take over a stale claim.
 */
export function checkDevice(
  input: {
    deviceId: string;
    certificateId: string;
    /** The fingerprint of the candidate's key; undefined when AWS IoT is yet to make the key. */
    candidateKeySha256?: string | undefined;
    entry: DeviceEntry | undefined;
    bound: BoundCertificate | undefined;
    /** A claim by a still-pending certificate older than this is abandoned and may be taken over. */
    staleClaimBefore?: Date;
  },
  policy: AdmissionPolicy,
): DeviceDecision {
  const { deviceId, entry, bound } = input;
  if (entry?.status === 'blocked') return { admitted: false, reason: 'device-blocked', deviceId };
  // An operator's suspension or retirement (shared/lifecycle/states.ts) refuses every flow, whatever the mode.
  if (entry?.status === 'suspended') return { admitted: false, reason: 'device-suspended', deviceId };
  if (entry?.status === 'retired') return { admitted: false, reason: 'device-retired', deviceId };
  if (policy.mode === 'allowlist' && entry?.status !== 'allowed') {
    return { admitted: false, reason: 'device-not-allowlisted', deviceId };
  }
  const pinReason = keyPinRejection(entry, input.candidateKeySha256);
  if (pinReason) return { admitted: false, reason: pinReason, deviceId };
  if (!bound || bound.certificateId === input.certificateId) return { admitted: true, retirePrevious: false };

  if (bound.status === 'ACTIVE') {
    // The registry can mark one device for re-provisioning (a one-shot operator decision).
    return policy.boundDevice === 'replace' || entry?.reprovision === true
      ? { admitted: true, previousCertificateId: bound.certificateId, retirePrevious: true }
      : { admitted: false, reason: 'device-already-bound', deviceId };
  }
  // Another certificate's provisioning is in flight (claimed, not yet activated): first come, first served,
  // unless that claim is stale (its provisioning failed and nobody will activate it).
  if (bound.status === 'PENDING_ACTIVATION' && bound.bindingState === 'claimed') {
    const stale = input.staleClaimBefore && bound.claimedAt && bound.claimedAt < input.staleClaimBefore;
    if (!stale) return { admitted: false, reason: 'device-already-bound', deviceId };
  }
  // The previous certificate is revoked, inactive or deleted: the device may take a new one.
  return { admitted: true, previousCertificateId: bound.certificateId, retirePrevious: false };
}
