import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Actor, TimelineEvent, TimelineEventType } from '../../lifecycle/ports';
import { queryItems, type Table } from '../table';
import { DECISION_SHARDS } from './items';

/**
 * The recent admission decisions of every flow, from the timeline's sparse `decisions-by-day` index
 * (resources/storage.cjs: partition `decisionShard` = `YYYY-MM-DD#<shard>`, sort key `at` = time#type#key),
 * newest first, paged; and their hourly counts for the console's chart. One page reads, per UTC day from the
 * newest, the day's shards in parallel (one Query each), until the page is full or the window ends.
 *
 * The hook's decisions about a request with no device id (an invalid event) are in the provisioning
 * ledger only (shared/aws/ledger/decisions.ts), which has no time index: they are not listed here.
 */

export const DECISIONS_INDEX = 'decisions-by-day';

export interface DecisionItem {
  at: string;
  deviceId: string;
  /** JITR (activateCertificate), fleet provisioning (the hook), or certificate vending. */
  flow: 'jitr' | 'fleet' | 'vending' | 'other';
  outcome: 'admitted' | 'refused';
  /** Why it was refused (absent when admitted). */
  reason?: string;
  certificateId?: string;
  type: TimelineEventType;
  actor: Actor;
  detail?: string;
}

export interface DecisionsQuery {
  since: Date;
  now: Date;
  limit: number;
  /** The `at` (sort key) of the previous page's last item: this page is older. */
  before?: string;
}

const DAY_MS = 86_400_000;

/** The UTC days from `to` back to `from`, newest first (`YYYY-MM-DD`). */
function daysBetween(from: Date, to: Date): string[] {
  const days: string[] = [];
  const first = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let t = Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()); t >= first; t -= DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

function flowOf(item: Record<string, unknown>): DecisionItem['flow'] {
  const actor = item.actor as Actor | undefined;
  if (actor?.id === 'activateCertificate') return 'jitr';
  if (actor?.id === 'preProvisioningHook') return 'fleet';
  if (typeof item.detail === 'string' && item.detail.startsWith('certificate vending')) return 'vending';
  return 'other';
}

export function decisionOf(item: Record<string, unknown>): DecisionItem | undefined {
  const type = item.type as TimelineEvent['type'];
  if (typeof item.time !== 'string' || typeof item.deviceId !== 'string') return undefined;
  const admitted = type === 'activated' || (type === 'decided' && item.reason === 'allowed');
  const reason = typeof item.reason === 'string' && item.reason !== 'allowed' ? item.reason : undefined;
  return {
    at: item.time,
    deviceId: item.deviceId,
    flow: flowOf(item),
    outcome: admitted ? 'admitted' : 'refused',
    ...(!admitted ? { reason: reason ?? 'unspecified' } : {}),
    ...(typeof item.certificateId === 'string' ? { certificateId: item.certificateId } : {}),
    type,
    actor: item.actor as Actor,
    ...(typeof item.detail === 'string' ? { detail: item.detail } : {}),
  };
}

