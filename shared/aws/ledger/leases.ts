import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DAY_SECONDS, isConditionFailure, type Table } from '../table';

/**
 * JITR's activation leases in the provisioning ledger (`activation#<key>`, kept a day): one invocation works
 * on a registration while duplicate deliveries are dropped before any IoT call (`ActivationLeases`).
 */

export async function takeLease(table: Table, key: string, until: Date, now: Date): Promise<boolean> {
  try {
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { pk: `activation#${key}`, leaseUntil: until.getTime(), expiresAt: Math.floor(until.getTime() / 1000) + DAY_SECONDS },
        ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
        ExpressionAttributeValues: { ':now': now.getTime() },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

export async function releaseLease(table: Table, key: string): Promise<void> {
  await table.client.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: `activation#${key}` } }));
}
