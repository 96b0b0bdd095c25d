import fc from 'fast-check';
import { listShardOf } from '../../shared/aws/registry/entries';
import { listDevices } from '../../shared/aws/registry/list-index';
import { listDecisions } from '../../shared/aws/timeline/decisions';
import { decisionShardOf } from '../../shared/aws/timeline/items';
import type { Table } from '../../shared/aws/table';
import { stateOf, type LifecycleState } from '../../shared/lifecycle/states';

/**
 * The console's server-side paging merges several DynamoDB partitions (the list's shards, the decisions'
 * days and shards): whatever the data and the page size, following the tokens lists every match exactly
 * once, in order. DynamoDB is played by a fake that answers Query as DynamoDB does: sort-key order,
 * ExclusiveStartKey, Limit counting the items read before the filter, a LastEvaluatedKey whenever the
 * limit was reached (even at the end).
 */

type Item = Record<string, unknown>;

/** `state`: what the FilterExpression the list sends for that state keeps (shared/lifecycle/states.ts `stateOf`). */
function fakeTable(items: Item[], indexKeys: { partition: string; sort: string }, state?: LifecycleState): Table {
  const send = async (command: { input: Record<string, any> }) => {
    const input = command.input;
    const values = input.ExpressionAttributeValues as Record<string, string>;
    const condition = String(input.KeyConditionExpression);
    const forward = input.ScanIndexForward !== false;
    let matching = items.filter((item) => item[indexKeys.partition] === values[':shard']);
    if (condition.includes('begins_with')) matching = matching.filter((item) => String(item[indexKeys.sort]).startsWith(values[':prefix']!));
    if (condition.includes('> :after')) matching = matching.filter((item) => String(item[indexKeys.sort]) > values[':after']!);
    if (condition.includes('BETWEEN :after AND :upper')) matching = matching.filter((item) => String(item[indexKeys.sort]) >= values[':after']! && String(item[indexKeys.sort]) <= values[':upper']!);
    if (condition.includes('>= :since')) matching = matching.filter((item) => String(item[indexKeys.sort]) >= values[':since']!);
    if (condition.includes('BETWEEN :since')) matching = matching.filter((item) => String(item[indexKeys.sort]) >= values[':since']! && String(item[indexKeys.sort]) <= values[':before']!);
    matching.sort((a, b) => (String(a[indexKeys.sort]) < String(b[indexKeys.sort]) ? -1 : 1) * (forward ? 1 : -1));
    const start = input.ExclusiveStartKey?.[indexKeys.sort] as string | undefined;
    if (start !== undefined) matching = matching.filter((item) => (forward ? String(item[indexKeys.sort]) > start : String(item[indexKeys.sort]) < start));
    const limit = (input.Limit as number | undefined) ?? Infinity;
    const read = matching.slice(0, limit);
    expect(Boolean(input.FilterExpression)).toBe(state !== undefined);
    const kept = state ? read.filter((item) => stateOf(item as never) === state) : read;
    const last = read.length === limit ? read[read.length - 1] : undefined;
    return {
      Items: kept,
      ScannedCount: read.length,
      ...(last ? { LastEvaluatedKey: { [indexKeys.partition]: last[indexKeys.partition], [indexKeys.sort]: last[indexKeys.sort] } } : {}),
    };
  };
  return { client: { send } as never, tableName: 't' };
}

const STATUSES = [undefined, 'allowed', 'blocked', 'suspended', 'retired'] as const;

describe('the device list', () => {
  it('lists every matching device once, in id order, whatever the page size, prefix and state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.stringMatching(/^[AB][AB-]{0,3}[0-9]{1,2}$/), fc.constantFrom(...STATUSES), fc.boolean()), { selector: ([id]) => id, maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom(undefined, 'A', 'AB', 'B-'),
        fc.constantFrom<LifecycleState | undefined>(undefined, 'allowed', 'blocked', 'provisioned', 'unknown'),
        // A small read budget: filtered pages end at the shards' frontier, not at `limit`.
        fc.constantFrom(undefined, 1, 2, 5),
        async (devices, limit, prefix, state, readBudget) => {
          const items = devices.map(([deviceId, status, bound]) => ({
            deviceId,
            listShard: listShardOf(deviceId),
            ...(status ? { status } : {}),
            ...(bound ? { certificateId: 'c'.repeat(64), bindingState: 'bound' } : {}),
          }));
          const table = fakeTable(items, { partition: 'listShard', sort: 'deviceId' }, state);
          const listed: string[] = [];
          let after: string | undefined;
          for (let pages = 0; pages < 5000; pages++) {
            const page = await listDevices(table, { limit, ...(prefix ? { prefix } : {}), ...(state ? { state } : {}), ...(after ? { after } : {}), ...(readBudget ? { readBudget } : {}) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            listed.push(...page.items.map((item) => item.deviceId));
            if (!page.next) break;
            expect(page.next > (after ?? '')).toBe(true);
            after = page.next;
          }
          const expected = items
            .filter((item) => (!prefix || item.deviceId.startsWith(prefix)) && (!state || stateOf(item as never) === state))
            .map((item) => item.deviceId)
            .sort();
          expect(listed).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('the decisions', () => {
  it('lists every decision of the window once, newest first, across days and shards, whatever the page size', async () => {
    const now = new Date('2026-12-03T12:00:00.000Z');
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 3 * 86_400_000 }), fc.constantFrom('A-1', 'B-2', 'C-3', 'D-4', 'E-5'), fc.constantFrom('activated', 'refused')), {
          selector: ([offset, device]) => `${offset}${device}`,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 70 }),
        async (events, limit, windowHours) => {
          const items = events.map(([offset, deviceId, type]) => {
            const time = new Date(now.getTime() - offset).toISOString();
            return { deviceId, at: `${time}#${type}#${deviceId}`, time, type, actor: { kind: 'function', id: 'activateCertificate' }, decisionShard: decisionShardOf(time, deviceId) };
          });
          const since = new Date(now.getTime() - windowHours * 3_600_000);
          const table = fakeTable(items, { partition: 'decisionShard', sort: 'at' });
          const listed: string[] = [];
          let before: string | undefined;
          for (let pages = 0; pages < 500; pages++) {
            const page = await listDecisions(table, { since, now, limit, ...(before ? { before } : {}) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            listed.push(...page.items.map((d) => `${d.at}#${d.deviceId}`));
            if (!page.next) break;
            before = page.next;
          }
          const expected = items
            .filter((item) => item.time >= since.toISOString())
            .sort((a, b) => (a.at < b.at ? 1 : -1))
            .map((item) => `${item.time}#${item.deviceId}`);
          expect(listed).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
