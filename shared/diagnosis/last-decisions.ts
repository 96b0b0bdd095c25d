import type { TimelineReader } from '../lifecycle/ports';
import type { DeviceEntry } from '../registry/device-entry';
import type { Decision } from './facts';

/** What of the timeline counts as a decision about the device (who acted is not a decision). */
const DECISIONS = new Set(['decided', 'refused', 'activated', 'suspended', 'resumed', 'retired', 'rotated', 'allowed', 'blocked']);

/**
 * The device's last decisions, newest first: the per-device timeline's (the newest `limit` events that are
 * decisions), or — for a device with no timeline yet (entries written before it existed) — what the registry
 * entry itself records: the last refusal (`lastRejection`), the last fleet-provisioning decision
 * (`lastProvisioning`) and the last revocation. The one place `devices why` reads decisions from.
 */
export async function lastDecisions(entry: DeviceEntry | undefined, timeline?: TimelineReader, limit = 10): Promise<Decision[]> {
  if (!entry) return [];
  if (timeline) {
    const events = (await timeline.list(entry.deviceId, { limit: limit * 3 })).filter((event) => DECISIONS.has(event.type));
    if (events.length > 0) {
      return events
        .slice(-limit)
        .reverse()
        .map((event) => ({
          at: event.at,
          // The hook's `decided` says `allowed`, or the reason it denied.
          kind: event.type === 'decided' ? (event.reason === 'allowed' ? 'provisioned' : 'denied') : event.type,
          ...(event.reason && event.reason !== 'allowed' ? { reason: event.reason } : {}),
          ...(event.certificateId ? { certificateId: event.certificateId } : {}),
        }));
    }
  }
  const decisions: Decision[] = [];
  if (entry.lastRejection) {
    decisions.push({ at: entry.lastRejection.at, kind: 'refused', reason: entry.lastRejection.reason, certificateId: entry.lastRejection.certificateId });
  }
  const p = entry.lastProvisioning;
  if (p) {
    decisions.push({ at: p.at, kind: p.outcome === 'allowed' ? 'provisioned' : 'denied', ...(p.reason ? { reason: p.reason } : {}), certificateId: p.certificateId });
  }
  if (entry.lastRevocation) decisions.push({ at: entry.lastRevocation.at, kind: 'revoked', certificateId: entry.lastRevocation.certificateId });
  return decisions.sort((a, b) => b.at.localeCompare(a.at));
}
