import { createDocumentClient } from '../shared/aws/clients';
import { backfillListShards } from '../shared/aws/registry/list-backfill';
import { useTarget, type TargetOptions } from './target';

/**
 * `devices reindex`: the one-off migration for registries written before the console's device list
 * (issue 12). Every registry write sets `listShard` now; entries written before have none, so the list index
 * (resources/storage.cjs `by-device-id`) does not hold them until this gives it to them. A Scan of the whole
 * registry (read capacity of one pass over the table), safe to run again and alongside the flows.
 */
export async function devicesReindexCommand(options: TargetOptions, out: (line: string) => void): Promise<number> {
  const target = await useTarget(options);
  const table = { client: createDocumentClient(), tableName: target.registryTable };
  out(`adding the device-list partition to the entries of ${target.registryTable} that lack it (${target.description})`);
  const { scanned, updated } = await backfillListShards(table);
  out(`scanned ${scanned} entries, updated ${updated}${updated === 0 ? ' (every entry is in the device list already)' : ''}`);
  return 0;
}
