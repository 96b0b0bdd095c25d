import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
