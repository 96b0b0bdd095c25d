import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Rotation } from '../../rotation/model';
import { isConditionFailure, type Table } from '../table';

/**
 * The registry writes of a rotation's start and of `rotate status --repair` (design §1 S0): one function per
 * call, each conditional, so a retried start or a concurrent change decides in DynamoDB, not in a read.
 * `getDevice` (./entries.ts) reads the item.
 */

/**
 * S0 (a): `rotation = {jobId, state: queued, …}` on a bound, provisioned device whose bound certificate is
 * still `previousCertificateId` and that has no rotation open. A rotation that is done (committed, rolled
 * back, refused) is replaced by the new one; one of the same job is never overwritten (a re-run leaves the
 * device where the job took it). `changed`: the item is not in that state any more (the caller re-reads).
 */
export async function queueRotation(
  table: Table,
  deviceId: string,
  rotation: Pick<Rotation, 'jobId' | 'startedAt' | 'previousCertificateId'>,
): Promise<'queued' | 'changed'> {
  const value: Rotation = { ...rotation, state: 'queued', updatedAt: rotation.startedAt };
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { deviceId },
        UpdateExpression: 'SET rotation = :rotation, updatedAt = :now',
        ConditionExpression:
          'bindingState = :bound AND certificateId = :certificateId AND (attribute_not_exists(#status) OR #status = :allowed) AND ' +
          '(attribute_not_exists(rotation) OR (rotation.jobId <> :jobId AND rotation.#state IN (:committed, :rolledBack, :refused)))',
        ExpressionAttributeNames: { '#status': 'status', '#state': 'state' },
        ExpressionAttributeValues: {
          ':rotation': value,
          ':now': rotation.startedAt,
          ':bound': 'bound',
          ':certificateId': rotation.previousCertificateId,
          ':allowed': 'allowed',
          ':jobId': rotation.jobId,
          ':committed': 'committed',
          ':rolledBack': 'rolled-back',
          ':refused': 'refused',
        },
      }),
    );
    return 'queued';
  } catch (error) {
    if (isConditionFailure(error)) return 'changed';
    throw error;
  }
}

/**
 * `rotate status --repair`: a device still `queued` in this job whose execution is gone or ended without a
 * CSR goes back to no open rotation (`rolled-back`, with the reason). `changed`: it is no longer queued in
 * this job (a CSR arrived meanwhile, or another repair did it).
 */
export async function rollBackQueuedRotation(table: Table, deviceId: string, jobId: string, reason: string, at: Date): Promise<'rolled-back' | 'changed'> {
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { deviceId },
        UpdateExpression: 'SET rotation.#state = :rolledBack, rotation.reason = :reason, rotation.updatedAt = :now, updatedAt = :now',
        ConditionExpression: 'rotation.jobId = :jobId AND rotation.#state = :queued',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':rolledBack': 'rolled-back', ':reason': reason, ':now': at.toISOString(), ':jobId': jobId, ':queued': 'queued' },
      }),
    );
    return 'rolled-back';
  } catch (error) {
    if (isConditionFailure(error)) return 'changed';
    throw error;
  }
}