/** One day's shard, newest first, within [since, before): up to `limit` items, and whether it has more. */
async function readDayShard(
  table: Table,
  shardKey: string,
  range: { since: string; before?: string },
  limit: number,
  projection?: string[],
): Promise<{ items: Array<Record<string, unknown>>; lastRead?: string }> {
  const page = await table.client.send(
    new QueryCommand({
      TableName: table.tableName,
      IndexName: DECISIONS_INDEX,
      KeyConditionExpression: range.before ? 'decisionShard = :shard AND #at BETWEEN :since AND :before' : 'decisionShard = :shard AND #at >= :since',
      ExpressionAttributeNames: { '#at': 'at', ...(projection ? Object.fromEntries(projection.map((p, i) => [`#p${i}`, p])) : {}) },
      ExpressionAttributeValues: { ':shard': shardKey, ':since': range.since, ...(range.before ? { ':before': range.before } : {}) },
      ...(projection ? { ProjectionExpression: projection.map((_, i) => `#p${i}`).join(', ') } : {}),
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  // BETWEEN is inclusive: the cursor's own item was on the previous page.
  const items = (page.Items ?? []).filter((item) => item.at !== range.before);
  return { items, ...(page.LastEvaluatedKey ? { lastRead: String(page.LastEvaluatedKey.at) } : {}) };
}

/** A page of decisions, newest first; `next` is the `at` to continue before. */
export async function listDecisions(table: Table, query: DecisionsQuery): Promise<{ items: DecisionItem[]; next?: string }> {
  const since = query.since.toISOString();
  const items: DecisionItem[] = [];
  let before = query.before;
  for (const day of daysBetween(query.since, query.now)) {
    if (before && before.slice(0, 10) < day) continue;
    const need = query.limit - items.length;
    const shards = await Promise.all(
      Array.from({ length: DECISION_SHARDS }, (_, shard) => readDayShard(table, `${day}#${shard}`, { since, ...(before ? { before } : {}) }, need + 1)),
    );
    // Every shard has been read down to its last item read: the day is complete above the highest of those.
    const frontier = shards
      .map((s) => s.lastRead)
      .filter((at): at is string => at !== undefined)
      .sort()
      .reverse()[0];
    const merged = shards
      .flatMap((s) => s.items)
      .filter((item) => frontier === undefined || String(item.at) >= frontier)
      .sort((a, b) => (String(a.at) < String(b.at) ? 1 : -1));
    for (const raw of merged.slice(0, need)) {
      const decision = decisionOf(raw);
      if (decision) items.push(decision);
      before = String(raw.at);
    }
    if (merged.length > need) return { items, next: before! };
    if (frontier !== undefined) return { items, next: frontier };
    // The day is exhausted: the next day starts from its newest.
    before = undefined;
    if (items.length >= query.limit) return { items, next: `${day}T00:00:00.000Z` };
  }
  return { items };
}

export interface DecisionChart {
  /** Hour buckets (`YYYY-MM-DDTHH:00:00.000Z`), oldest first, each with admitted and refused counts by reason. */
  hours: Array<{ hour: string; admitted: number; refused: Record<string, number> }>;
  totals: { admitted: number; refused: Record<string, number> };
  /** Decisions counted; the window held more than `maxItems` when `truncated`. */
  counted: number;
  truncated: boolean;
}

/**
 * Admitted vs refused per reason per hour over [since, now], counted from the index: every decision of the
 * window is read (only `at`, `type` and `reason` projected: about 100 bytes an item, so ~40 items per 0.5
 * read request unit, eventually consistent). Bounded by `maxItems`.
 */
export async function decisionChart(table: Table, window: { since: Date; now: Date }, maxItems: number): Promise<DecisionChart> {
  const since = window.since.toISOString();
  const counts = new Map<string, { admitted: number; refused: Record<string, number> }>();
  const totals = { admitted: 0, refused: {} as Record<string, number> };
  let counted = 0;
  let truncated = false;
  for (const day of daysBetween(window.since, window.now)) {
    for (let shard = 0; shard < DECISION_SHARDS && !truncated; shard++) {
      const items = queryItems(table, {
        IndexName: DECISIONS_INDEX,
        KeyConditionExpression: 'decisionShard = :shard AND #at >= :since',
        ExpressionAttributeNames: { '#at': 'at', '#type': 'type', '#reason': 'reason', '#time': 'time' },
        ExpressionAttributeValues: { ':shard': `${day}#${shard}`, ':since': since },
        ProjectionExpression: '#at, #type, #reason, #time, deviceId',
      });
      for await (const raw of items) {
        const decision = decisionOf({ ...raw, actor: undefined });
        if (!decision) continue;
        if (counted >= maxItems) {
          truncated = true;
          break;
        }
        counted++;
        const hour = `${decision.at.slice(0, 13)}:00:00.000Z`;
        const bucket = counts.get(hour) ?? { admitted: 0, refused: {} };
        counts.set(hour, bucket);
        if (decision.outcome === 'admitted') {
          bucket.admitted++;
          totals.admitted++;
        } else {
          const reason = decision.reason ?? 'unspecified';
          bucket.refused[reason] = (bucket.refused[reason] ?? 0) + 1;
          totals.refused[reason] = (totals.refused[reason] ?? 0) + 1;
        }
      }
    }
  }
  const hours = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([hour, c]) => ({ hour, ...c }));
  return { hours, totals, counted, truncated };
}
