import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { IssuedClaim, ProvisioningDecision, ProvisioningLedger } from '../provisioning/ports';

const DAY_SECONDS = 86_400;

/**
 * The provisioning ledger table (key `pk`, TTL attribute `expiresAt` in epoch seconds): the claim
 * certificates vended to trusted users (`claim#<certificateId>`, kept 7 days) and every pre-provisioning
 * decision (`decision#<certificateId>#<time>`, kept 90 days). Never holds key material.
 */
export class DynamoProvisioningLedger implements ProvisioningLedger {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async recordClaim(claim: IssuedClaim): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `claim#${claim.claimCertificateId}`,
          claimCertificateId: claim.claimCertificateId,
          templateName: claim.templateName,
          requestedBy: claim.requestedBy,
          issuedAt: claim.issuedAt.toISOString(),
          claimExpiresAt: claim.expiresAt.toISOString(),
          expiresAt: Math.floor(claim.issuedAt.getTime() / 1000) + 7 * DAY_SECONDS,
        },
      }),
    );
  }

  async getClaim(claimCertificateId: string): Promise<IssuedClaim | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: `claim#${claimCertificateId}` } }));
    if (!Item) return undefined;
    return {
      claimCertificateId,
      templateName: String(Item.templateName),
      requestedBy: Item.requestedBy as IssuedClaim['requestedBy'],
      issuedAt: new Date(String(Item.issuedAt)),
      expiresAt: new Date(String(Item.claimExpiresAt)),
    };
  }

  async recordDecision(decision: ProvisioningDecision): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `decision#${decision.certificateId}#${decision.at.toISOString()}`,
          ...decision,
          at: decision.at.toISOString(),
          expiresAt: Math.floor(decision.at.getTime() / 1000) + 90 * DAY_SECONDS,
        },
      }),
    );
  }
}
