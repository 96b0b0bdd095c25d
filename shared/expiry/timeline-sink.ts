import type { Timeline } from '../lifecycle/ports';
import type { ExpiryFinding, FindingSink } from './ports';

/**
 * A finding on the device's timeline (`finding`, by the expirySweep function). Keyed by the certificate and
 * the day of the sweep, so a sweep that runs again (Lambda's retry after a failed publish) writes the entry
 * once, and each day's sweep adds one.
 */
export function timelineSink(timeline: Timeline): FindingSink {
  return {
    async publish(finding: ExpiryFinding): Promise<void> {
      const sweptAt = new Date(finding.sweptAt);
      const day = finding.sweptAt.slice(0, 10);
      await timeline.append({
        deviceId: finding.deviceId,
        at: new Date(`${day}T00:00:00.000Z`),
        type: 'finding',
        actor: { kind: 'function', id: 'expirySweep' },
        certificateId: finding.certificateId,
        reason: finding.reasons.join('+'),
        detail: `notAfter ${finding.notAfter}, ${finding.daysLeft} days left, ${finding.ageDays} days old (swept ${sweptAt.toISOString()})`,
        key: `${finding.certificateId}#${day}`,
      });
    },
  };
}
