import { randomUUID } from 'node:crypto';
import type { TimelineEvent } from '../../lifecycle/ports';
import { DAY_SECONDS } from '../table';

/**
 * The timeline table's items (./events.ts has the module comment), apart from the modules that send them:
 * a bundle holds the SDK commands of every adapter module it imports (test/security/role-coverage.test.ts).
 */

export const TIMELINE_RETENTION_DAYS = 400;

/**
 * The admission decisions of every flow (JITR's `activated`/`refused`, the hook's `decided`, vending's
 * `refused`): only these events carry `decisionShard`, the partition key of the timeline's sparse
 * `decisions-by-day` index (resources/storage.cjs), so "the recent decisions" is a Query per day and shard
 * on the event's time (./decisions.ts). Events written before the index existed are not in it.
 */
export const DECISION_TYPES: ReadonlySet<TimelineEvent['type']> = new Set(['activated', 'refused', 'decided']);

/** Partitions per day: one partition of a GSI takes about 1,000 writes a second. */
export const DECISION_SHARDS = 4;

/** `YYYY-MM-DD#<shard>`: the event's UTC day and a stable hash of the device id. */
export function decisionShardOf(isoTime: string, deviceId: string): string {
  let hash = 0;
  for (const char of deviceId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `${isoTime.slice(0, 10)}#${hash % DECISION_SHARDS}`;
}

/** The item of one event (see the module comment for its key). */
export function timelineItemOf(event: TimelineEvent): Record<string, unknown> {
  const at = event.at.toISOString();
  return {
    deviceId: event.deviceId,
    at: `${at}#${event.type}#${event.key ?? randomUUID()}`,
    time: at,
    type: event.type,
    actor: event.actor,
    ...(event.certificateId ? { certificateId: event.certificateId } : {}),
    ...(event.reason ? { reason: event.reason } : {}),
    ...(event.detail ? { detail: event.detail } : {}),
    ...(DECISION_TYPES.has(event.type) ? { decisionShard: decisionShardOf(at, event.deviceId) } : {}),
    expiresAt: Math.floor(event.at.getTime() / 1000) + TIMELINE_RETENTION_DAYS * DAY_SECONDS,
  };
}

