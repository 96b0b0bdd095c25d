import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { rotationSchema, type RefusalReason, type Rotation } from '../../rotation/model';
import { issuesOf, issuesText } from '../../schemas/issues';
import { isConditionFailure, type Table } from '../table';

/**
 * The device registry's writes of the rotation's CSR step (shared/rotation/issue.ts; docs/rotation-design.md
 * §1 S1), one function per call. Each is conditional on `rotation.jobId = :jobId` and the state it expects,
 * so a write of another rotation, or of a rotation that moved on, is refused (`'changed'`) and decided again.
 * Only the `rotation` map is written: the binding (`certificateId`, `bindingState`, …) keeps naming the old
 * certificate until the commit (S2).
 */

// `state` is a DynamoDB reserved word.
const NAMES = { '#rotation': 'rotation', '#state': 'state' } as const;

async function conditional(table: Table, input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>): Promise<Record<string, unknown> | 'changed'> {
  try {
    const { Attributes } = await table.client.send(new UpdateCommand({ TableName: table.tableName, ...input }));
    return Attributes ?? {};
  } catch (error) {
    if (isConditionFailure(error)) return 'changed';
    throw error;
  }
}

/** `queued` → `issuing`, with the admitted CSR's clientToken and key (the retry key of the step). */
export async function beginRotationIssue(
  table: Table,
  deviceId: string,
  intent: { jobId: string; clientToken: string; newKeySha256: string; at: Date },
): Promise<'done' | 'changed'> {
  const written = await conditional(table, {
    Key: { deviceId },
    UpdateExpression: 'SET #rotation.#state = :issuing, #rotation.clientToken = :clientToken, #rotation.newKeySha256 = :key, #rotation.updatedAt = :now',
    ConditionExpression: '#rotation.jobId = :jobId AND #rotation.#state = :queued',
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: {
      ':issuing': 'issuing',
      ':queued': 'queued',
      ':jobId': intent.jobId,
      ':clientToken': intent.clientToken,
      ':key': intent.newKeySha256,
      ':now': intent.at.toISOString(),
    },
  });
  return written === 'changed' ? 'changed' : 'done';
}

/** The certificate CreateCertificateFromCsr made, recorded once: none recorded yet, or this one. */
export async function recordRotationCertificate(
  table: Table,
  deviceId: string,
  issued: { jobId: string; newKeySha256: string; certificateId: string; certificateArn: string; at: Date },
): Promise<'done' | 'changed'> {
  const written = await conditional(table, {
    Key: { deviceId },
    UpdateExpression: 'SET #rotation.newCertificateId = :id, #rotation.newCertificateArn = :arn, #rotation.updatedAt = :now',
    ConditionExpression:
      '#rotation.jobId = :jobId AND #rotation.#state = :issuing AND #rotation.newKeySha256 = :key AND ' +
      '(attribute_not_exists(#rotation.newCertificateId) OR #rotation.newCertificateId = :id)',
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: {
      ':issuing': 'issuing',
      ':jobId': issued.jobId,
      ':key': issued.newKeySha256,
      ':id': issued.certificateId,
      ':arn': issued.certificateArn,
      ':now': issued.at.toISOString(),
    },
  });
  return written === 'changed' ? 'changed' : 'done';
}

/**
 * `issuing` → `issued` once the new certificate is attached and ACTIVE; `issued` already is fine (a retry).
 * `issuedAt` is written once (`if_not_exists`), so the timeline event keyed on it is written once.
 */
export async function markRotationIssued(table: Table, deviceId: string, issued: { jobId: string; certificateId: string; at: Date }): Promise<Rotation | 'changed'> {
  const written = await conditional(table, {
    Key: { deviceId },
    UpdateExpression: 'SET #rotation.#state = :issued, #rotation.issuedAt = if_not_exists(#rotation.issuedAt, :now), #rotation.updatedAt = :now',
    ConditionExpression: '#rotation.jobId = :jobId AND #rotation.newCertificateId = :id AND #rotation.#state IN (:issuing, :issued)',
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: { ':issued': 'issued', ':issuing': 'issuing', ':jobId': issued.jobId, ':id': issued.certificateId, ':now': issued.at.toISOString() },
    ReturnValues: 'ALL_NEW',
  });
  if (written === 'changed') return 'changed';
  const parsed = rotationSchema.safeParse(written.rotation);
  if (!parsed.success) throw new Error(`registry item for ${deviceId}: rotation is malformed: ${issuesText(issuesOf(parsed.error))}`);
  return parsed.data;
}

/** `queued` → `refused` (no certificate was made for it), with the reason. */
export async function recordRotationRefusal(table: Table, deviceId: string, refusal: { jobId: string; reason: RefusalReason; at: Date }): Promise<'done' | 'changed'> {
  const written = await conditional(table, {
    Key: { deviceId },
    UpdateExpression: 'SET #rotation.#state = :refused, #rotation.reason = :reason, #rotation.updatedAt = :now',
    ConditionExpression: '#rotation.jobId = :jobId AND #rotation.#state = :queued',
    ExpressionAttributeNames: NAMES,
    ExpressionAttributeValues: { ':refused': 'refused', ':queued': 'queued', ':jobId': refusal.jobId, ':reason': refusal.reason, ':now': refusal.at.toISOString() },
  });
  return written === 'changed' ? 'changed' : 'done';
}
