import type { DeviceEntry } from '../registry/device-entry';
import type { Decision } from './facts';

/**
 * The device's last decisions, newest first, as the registry entry records them today: the last refusal
 * (`lastRejection`), the last fleet-provisioning decision (`lastProvisioning`) and the last revocation.
 * The one place `devices why` reads decisions from: when the per-device timeline exists, this reads it.
 */
export async function lastDecisions(entry: DeviceEntry | undefined): Promise<Decision[]> {
  if (!entry) return [];
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
