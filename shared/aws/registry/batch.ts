import { BatchGetCommand, BatchWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceEntry } from '../../registry/device-entry';
import { isConditionFailure, type Table } from '../table';
import { listShardOf } from './entries';

/**
 * The registry table in bulk, for the operator's `devices import` (no Lambda uses these): one function per
 * DynamoDB call. BatchGetItem reads up to 100 keys and BatchWriteItem writes up to 25 items a request
 * (DynamoDB quotas); either may hand back part of the request unprocessed (throttling, a partition busy)
 * without failing — the caller must send that part again, with back-off (DynamoDB developer guide,
 * "BatchWriteItem": "If any requested operations fail because the table's provisioned throughput is
 * exceeded … we strongly recommend that you use an exponential backoff algorithm").
 */

export const BATCH_GET_MAX = 100;
export const BATCH_WRITE_MAX = 25;

export interface BatchRetry {
  /** Requests sent for one batch, the first included, before the unprocessed rest is an error. */
  maxAttempts: number;
  /** The first back-off; it doubles each time, with full jitter. */
  baseDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_BATCH_RETRY: BatchRetry = { maxAttempts: 8, baseDelayMs: 50 };

export class UnprocessedItemsError extends Error {
  override name = 'UnprocessedItemsError';
  constructor(
    message: string,
    readonly deviceIds: string[],
  ) {
    super(message);
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const backOff = (retry: BatchRetry, attempt: number) => (retry.sleep ?? defaultSleep)(Math.random() * retry.baseDelayMs * 2 ** (attempt - 1));

/**
 * The items of up to 100 devices, by device id (absent: no item), projected to `attributes` when given;
 * unprocessed keys are asked for again.
 */
export async function batchGetDevices(
  table: Table,
  deviceIds: readonly string[],
  options: { attributes?: readonly string[]; retry?: BatchRetry } = {},
): Promise<{ items: Map<string, Record<string, unknown>>; retries: number }> {
  if (deviceIds.length > BATCH_GET_MAX) throw new Error(`batchGetDevices: at most ${BATCH_GET_MAX} keys, got ${deviceIds.length}`);
  const retry = options.retry ?? DEFAULT_BATCH_RETRY;
  const items = new Map<string, Record<string, unknown>>();
  const projection = options.attributes
    ? { ProjectionExpression: options.attributes.map((_, i) => `#a${i}`).join(', '), ExpressionAttributeNames: Object.fromEntries(options.attributes.map((a, i) => [`#a${i}`, a])) }
    : {};
  let keys: Record<string, unknown>[] = deviceIds.map((deviceId) => ({ deviceId }));
  let retries = 0;
  for (let attempt = 1; keys.length > 0; attempt++) {
    if (attempt > retry.maxAttempts) {
      const ids = keys.map((k) => String(k.deviceId));
      throw new UnprocessedItemsError(`${ids.length} registry keys still unprocessed after ${retry.maxAttempts} BatchGetItem requests`, ids);
    }
    if (attempt > 1) {
      retries++;
      await backOff(retry, attempt - 1);
    }
    const answer = await table.client.send(
      new BatchGetCommand({ RequestItems: { [table.tableName]: { Keys: keys, ConsistentRead: true, ...projection } } }),
    );
    for (const item of answer.Responses?.[table.tableName] ?? []) items.set(String(item.deviceId), item);
    keys = (answer.UnprocessedKeys?.[table.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
  }
  return { items, retries };
}

/**
 * Puts up to 25 whole items (new devices: a put replaces an item, and BatchWriteItem takes no condition);
 * unprocessed items are sent again with back-off, and what is still unprocessed after `maxAttempts` is an
 * `UnprocessedItemsError` naming the devices not written.
 */
export async function batchPutDevices(table: Table, entries: readonly DeviceEntry[], retry: BatchRetry = DEFAULT_BATCH_RETRY): Promise<{ retries: number }> {
  if (entries.length > BATCH_WRITE_MAX) throw new Error(`batchPutDevices: at most ${BATCH_WRITE_MAX} items, got ${entries.length}`);
  let requests: Array<{ PutRequest: { Item: Record<string, unknown> } }> = entries.map((entry) => ({ PutRequest: { Item: { ...entry, listShard: listShardOf(entry.deviceId) } } }));
  let retries = 0;
  for (let attempt = 1; requests.length > 0; attempt++) {
    if (attempt > retry.maxAttempts) {
      const ids = requests.map((r) => String(r.PutRequest.Item.deviceId));
      throw new UnprocessedItemsError(`${ids.length} registry items still unprocessed after ${retry.maxAttempts} BatchWriteItem requests`, ids);
    }
    if (attempt > 1) {
      retries++;
      await backOff(retry, attempt - 1);
    }
    const answer = await table.client.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: requests } }));
    requests = (answer.UnprocessedItems?.[table.tableName] as typeof requests | undefined) ?? [];
  }
  return { retries };
}

/** The profile an import declares for a device (the registry entry's provisioning fields). */
export interface ImportedProfile {
  thingGroup?: string;
  thingType?: string;
  attributes?: Record<string, string>;
  pinnedKeySha256?: string;
}

/**
 * Sets the imported profile on an existing entry, leaving its state alone: the status stays (a blocked
 * device stays blocked; one only seen becomes allowed), and the binding, the history and an existing pin
 * (when the row gives no key) are kept. Group, type and attributes the row does not give are cleared, as
 * `devices allow` does. False when the item is gone (deleted since it was read).
 */
export async function updateImportedDevice(table: Table, deviceId: string, profile: ImportedProfile, at: Date): Promise<boolean> {
  const set = ['#status = if_not_exists(#status, :allowed)', 'updatedAt = :now', 'listShard = if_not_exists(listShard, :listShard)'];
  const remove: string[] = [];
  const values: Record<string, unknown> = { ':allowed': 'allowed', ':now': at.toISOString(), ':listShard': listShardOf(deviceId) };
  for (const field of ['thingGroup', 'thingType', 'attributes'] as const) {
    const value = profile[field];
    if (value === undefined) remove.push(field);
    else {
      set.push(`${field} = :${field}`);
      values[`:${field}`] = value;
    }
  }
  if (profile.pinnedKeySha256 !== undefined) {
    set.push('pinnedKeySha256 = :pin');
    values[':pin'] = profile.pinnedKeySha256;
  }
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { deviceId },
        UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ConditionExpression: 'attribute_exists(deviceId)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
