import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { TimelineEvent, TimelineReader } from '../../lifecycle/ports';
import type { Table } from '../table';
import { timelineItemOf } from './items';

export { TIMELINE_RETENTION_DAYS } from './items';

/**
 * The device timeline table (pk `deviceId`, sk `at`: ISO time + `#` + type + `#` + a suffix; TTL `expiresAt`):
 * the only code that builds DynamoDB commands for it, one function per call. Append-only: an event is put
 * once and never updated; a retried action puts the same key again (its `key`), so it stays one event.
 * Bounded by its TTL (`TIMELINE_RETENTION_DAYS`): DynamoDB removes an event within days of its expiry.
 */


/** A timeline item as the event it records. */
function eventOf(deviceId: string, item: Record<string, unknown>): Listed {
  return {
    deviceId,
    at: String(item.time),
    type: item.type as Listed['type'],
    actor: item.actor as Listed['actor'],
    ...(item.certificateId ? { certificateId: String(item.certificateId) } : {}),
    ...(item.reason ? { reason: String(item.reason) } : {}),
    ...(item.detail ? { detail: String(item.detail) } : {}),
  };
}

export async function appendTimelineEvent(table: Table, event: TimelineEvent): Promise<void> {
  await table.client.send(new PutCommand({ TableName: table.tableName, Item: timelineItemOf(event) }));
}

type Listed = Awaited<ReturnType<TimelineReader['list']>>[number];

/** The newest `limit` events of the device (default 100), oldest first. */
export async function listTimelineEvents(table: Table, deviceId: string, options: { limit?: number } = {}): Promise<Listed[]> {
  const limit = options.limit ?? 100;
  const events: Listed[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'deviceId = :deviceId',
        ExpressionAttributeValues: { ':deviceId': deviceId },
        ScanIndexForward: false,
        Limit: limit - events.length,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      events.push(eventOf(deviceId, item));
    }
    start = page.LastEvaluatedKey;
  } while (start && events.length < limit);
  return events.reverse();
}

/**
 * One page of the device's events, newest first: at most `limit`, from before `before` (the sort key `at` of
 * the previous page's last event); `next` is this page's last sort key when more may follow.
 */
export async function pageTimelineEvents(
  table: Table,
  deviceId: string,
  options: { limit: number; before?: string },
): Promise<{ events: Listed[]; next?: string }> {
  const page = await table.client.send(
    new QueryCommand({
      TableName: table.tableName,
      // The page's start is a key condition (events older than the cursor), not a hand-made ExclusiveStartKey.
      KeyConditionExpression: options.before ? 'deviceId = :deviceId AND #at < :before' : 'deviceId = :deviceId',
      ...(options.before ? { ExpressionAttributeNames: { '#at': 'at' } } : {}),
      ExpressionAttributeValues: { ':deviceId': deviceId, ...(options.before ? { ':before': options.before } : {}) },
      ScanIndexForward: false,
      Limit: options.limit,
    }),
  );
  const events = (page.Items ?? []).map((item) => eventOf(deviceId, item));
  return { events, ...(page.LastEvaluatedKey ? { next: String(page.LastEvaluatedKey.at) } : {}) };
}

