import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ProvisioningDecision } from '../../provisioning/ledger-ports';
import { DAY_SECONDS, type Table } from '../table';

/** Every pre-provisioning decision, in the provisioning ledger (`decision#<certificateId>#<time>`, kept 90 days). */

export async function recordDecision(table: Table, decision: ProvisioningDecision): Promise<void> {
  await table.client.send(
    new PutCommand({
      TableName: table.tableName,
      Item: {
        pk: `decision#${decision.certificateId}#${decision.at.toISOString()}`,
        ...decision,
        at: decision.at.toISOString(),
        expiresAt: Math.floor(decision.at.getTime() / 1000) + 90 * DAY_SECONDS,
      },
    }),
  );
}
