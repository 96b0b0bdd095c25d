import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { TimelineEvent } from '../../lifecycle/ports';
import type { Table } from '../table';
import { timelineItemOf } from './items';

const BATCH_WRITE_MAX = 25;
const BATCH_ATTEMPTS = 8;

/**
 * Appends many events (an import's): BatchWriteItem, 25 puts a request, what DynamoDB leaves unprocessed sent
 * again with back-off (as shared/aws/registry/batch.ts does); an error when some are still unprocessed.
 */
export async function appendTimelineEvents(
  table: Table,
  events: readonly TimelineEvent[],
  options: { concurrency?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const batches = Array.from({ length: Math.ceil(events.length / BATCH_WRITE_MAX) }, (_, i) => events.slice(i * BATCH_WRITE_MAX, (i + 1) * BATCH_WRITE_MAX));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let requests: Array<{ PutRequest: { Item: Record<string, unknown> } }> = batches[next++]!.map((event) => ({ PutRequest: { Item: timelineItemOf(event) } }));
      for (let attempt = 1; requests.length > 0; attempt++) {
        if (attempt > BATCH_ATTEMPTS) throw new Error(`${requests.length} timeline events still unprocessed after ${BATCH_ATTEMPTS} BatchWriteItem requests`);
        if (attempt > 1) await sleep(Math.random() * 50 * 2 ** (attempt - 2));
        const answer = await table.client.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: requests } }));
        requests = (answer.UnprocessedItems?.[table.tableName] as typeof requests | undefined) ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, batches.length) }, worker));
}
