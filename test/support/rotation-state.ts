import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Rotation } from '../../shared/rotation/model';

/**
 * Writes an `issued` rotation onto a registry entry, as the CSR step (S1) leaves it: the suites of the commit and
 * roll back (S2/S3) start from it without running S1. `extra` adds or overrides fields (clientToken, key, …).
 */
export async function writeIssuedRotation(
  documents: DynamoDBDocumentClient,
  tableName: string,
  deviceId: string,
  rotation: { jobId: string; previousCertificateId: string; newCertificateId: string; newCertificateArn: string } & Partial<Rotation>,
): Promise<Rotation> {
  const now = new Date().toISOString();
  const written: Rotation = { state: 'issued', startedAt: now, updatedAt: now, ...rotation };
  await documents.send(new UpdateCommand({ TableName: tableName, Key: { deviceId }, UpdateExpression: 'SET rotation = :r', ExpressionAttributeValues: { ':r': written } }));
  return written;
}
