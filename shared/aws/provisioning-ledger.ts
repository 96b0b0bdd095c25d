import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ActivationLeases, IdempotencyBegin, IdempotencyStore, IssuedClaim, ProvisioningDecision, ProvisioningLedger } from '../provisioning/ledger-ports';
import { getClaim, recordClaim } from './ledger/claims';
import { recordDecision } from './ledger/decisions';
import { abandonIdempotent, beginIdempotent, completeIdempotent, saveProgress } from './ledger/idempotency';
import { releaseLease, takeLease } from './ledger/leases';
import type { Table } from './table';

/**
 * The provisioning ledger table (key `pk`, TTL attribute `expiresAt` in epoch seconds), every call behind one
 * object for tools and tests: claims (`./ledger/claims.ts`), hook decisions (`./ledger/decisions.ts`),
 * vending's idempotency records (`./ledger/idempotency.ts`) and JITR's activation leases
 * (`./ledger/leases.ts`). Lambda handlers bind the calls they make instead (`bindCalls`), so that each
 * bundle carries only its commands.
 */
export class DynamoProvisioningLedger implements ProvisioningLedger, IdempotencyStore, ActivationLeases {
  private readonly table: Table;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.table = { client, tableName };
  }

  takeLease(key: string, until: Date, now: Date): Promise<boolean> {
    return takeLease(this.table, key, until, now);
  }
  releaseLease(key: string): Promise<void> {
    return releaseLease(this.table, key);
  }
  recordClaim(claim: IssuedClaim): Promise<void> {
    return recordClaim(this.table, claim);
  }
  getClaim(claimCertificateId: string): Promise<IssuedClaim | undefined> {
    return getClaim(this.table, claimCertificateId);
  }
  recordDecision(decision: ProvisioningDecision): Promise<void> {
    return recordDecision(this.table, decision);
  }
  begin(key: string, requestFingerprint: string, at: Date): Promise<IdempotencyBegin> {
    return beginIdempotent(this.table, key, requestFingerprint, at);
  }
  saveProgress(key: string, progress: unknown): Promise<void> {
    return saveProgress(this.table, key, progress);
  }
  complete(key: string, response: unknown): Promise<void> {
    return completeIdempotent(this.table, key, response);
  }
  abandon(key: string): Promise<void> {
    return abandonIdempotent(this.table, key);
  }
}
