import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { TimelineEvent, TimelineReader } from '../../lifecycle/ports';
import { DAY_SECONDS, type Table } from '../table';

/**
 * The device timeline table (pk `deviceId`, sk `at`: ISO time + `#` + type + `#` + a suffix; TTL `expiresAt`):
 * the only code that builds DynamoDB commands for it, one function per call. Append-only: an event is put
 * once and never updated; a retried action puts the same key again (its `key`), so it stays one event.
 * Bounded by its TTL (`TIMELINE_RETENTION_DAYS`): DynamoDB removes an event within days of its expiry.
 */

export const TIMELINE_RETENTION_DAYS = 400;

export async function appendTimelineEvent(table: Table, event: TimelineEvent): Promise<void> {
  const at = event.at.toISOString();
  await table.client.send(
    new PutCommand({
      TableName: table.tableName,
      Item: {
        deviceId: event.deviceId,
        at: `${at}#${event.type}#${event.key ?? randomUUID()}`,
        time: at,
        type: event.type,
        actor: event.actor,
        ...(event.certificateId ? { certificateId: event.certificateId } : {}),
        ...(event.reason ? { reason: event.reason } : {}),
        ...(event.detail ? { detail: event.detail } : {}),
        expiresAt: Math.floor(event.at.getTime() / 1000) + TIMELINE_RETENTION_DAYS * DAY_SECONDS,
      },
    }),
  );
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
      events.push({
        deviceId,
        at: String(item.time),
        type: item.type as Listed['type'],
        actor: item.actor as Listed['actor'],
        ...(item.certificateId ? { certificateId: String(item.certificateId) } : {}),
        ...(item.reason ? { reason: String(item.reason) } : {}),
        ...(item.detail ? { detail: String(item.detail) } : {}),
      });
    }
    start = page.LastEvaluatedKey;
  } while (start && events.length < limit);
  return events.reverse();
}
