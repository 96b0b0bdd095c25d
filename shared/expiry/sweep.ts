import type { Log } from '../log';
import type { Metrics } from '../metrics-port';
import type { BoundCertificate, CertificateStatuses, ExpiryFinding, ExpiryIndex, FindingReason, FindingSink } from './ports';

/**
 * The expiry sweep (issue 11 §3): bindings whose certificate expires within N days or is at least M days
 * old, one finding per device. Certificates AWS IoT issues (vending, fleet provisioning) are valid until
 * 2049 (aws-iot-reference, "Certificates issued by AWS IoT"), so for them only the age check ever fires.
 */

export const DAY_MS = 86_400_000;

export interface SweepPolicy {
  /** A certificate whose notAfter is at most this many days away is due; 0 turns the check off. */
  expiringWithinDays: number;
  /** A certificate whose notBefore is at least this many days ago is due; 0 turns the check off. */
  olderThanDays: number;
}

/**
 * Why a bound certificate is due, if it is: the pure rule the sweep and the CLI share. Both bounds are
 * inclusive (a certificate exactly N days from expiry, or exactly M days old, is due), as the index
 * queries' `<=` are.
 */
export function dueReasons(certificate: Pick<BoundCertificate, 'notBefore' | 'notAfter'>, policy: SweepPolicy, now: Date): FindingReason[] {
  const reasons: FindingReason[] = [];
  const notAfter = certificate.notAfter.getTime();
  if (notAfter <= now.getTime()) reasons.push('expired');
  else if (policy.expiringWithinDays > 0 && notAfter <= now.getTime() + policy.expiringWithinDays * DAY_MS) reasons.push('expiring');
  if (policy.olderThanDays > 0 && certificate.notBefore.getTime() <= now.getTime() - policy.olderThanDays * DAY_MS) reasons.push('aged');
  return reasons;
}

export function findingFor(certificate: BoundCertificate, reasons: FindingReason[], now: Date): ExpiryFinding {
  return {
    kind: 'certificate-expiry',
    deviceId: certificate.deviceId,
    certificateId: certificate.certificateId,
    ...(certificate.thingName ? { thingName: certificate.thingName } : {}),
    reasons,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    ageDays: Math.floor((now.getTime() - certificate.notBefore.getTime()) / DAY_MS),
    daysLeft: Math.floor((certificate.notAfter.getTime() - now.getTime()) / DAY_MS),
    issuer: certificate.issuer,
    sweptAt: now.toISOString(),
  };
}

/**
 * The due bound certificates of the index, one per device, in device order. A `claimed` entry is due only
 * when AWS IoT reports its certificate ACTIVE (a fleet device: claimed by the hook, activated by
 * RegisterThing); a claim still in progress or abandoned is not a binding. Only due claimed entries are
 * looked up, so the daily cost is one DescribeCertificate per due fleet device.
 */
export async function dueCertificates(index: ExpiryIndex, policy: SweepPolicy, now: Date, iot: CertificateStatuses): Promise<ExpiryFinding[]> {
  const candidates = new Map<string, BoundCertificate>();
  const collect = async (entries: AsyncIterable<BoundCertificate>) => {
    for await (const entry of entries) candidates.set(entry.deviceId, entry);
  };
  if (policy.expiringWithinDays > 0) await collect(index.expiringBy(new Date(now.getTime() + policy.expiringWithinDays * DAY_MS)));
  // Expired certificates are due whatever the warning window: the window's query covers them only when it is on.
  else await collect(index.expiringBy(now));
  if (policy.olderThanDays > 0) await collect(index.issuedBy(new Date(now.getTime() - policy.olderThanDays * DAY_MS)));
  const findings: ExpiryFinding[] = [];
  for (const certificate of [...candidates.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId))) {
    // The index is a cheap pre-selection; the rule decides.
    const reasons = dueReasons(certificate, policy, now);
    if (reasons.length === 0) continue;
    if (certificate.bindingState === 'claimed') {
      if ((await iot.describeCertificate(certificate.certificateId))?.status !== 'ACTIVE') continue;
    } else if (certificate.bindingState !== undefined && certificate.bindingState !== 'bound') continue;
    findings.push(findingFor(certificate, reasons, now));
  }
  return findings;
}

export class SweepIncompleteError extends Error {
  override name = 'SweepIncompleteError';
}

export interface SweepSummary {
  published: number;
  findings: ExpiryFinding[];
}

/**
 * Publishes one finding per due device. A failed publish does not stop the others; the sweep then fails
 * (SweepIncompleteError) so that Lambda retries it: findings are at least once, a consumer keys them by
 * device, certificate and day.
 */
export async function sweepCertificates(deps: {
  index: ExpiryIndex;
  iot: CertificateStatuses;
  findings: FindingSink;
  policy: SweepPolicy;
  now: () => Date;
  log: Log;
  /** `ExpiryFindings` by reason (a finding with two reasons counts under each). */
  metrics?: Metrics;
}): Promise<SweepSummary> {
  const now = deps.now();
  const findings = await dueCertificates(deps.index, deps.policy, now, deps.iot);
  let failed = 0;
  for (const finding of findings) {
    try {
      await deps.findings.publish(finding);
    } catch (error) {
      failed++;
      deps.log.error('finding not published', { deviceId: finding.deviceId, certificateId: finding.certificateId, error: (error as Error).message });
    }
  }
  const byReason = new Map<FindingReason, number>();
  for (const finding of findings) for (const reason of finding.reasons) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  for (const [reason, count] of byReason) deps.metrics?.count('ExpiryFindings', { reason }, count);
  deps.log.info('expiry sweep done', { due: findings.length, failed });
  if (failed > 0) throw new SweepIncompleteError(`${failed} of ${findings.length} findings not published`);
  return { published: findings.length, findings };
}
