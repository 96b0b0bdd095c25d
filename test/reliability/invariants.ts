import type { LocalIotCore } from '../../local/local-iot-core';

/**
 * What must hold across the whole local IoT Core registry after any fault and its retries, read from the
 * registry itself (the SDK would be throttled by the TPS quotas, and a scan must not depend on the system
 * under test being healthy).
 */

export interface CertificateView {
  certificateId: string;
  status: string;
  things: string[];
  policies: string[];
}

/** Every device certificate of the core's default account with its things and policies. */
export function certificates(core: LocalIotCore): CertificateView[] {
  const account = core.defaultAccount;
  return account.certificates.all().map((certificate) => ({
    certificateId: certificate.certificateId,
    status: certificate.status,
    things: account.things.thingsOf(certificate.certificateArn).map((attachment) => attachment.thingName),
    policies: account.policies.attachedTo(certificate.certificateArn).map((policy) => policy.policyName),
  }));
}

/**
 * Certificates left ACTIVE without a thing or without the device policy: a working identity that no
 * device record explains (what a crash between two steps must never leave behind).
 */
export function orphans(core: LocalIotCore, devicePolicyName: string): CertificateView[] {
  return certificates(core).filter((c) => c.status === 'ACTIVE' && (c.things.length === 0 || !c.policies.includes(devicePolicyName)));
}

/** The certificates attached to a thing, with their status. */
export function certificatesOf(core: LocalIotCore, thingName: string): CertificateView[] {
  return certificates(core).filter((c) => c.things.includes(thingName));
}
