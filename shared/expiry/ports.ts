/**
 * What the expiry sweep reads and writes (issue 11 §3): the registry's sparse expiry indexes
 * (`shared/aws/registry/expiry-index.ts`) and where its findings go (`shared/aws/sns/publish.ts`).
 */

/** A bound certificate as the expiry indexes answer it. */
export interface BoundCertificate {
  deviceId: string;
  certificateId: string;
  thingName?: string;
  bindingState?: string;
  notBefore: Date;
  notAfter: Date;
  issuer: { subject: string; awsIot: boolean };
  boundAt?: string;
}

/** The registry's bound certificates, by the two sort keys of its sparse indexes. */
export interface ExpiryIndex {
  /** Bound certificates whose notAfter is at or before `at` (expired ones included). */
  expiringBy(at: Date): AsyncIterable<BoundCertificate>;
  /** Bound certificates whose notBefore is at or before `at` (issued at least that long ago). */
  issuedBy(at: Date): AsyncIterable<BoundCertificate>;
}

/**
 * What AWS IoT says of a certificate the registry holds only as `claimed`: a fleet-provisioned device's
 * binding stays claimed in the registry (RegisterThing ends inside AWS IoT), so the sweep asks AWS IoT
 * (DescribeCertificate) whether it became the device's ACTIVE identity.
 */
export interface CertificateStatuses {
  describeCertificate(certificateId: string): Promise<{ status: string } | undefined>;
}

export type FindingReason = 'expired' | 'expiring' | 'aged';

/** One finding per device and sweep: what the rotation issue acts on. */
export interface ExpiryFinding {
  kind: 'certificate-expiry';
  deviceId: string;
  certificateId: string;
  thingName?: string;
  reasons: FindingReason[];
  notBefore: string;
  notAfter: string;
  /** Whole days since notBefore, and until notAfter (negative once expired). */
  ageDays: number;
  daysLeft: number;
  issuer: { subject: string; awsIot: boolean };
  sweptAt: string;
}

/** Where findings go: the stack's findings topic and the device's timeline (`allSinks` publishes to both). */
export interface FindingSink {
  publish(finding: ExpiryFinding): Promise<void>;
}

/** Publishes each finding to every sink, one after the other (a sink that fails fails the finding). */
export function allSinks(...sinks: FindingSink[]): FindingSink {
  return {
    async publish(finding) {
      for (const sink of sinks) await sink.publish(finding);
    },
  };
}
