import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { isNamed } from './errors';

/** A DynamoDB table as the item adapters act on it: the document client and the table's name. */
export interface Table {
  client: DynamoDBDocumentClient;
  tableName: string;
}

/** A conditional write refused: the item is not in the state the write expected. */
export const isConditionFailure = (error: unknown): boolean => isNamed(error, 'ConditionalCheckFailedException');

/** The ledger's TTL (`expiresAt`, epoch seconds) is reckoned in days. */
export const DAY_SECONDS = 86_400;

/**
 * The items of a Query, page after page (each page a Query from the last one's LastEvaluatedKey). Stopping
 * the iteration stops the reads: a caller that has read enough queries no further.
 */
export async function* queryItems(table: Table, input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): AsyncGenerator<Record<string, unknown>> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.client.send(new QueryCommand({ ...input, TableName: table.tableName, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
    yield* page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
