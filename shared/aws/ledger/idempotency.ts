import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { IdempotencyBegin } from '../../provisioning/ledger-ports';
import { isConditionFailure, type Table } from '../table';

/**
 * Vending's idempotency records in the provisioning ledger (`idempotency#<key>`, kept 1 hour). The record of
 * a vend with a generated key holds that answer — key included, so that a retry gets it — for that hour
 * only; the table is encrypted at rest. While the request runs, the record holds its progress (the
 * certificate it minted, with that key) for the same reason: a retry after a crash carries on with that
 * certificate instead of minting a second one.
 */

// A retried vending request gets the first answer for an hour; then the key may be used afresh.
const IDEMPOTENCY_SECONDS = 3_600;
// A request still marked running after this long has died (the vending function's timeout is 20 s and API
// Gateway waits 30 s): a retry with its key takes it over instead of answering 409 for the rest of the hour.
const RUNNING_SECONDS = 60;

export async function beginIdempotent(table: Table, key: string, requestFingerprint: string, at: Date): Promise<IdempotencyBegin> {
  const now = Math.floor(at.getTime() / 1000);
  try {
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { pk: `idempotency#${key}`, status: 'in-progress', fingerprint: requestFingerprint, startedAt: now, expiresAt: now + IDEMPOTENCY_SECONDS },
        // New, or left over past its hour (TTL deletes lazily).
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': now },
      }),
    );
    return { state: 'new' };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  const { Item } = await table.client.send(new GetCommand({ TableName: table.tableName, Key: { pk: `idempotency#${key}` }, ConsistentRead: true }));
  if (!Item) return { state: 'in-progress' };
  if (Item.fingerprint !== requestFingerprint) return { state: 'mismatch' };
  if (Item.status === 'completed') return { state: 'completed', response: Item.response };
  // Records written before `startedAt` existed started an hour before they expire.
  const startedAt = typeof Item.startedAt === 'number' ? Item.startedAt : Number(Item.expiresAt) - IDEMPOTENCY_SECONDS;
  if (Item.status !== 'failed' && startedAt > now - RUNNING_SECONDS) return { state: 'in-progress' };
  // The earlier attempt failed or died: take the request over. Of two retries at once, one wins.
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk: `idempotency#${key}` },
        UpdateExpression: 'SET #status = :running, startedAt = :now',
        ConditionExpression: `#status = :seen AND ${typeof Item.startedAt === 'number' ? 'startedAt = :started' : 'attribute_not_exists(startedAt)'}`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':running': 'in-progress',
          ':now': now,
          ':seen': Item.status,
          ...(typeof Item.startedAt === 'number' ? { ':started': Item.startedAt } : {}),
        },
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) return { state: 'in-progress' };
    throw error;
  }
  return { state: 'resumed', ...(Item.progress !== undefined ? { progress: Item.progress } : {}) };
}

export async function saveProgress(table: Table, key: string, progress: unknown): Promise<void> {
  await table.client.send(
    new UpdateCommand({
      TableName: table.tableName,
      Key: { pk: `idempotency#${key}` },
      UpdateExpression: 'SET progress = :progress',
      ExpressionAttributeValues: { ':progress': progress },
    }),
  );
}

export async function completeIdempotent(table: Table, key: string, response: unknown): Promise<void> {
  await table.client.send(
    new UpdateCommand({
      TableName: table.tableName,
      Key: { pk: `idempotency#${key}` },
      UpdateExpression: 'SET #status = :completed, #response = :response REMOVE progress',
      ExpressionAttributeNames: { '#status': 'status', '#response': 'response' },
      ExpressionAttributeValues: { ':completed': 'completed', ':response': response },
    }),
  );
}

export async function abandonIdempotent(table: Table, key: string): Promise<void> {
  try {
    // Nothing made yet: the key is free again.
    await table.client.send(
      new DeleteCommand({ TableName: table.tableName, Key: { pk: `idempotency#${key}` }, ConditionExpression: 'attribute_not_exists(progress)' }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    // A certificate was made: a retry with the key carries on with it.
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { pk: `idempotency#${key}` },
        UpdateExpression: 'SET #status = :failed',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':failed': 'failed' },
      }),
    );
  }
}
