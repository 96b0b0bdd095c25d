import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { rotationSchema, type Rotation, type RotationStateName } from '../../rotation/model';
import { issuesOf, issuesText } from '../../schemas/issues';
import { isConditionFailure, type Table } from '../table';

/**
 * The registry writes of a rotation's commit (S2) and roll back (S3), docs/rotation-design.md §1: one function
 * per UpdateItem. Each is conditional on `rotation.jobId = :jobId` and the expected `rotation.state`, so a late or
 * duplicated event, or another writer (the CSR step, an operator's suspend), never moves a rotation it did not
 * read: `'changed'` then, and the caller reads the entry again.
 */

/** `rotation` and `state` are DynamoDB reserved words (or close to them): always through names. */
const NAMES = { '#rotation': 'rotation', '#state': 'state', '#jobId': 'jobId' };
const OF_JOB_IN_STATE = '#rotation.#jobId = :jobId AND #rotation.#state = :expected';

async function conditional(table: Table, input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<'done' | 'changed'> {
  try {
    await table.client.send(new UpdateCommand({ ...input, TableName: table.tableName }));
    return 'done';
  } catch (error) {
    if (isConditionFailure(error)) return 'changed';
    throw error;
  }
}

/**
 * A signal's write answers with the rotation as it is after the write (ALL_NEW): DynamoDB applies the writes to an
 * item one after the other, so of two signals handled at the same time the later write sees the earlier one's —
 * and exactly one of them finds both signals in (design §1 S2.3: "whichever arrives second").
 */
async function signalWrite(table: Table, deviceId: string, input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<Rotation | 'changed'> {
  try {
    const { Attributes } = await table.client.send(new UpdateCommand({ ...input, TableName: table.tableName, ReturnValues: 'ALL_NEW' }));
    const parsed = rotationSchema.safeParse(Attributes?.rotation);
    if (!parsed.success) throw new Error(`registry item for ${deviceId} has a malformed rotation: ${issuesText(issuesOf(parsed.error))}`);
    return parsed.data;
  } catch (error) {
    if (isConditionFailure(error)) return 'changed';
    throw error;
  }
}

/** S2.1: the new certificate has connected (first time seen kept: lifecycle events may be duplicated). */
export function recordRotationConnected(
  table: Table,
  deviceId: string,
  input: { jobId: string; newCertificateId: string; at: Date },
): Promise<Rotation | 'changed'> {
  return signalWrite(table, deviceId, {
    TableName: table.tableName,
    Key: { deviceId },
    UpdateExpression: 'SET #rotation.newConnectedAt = if_not_exists(#rotation.newConnectedAt, :at), #rotation.updatedAt = :at',
    ConditionExpression: `${OF_JOB_IN_STATE} AND #rotation.newCertificateId = :newCertificateId`,
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: { ':jobId': input.jobId, ':expected': 'issued', ':newCertificateId': input.newCertificateId, ':at': input.at.toISOString() },
  });
}

/** S2.2: the job execution's status (SUCCEEDED), while the rotation is open in `expected`. */
export function recordRotationJobStatus(
  table: Table,
  deviceId: string,
  input: { jobId: string; expected: RotationStateName; jobStatus: string; at: Date },
): Promise<Rotation | 'changed'> {
  return signalWrite(table, deviceId, {
    TableName: table.tableName,
    Key: { deviceId },
    UpdateExpression: 'SET #rotation.jobStatus = :jobStatus, #rotation.updatedAt = :at',
    ConditionExpression: OF_JOB_IN_STATE,
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: { ':jobId': input.jobId, ':expected': input.expected, ':jobStatus': input.jobStatus, ':at': input.at.toISOString() },
  });
}

/**
 * S2.3: `issued` → `committed`, only once the binding has moved to the new certificate (markBound wrote
 * `certificateId` = new and `bindingState` = bound): the registry can never say committed beside the old binding.
 */
export function commitRotation(table: Table, deviceId: string, input: { jobId: string; newCertificateId: string; movePinTo?: string; at: Date }): Promise<'done' | 'changed'> {
  return conditional(table, {
    TableName: table.tableName,
    Key: { deviceId },
    UpdateExpression: `SET #rotation.#state = :committed, #rotation.committedAt = :at, #rotation.updatedAt = :at${input.movePinTo ? ', pinnedKeySha256 = :pin' : ''}`,
    ConditionExpression: `${OF_JOB_IN_STATE} AND certificateId = :newCertificateId AND bindingState = :bound`,
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: {
      ':jobId': input.jobId,
      ':expected': 'issued',
      ':committed': 'committed',
      ':newCertificateId': input.newCertificateId,
      ':bound': 'bound',
      ':at': input.at.toISOString(),
      ...(input.movePinTo ? { ':pin': input.movePinTo } : {}),
    },
  });
}

/** S2.4: the old certificate's retirement is in the retirement queue. */
export function recordRotationRetirementScheduled(table: Table, deviceId: string, input: { jobId: string; at: Date }): Promise<'done' | 'changed'> {
  return conditional(table, {
    TableName: table.tableName,
    Key: { deviceId },
    UpdateExpression: 'SET #rotation.retirementScheduledAt = if_not_exists(#rotation.retirementScheduledAt, :at), #rotation.updatedAt = :at',
    ConditionExpression: OF_JOB_IN_STATE,
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: { ':jobId': input.jobId, ':expected': 'committed', ':at': input.at.toISOString() },
  });
}

/** S3 (last step): an open rotation → `rolled-back`, with why (and the job status that ended it, if one did). */
export function rollBackRotation(
  table: Table,
  deviceId: string,
  input: { jobId: string; expected: RotationStateName; reason: string; jobStatus?: string; at: Date },
): Promise<'done' | 'changed'> {
  return conditional(table, {
    TableName: table.tableName,
    Key: { deviceId },
    UpdateExpression:
      'SET #rotation.#state = :rolledBack, #rotation.reason = :reason, #rotation.rolledBackAt = :at, #rotation.updatedAt = :at' +
      (input.jobStatus ? ', #rotation.jobStatus = :jobStatus' : ''),
    ConditionExpression: OF_JOB_IN_STATE,
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: {
      ':jobId': input.jobId,
      ':expected': input.expected,
      ':rolledBack': 'rolled-back',
      ':reason': input.reason,
      ':at': input.at.toISOString(),
      ...(input.jobStatus ? { ':jobStatus': input.jobStatus } : {}),
    },
  });
}
