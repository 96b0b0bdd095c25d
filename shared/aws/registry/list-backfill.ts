import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, type Table } from '../table';
import { listShardOf } from './entries';

/**
 * The migration for entries written before the list index: each entry without `listShard` gets it (a
 * conditional update, so a concurrent write is never undone). A Scan of the whole table, run once by the
 * operator (`npx iot-provisioner devices reindex`); safe to run again.
 */
export async function backfillListShards(table: Table, onProgress?: (updated: number, scanned: number) => void): Promise<{ scanned: number; updated: number }> {
  let scanned = 0;
  let updated = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.client.send(
      new ScanCommand({
        TableName: table.tableName,
        ProjectionExpression: 'deviceId',
        FilterExpression: 'attribute_not_exists(listShard)',
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    scanned += page.ScannedCount ?? 0;
    for (const item of page.Items ?? []) {
      const deviceId = String(item.deviceId);
      try {
        await table.client.send(
          new UpdateCommand({
            TableName: table.tableName,
            Key: { deviceId },
            UpdateExpression: 'SET listShard = :shard',
            ConditionExpression: 'attribute_exists(deviceId) AND attribute_not_exists(listShard)',
            ExpressionAttributeValues: { ':shard': listShardOf(deviceId) },
          }),
        );
        updated++;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
    onProgress?.(updated, scanned);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return { scanned, updated };
}
