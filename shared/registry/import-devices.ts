import { isDeepStrictEqual } from 'node:util';
import {
  BATCH_GET_MAX,
  BATCH_WRITE_MAX,
  DEFAULT_BATCH_RETRY,
  batchGetDevices,
  batchPutDevices,
  updateImportedDevice,
  UnprocessedItemsError,
  type BatchRetry,
  type ImportedProfile,
} from '../aws/registry/batch';
import type { Table } from '../aws/table';
import type { DeviceEntry } from './device-entry';
import type { ImportRow, InvalidRow } from './import-rows';

/**
 * A factory batch into the registry, allow-listed, with the keys pinned: what `devices import` (cli/devices-import.ts),
 * the sandbox and the bench run.
 *
 * Every row is checked before anything is written, and an invalid row is never written. The registry is
 * read first (BatchGetItem, 100 keys a request) and each valid row is then:
 * - new (no entry): put whole, allowed, by BatchWriteItem (25 a request, unprocessed items re-sent);
 * - unchanged (the entry has a status and already the row's group, type, attributes and pin): not written —
 *   so re-running a file, or resuming one that was interrupted, writes only what is missing;
 * - updated (an entry exists with another profile): its profile set by a conditional UpdateItem that never
 *   touches the binding or the history and never changes a status (a blocked device stays blocked; only an
 *   entry without a decision becomes allowed). A row without a key keeps the entry's pin.
 *
 * BatchWriteItem takes no condition, so a new row's put replaces whatever a flow wrote for that device
 * between the read and the put (milliseconds). In `allowlist` mode (the default) a device without an entry is
 * only refused, and what the put replaces is that refusal's record. In `ca` mode it could be the claim of a
 * certificate being provisioned at that moment: that claim is lost, and the flow's later conditional writes
 * fail. Factory devices are imported before they first connect, which is why a conditional write per row
 * (25 times the requests) is not paid for this window.
 */

export interface ImportOptions {
  /** BatchWriteItem requests in flight at once. */
  concurrency?: number;
  retry?: BatchRetry;
  now?: () => Date;
  /** Called after each batch is done with the rows settled so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface ImportSummary {
  imported: string[];
  updated: string[];
  unchanged: string[];
  /** Existing entries that stay blocked (their profile is updated, their status is not). */
  blocked: string[];
  /** Valid rows not written because DynamoDB left them unprocessed after every retry: re-run the file. */
  failed: string[];
  retries: number;
}

const PROFILE_FIELDS = ['deviceId', 'status', 'thingGroup', 'thingType', 'attributes', 'pinnedKeySha256'] as const;

const profileOf = (row: ImportRow): ImportedProfile => ({
  ...(row.thingGroup ? { thingGroup: row.thingGroup } : {}),
  ...(row.thingType ? { thingType: row.thingType } : {}),
  ...(row.attributes ? { attributes: row.attributes } : {}),
  ...(row.pinnedKeySha256 ? { pinnedKeySha256: row.pinnedKeySha256 } : {}),
});

/** Whether the entry already is what the row declares (a row without a key accepts any pin). */
function sameProfile(item: Record<string, unknown>, row: ImportRow): boolean {
  return (
    item.status !== undefined &&
    item.thingGroup === row.thingGroup &&
    item.thingType === row.thingType &&
    isDeepStrictEqual(item.attributes ?? {}, row.attributes ?? {}) &&
    (row.pinnedKeySha256 === undefined || item.pinnedKeySha256 === row.pinnedKeySha256)
  );
}

const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** Runs `work` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Imports checked rows into the registry table (see the module comment for what each row does). */
export async function importRows(table: Table, rows: readonly ImportRow[], options: ImportOptions = {}): Promise<ImportSummary> {
  const retry = options.retry ?? DEFAULT_BATCH_RETRY;
  const concurrency = options.concurrency ?? 8;
  const now = options.now ?? (() => new Date());
  const summary: ImportSummary = { imported: [], updated: [], unchanged: [], blocked: [], failed: [], retries: 0 };
  let done = 0;
  const settle = (count: number) => {
    done += count;
    options.onProgress?.(done, rows.length);
  };

  await eachLimited(chunks(rows, BATCH_GET_MAX), Math.max(1, Math.floor(concurrency / 2)), async (group) => {
    const { items, retries } = await batchGetDevices(
      table,
      group.map((r) => r.deviceId),
      { attributes: PROFILE_FIELDS, retry },
    );
    summary.retries += retries;
    const fresh: ImportRow[] = [];
    for (const row of group) {
      const item = items.get(row.deviceId);
      if (!item) fresh.push(row);
      else if (sameProfile(item, row)) {
        summary.unchanged.push(row.deviceId);
        settle(1);
      } else {
        // Existing entries are few in a factory batch: one conditional update each keeps their state safe.
        if (await updateImportedDevice(table, row.deviceId, profileOf(row), now())) {
          summary.updated.push(row.deviceId);
          if (item.status === 'blocked') summary.blocked.push(row.deviceId);
          settle(1);
        } else fresh.push(row); // deleted since it was read: it is new again
      }
    }
    await eachLimited(chunks(fresh, BATCH_WRITE_MAX), concurrency, async (batch) => {
      const at = now().toISOString();
      const entries: DeviceEntry[] = batch.map((row) => ({ deviceId: row.deviceId, status: 'allowed', ...profileOf(row), createdAt: at, updatedAt: at }));
      try {
        const written = await batchPutDevices(table, entries, retry);
        summary.retries += written.retries;
        summary.imported.push(...batch.map((r) => r.deviceId));
      } catch (error) {
        if (!(error instanceof UnprocessedItemsError)) throw error;
        const failed = new Set(error.deviceIds);
        summary.failed.push(...error.deviceIds);
        summary.imported.push(...batch.map((r) => r.deviceId).filter((id) => !failed.has(id)));
      }
      settle(batch.length);
    });
  });
  return summary;
}

const listed = (ids: string[], max = 10) => `${ids.slice(0, max).join(', ')}${ids.length > max ? `, … (${ids.length - max} more)` : ''}`;

export function summaryLines(summary: ImportSummary, invalid: readonly InvalidRow[]): string[] {
  const lines = [
    `imported   ${summary.imported.length}`,
    `updated    ${summary.updated.length}${summary.blocked.length ? ` (${summary.blocked.length} stay blocked: ${listed(summary.blocked)})` : ''}`,
    `unchanged  ${summary.unchanged.length}`,
    `invalid    ${invalid.length}${invalid.length ? ' (not written)' : ''}`,
  ];
  for (const row of invalid) lines.push(`  line ${row.line}: ${row.message}`);
  if (summary.failed.length) lines.push(`failed     ${summary.failed.length} (DynamoDB left them unprocessed; re-run the file): ${listed(summary.failed)}`);
  return lines;
}

