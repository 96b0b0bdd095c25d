import { CertificateUnreadableError, readCertificateFacts } from '../certificates/certificate-facts';
import { CsrUnreadableError, readCsrFacts } from '../certificates/csr';
import type { DeviceEntry, RejectionReason } from '../registry/device-entry';
import {
  checkCertificateRules,
  checkDevice,
  type AdmissionPolicy,
  type BoundCertificate,
  type CandidateFacts,
  type CertificateRule,
  type Rejection,
} from './admit';
import type { CaLookup } from './ca-lookup';
import type { CertificateReader, RegistryReader } from './ports';

/**
 * Admission, composed once for every flow: the certificate rules (`checkCertificateRules`), then the
 * registry's entry for the device and the certificate it is bound to (`boundCertificateOf`), then the device
 * rules (`checkDevice`). JITR, the pre-provisioning hook and vending differ only in the data they pass: which
 * certificate rules apply, the stale-claim window and the bound-device policy (`AdmissionRules`), and a
 * flow's own step between reading the registry and the device rules (the hook's claim checks, vending's
 * carrying on with an earlier attempt's certificate).
 *
 * The decisions it composes are pure; this function only reads (the registry, DescribeCertificate, the CA).
 */

export interface AdmissionRules extends AdmissionPolicy {
  /** The rules about the certificate that apply, in the order their reasons are decided. */
  certificateRules: readonly CertificateRule[];
  /**
   * A claim by another certificate that is still PENDING_ACTIVATION and older than this is abandoned (its
   * provisioning failed and nobody will activate it): the device may be claimed again.
   */
  staleClaimMs: number;
}

/**
 * The same two minutes for every flow, JITR included. Chosen over deciding on the claiming certificate's
 * status alone: the status is already used — a claim by a certificate that is REVOKED, INACTIVE or gone
 * never holds the device (`checkDevice`) —, but it cannot tell an abandoned claim from one in flight, since
 * both certificates are PENDING_ACTIVATION (JITR's and the hook's stay so until their last step). Taking
 * over every pending claim would let two certificates provision the device at once; honouring every one is
 * the bug this replaces (a device whose first certificate was claimed and never activated had every later
 * JITR certificate REVOKED). Only the claim's age tells them apart: two minutes is longer than any claimant
 * runs (JITR 30 s, the hook 5 s, vending 20 s), so a live claim is never taken over; a claim without a
 * recorded time is honoured.
 */
export const STALE_CLAIM_MS = 120_000;

/** What a flow asks to become a device's identity. */
export interface Candidate {
  /** Its certificate (JITR, the hook) or CSR (vending); absent when AWS IoT will make the key (vending). */
  pem?: { kind: 'certificate' | 'csr'; text: string };
  /** The certificate that would become the identity; absent when none is minted yet (vending). */
  certificateId?: string;
  /** The CA that signed the certificate (JITR). */
  caCertificateId?: string;
  /** The device the request names (the hook's SerialNumber, vending's path); else the subject names it. */
  deviceId?: string;
}

export interface AdmissionDeps {
  registry: RegistryReader;
  iot: CertificateReader;
  /** How the `ca` rule learns the CA's state; needed only when that rule applies without `allowedCaIds`. */
  caLookup?: CaLookup;
}

/**
 * A flow's own step, run once the certificate rules passed, alongside the registry read (it gets the entry
 * as a promise): a reason to refuse before the device rules, or the certificate to decide for.
 */
export type FlowStep = (entry: Promise<DeviceEntry | undefined>) => Promise<{ refuse: RejectionReason } | { certificateId?: string } | undefined>;

export type Admission =
  | {
      admitted: true;
      deviceId: string;
      entry: DeviceEntry | undefined;
      /** The certificate the device was bound to before, if any; the claim must replace exactly it. */
      previousCertificateId?: string;
      /** The previous certificate is ACTIVE and must be retired once the new one is active. */
      retirePrevious: boolean;
    }
  | Rejection;

/** The certificate or CSR, read; a PEM that cannot be parsed is a rejection. */
function factsOf(pem: NonNullable<Candidate['pem']>): CandidateFacts | Rejection {
  try {
    return pem.kind === 'certificate' ? readCertificateFacts(pem.text) : readCsrFacts(pem.text);
  } catch (error) {
    if (error instanceof CertificateUnreadableError) return { admitted: false, reason: 'certificate-unreadable', detail: error.message };
    if (error instanceof CsrUnreadableError) return { admitted: false, reason: 'csr-unreadable', detail: error.message };
    throw error;
  }
}

/**
 * The one binding lookup: the certificate the registry entry binds the device to (unless it is the
 * candidate itself), as DescribeCertificate reports it now, with when it was claimed.
 */
export async function boundCertificateOf(
  entry: DeviceEntry | undefined,
  candidateCertificateId: string | undefined,
  iot: CertificateReader,
): Promise<BoundCertificate | undefined> {
  if (!entry?.certificateId || entry.certificateId === candidateCertificateId) return undefined;
  const record = await iot.describeCertificate(entry.certificateId);
  return {
    certificateId: entry.certificateId,
    status: record?.status,
    bindingState: entry.bindingState,
    ...(entry.claimedAt ? { claimedAt: new Date(entry.claimedAt) } : {}),
  };
}

export async function admitDevice(candidate: Candidate, rules: AdmissionRules, deps: AdmissionDeps, now: Date, step?: FlowStep): Promise<Admission> {
  let deviceId = candidate.deviceId;
  let candidateKeySha256: string | undefined;
  if (candidate.pem) {
    const facts = factsOf(candidate.pem);
    if ('admitted' in facts) return deviceId === undefined ? facts : { ...facts, deviceId };
    const needsCa = rules.certificateRules.includes('ca') && !rules.allowedCaIds;
    const ca = needsCa && deps.caLookup ? await deps.caLookup(candidate.caCertificateId ?? '') : undefined;
    const decision = checkCertificateRules(
      {
        certificate: facts,
        ...(candidate.caCertificateId !== undefined ? { caCertificateId: candidate.caCertificateId } : {}),
        ca,
        ...(deviceId !== undefined ? { deviceId } : {}),
      },
      rules.certificateRules,
      rules,
      now,
    );
    if (!decision.admitted) return decision;
    deviceId = decision.deviceId;
    candidateKeySha256 = facts.publicKeySha256;
  }
  if (deviceId === undefined) throw new Error('admitDevice: the candidate names no device (no deviceId and no PEM)');

  const entryRead = deps.registry.get(deviceId);
  const [entry, stepped] = await Promise.all([entryRead, step?.(entryRead)]);
  if (stepped && 'refuse' in stepped) return { admitted: false, reason: stepped.refuse, deviceId };
  const certificateId = stepped && 'certificateId' in stepped ? stepped.certificateId : candidate.certificateId;

  const bound = await boundCertificateOf(entry, certificateId, deps.iot);
  const decision = checkDevice(
    { deviceId, certificateId: certificateId ?? '', candidateKeySha256, entry, bound, staleClaimBefore: new Date(now.getTime() - rules.staleClaimMs) },
    rules,
  );
  if (!decision.admitted) return decision;
  return { ...decision, deviceId, entry };
}
