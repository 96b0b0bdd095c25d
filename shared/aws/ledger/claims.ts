import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { IssuedClaim } from '../../provisioning/ledger-ports';
import { DAY_SECONDS, type Table } from '../table';

/**
 * The claim certificates vended to trusted users, in the provisioning ledger (`claim#<certificateId>`, kept
 * 7 days): who asked for which claim, read back by the pre-provisioning hook.
 */

export async function recordClaim(table: Table, claim: IssuedClaim): Promise<void> {
  await table.client.send(
    new PutCommand({
      TableName: table.tableName,
      Item: {
        pk: `claim#${claim.claimCertificateId}`,
        claimCertificateId: claim.claimCertificateId,
        templateName: claim.templateName,
        requestedBy: claim.requestedBy,
        issuedAt: claim.issuedAt.toISOString(),
        claimExpiresAt: claim.expiresAt.toISOString(),
        ...(claim.deviceId ? { deviceId: claim.deviceId } : {}),
        expiresAt: Math.floor(claim.issuedAt.getTime() / 1000) + 7 * DAY_SECONDS,
      },
    }),
  );
}

export async function getClaim(table: Table, claimCertificateId: string): Promise<IssuedClaim | undefined> {
  const { Item } = await table.client.send(new GetCommand({ TableName: table.tableName, Key: { pk: `claim#${claimCertificateId}` } }));
  if (!Item) return undefined;
  return {
    claimCertificateId,
    templateName: String(Item.templateName),
    requestedBy: Item.requestedBy as IssuedClaim['requestedBy'],
    issuedAt: new Date(String(Item.issuedAt)),
    expiresAt: new Date(String(Item.claimExpiresAt)),
    ...(typeof Item.deviceId === 'string' ? { deviceId: Item.deviceId } : {}),
  };
}
