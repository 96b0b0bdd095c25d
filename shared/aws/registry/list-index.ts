import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { stateOf, type LifecycleState } from '../../lifecycle/states';
import { deviceEntrySchema } from '../../registry/device-entry';
import type { Table } from '../table';
import { LIST_SHARDS } from './entries';

/**
 * The registry's device-list index (resources/storage.cjs `by-device-id`: partition `listShard`, sort key
 * `deviceId`, the list's attributes projected): the console's device list, in id order, searched by prefix
 * and filtered by lifecycle state, paged on the server.
 *
 * One page is a Query per shard, in parallel (the prefix and the cursor as a key condition on `deviceId`),
 * the shards' items merged in id order. A shard's answer only covers ids up to the last one it read, so the page
 * ends at the lowest such id among the shards that have more ("the frontier"): every id up to it has been
 * seen in every shard, none is skipped or repeated. The cursor is the last id of the page.
 *
 * A state filter is a DynamoDB FilterExpression (the state is derived from `status` and the binding,
 * shared/lifecycle/states.ts): DynamoDB applies it after reading, so a page of a rare state can hold fewer
 * items than asked for — even none — while `next` is set; the read per request is bounded all the same.
 */

export const LIST_INDEX = 'by-device-id';

/** What a list item shows (the index's projection: resources/storage.cjs `LIST_PROJECTION`). */
export interface DeviceListItem {
  deviceId: string;
  state: LifecycleState;
  certificateId?: string;
  thingName?: string;
  bindingState?: 'claimed' | 'bound';
  notAfter?: string;
  updatedAt?: string;
}

export interface DeviceListQuery {
  prefix?: string;
  state?: LifecycleState;
  limit: number;
  /** The last device id of the previous page. */
  after?: string;
  /** Items read from one shard at most (default `READS_PER_SHARD`). */
  readBudget?: number;
}

export interface DeviceListPage {
  items: DeviceListItem[];
  /** The last device id this page covers, when more may follow. */
  next?: string;
}

/** DynamoDB's view of each state (shared/lifecycle/states.ts `stateOf`), for the FilterExpression. */
const BOUND = 'attribute_exists(certificateId) AND bindingState = :bound';
const UNDECIDED_OR_ALLOWED = '(attribute_not_exists(#status) OR #status = :allowed)';
const STATE_FILTERS: Record<LifecycleState, string> = {
  suspended: '#status = :suspended',
  blocked: '#status = :blocked',
  retired: '#status = :retired',
  provisioned: `${UNDECIDED_OR_ALLOWED} AND ${BOUND}`,
  allowed: `#status = :allowed AND NOT (${BOUND})`,
  unknown: `attribute_not_exists(#status) AND NOT (${BOUND})`,
};
const STATE_VALUES: Record<LifecycleState, Record<string, string>> = {
  suspended: { ':suspended': 'suspended' },
  blocked: { ':blocked': 'blocked' },
  retired: { ':retired': 'retired' },
  provisioned: { ':allowed': 'allowed', ':bound': 'bound' },
  allowed: { ':allowed': 'allowed', ':bound': 'bound' },
  unknown: { ':bound': 'bound' },
};

/** Items read from one shard per request at most (each Query also stops at 1 MB): bounds a filtered page's cost. */
const READS_PER_SHARD = 500;

function itemOf(item: Record<string, unknown>): DeviceListItem | undefined {
  const parsed = deviceEntrySchema.safeParse(item);
  // An item that does not read as an entry is skipped, never guessed at (the device page says what is wrong).
  if (!parsed.success) return undefined;
  const entry = parsed.data;
  return {
    deviceId: entry.deviceId,
    state: stateOf(entry),
    ...(entry.certificateId ? { certificateId: entry.certificateId } : {}),
    ...(entry.thingName ? { thingName: entry.thingName } : {}),
    ...(entry.bindingState ? { bindingState: entry.bindingState } : {}),
    ...(entry.notAfter ? { notAfter: entry.notAfter } : {}),
    ...(entry.updatedAt ? { updatedAt: entry.updatedAt } : {}),
  };
}

/** One shard, from after `after`: its matching items in id order, and whether it has more (then the last id read). */
async function readShard(table: Table, shard: string, query: DeviceListQuery): Promise<{ items: DeviceListItem[]; lastRead?: string }> {
  const items: DeviceListItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  let read = 0;
  const budget = query.readBudget ?? READS_PER_SHARD;
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':shard': shard };
  // Where the page starts is a key condition on the sort key, never a hand-made ExclusiveStartKey (only
  // what DynamoDB returned as LastEvaluatedKey goes back as one, within this shard's read). Device ids are
  // [a-zA-Z0-9:_-] (shared/registry/device-entry.ts): all below '~', and '-' the lowest. So the ids with
  // prefix P are those in [P, P~], and the ids after A are those from A- on (an id above A either extends
  // A, by '-' at least, or is above it at a character A has).
  let keyCondition = 'listShard = :shard';
  if (query.prefix && query.after) {
    keyCondition += ' AND deviceId BETWEEN :after AND :upper';
    Object.assign(values, { ':after': `${query.after}-`, ':upper': `${query.prefix}~` });
  } else if (query.after) {
    keyCondition += ' AND deviceId > :after';
    values[':after'] = query.after;
  } else if (query.prefix) {
    keyCondition += ' AND begins_with(deviceId, :prefix)';
    values[':prefix'] = query.prefix;
  }
  if (query.state) {
    names['#status'] = 'status';
    Object.assign(values, STATE_VALUES[query.state]);
  }
  do {
    const page = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: LIST_INDEX,
        KeyConditionExpression: keyCondition,
        ...(query.state ? { FilterExpression: STATE_FILTERS[query.state], ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
        // One more than the page needs: the shard's frontier is then past every id the page can show.
        Limit: Math.min(query.limit + 1, budget - read),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    read += page.ScannedCount ?? page.Items?.length ?? 0;
    for (const raw of page.Items ?? []) {
      const item = itemOf(raw);
      if (item && item.deviceId !== query.after && (!query.state || item.state === query.state)) items.push(item);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey && items.length <= query.limit && read < budget);
  return { items, ...(startKey ? { lastRead: String(startKey.deviceId) } : {}) };
}

export async function listDevices(table: Table, query: DeviceListQuery): Promise<DeviceListPage> {
  const shards = await Promise.all(Array.from({ length: LIST_SHARDS }, (_, shard) => readShard(table, String(shard), query)));
  const frontier = shards
    .map((s) => s.lastRead)
    .filter((id): id is string => id !== undefined)
    .sort()[0];
  const merged = shards
    .flatMap((s) => s.items)
    .filter((item) => frontier === undefined || item.deviceId <= frontier)
    .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  if (merged.length > query.limit) {
    const items = merged.slice(0, query.limit);
    return { items, next: items[items.length - 1]!.deviceId };
  }
  return { items: merged, ...(frontier !== undefined ? { next: frontier } : {}) };
}

