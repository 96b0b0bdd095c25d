import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ActivationLeases, IdempotencyBegin, IdempotencyStore, IssuedClaim, ProvisioningDecision, ProvisioningLedger } from '../provisioning/ledger-ports';
import { isNamed } from './errors';

const DAY_SECONDS = 86_400;
// A retried vending request gets the first answer for an hour; then the key may be used afresh.
const IDEMPOTENCY_SECONDS = 3_600;
// A request still marked running after this long has died (the vending function's timeout is 20 s and API
// Gateway waits 30 s): a retry with its key takes it over instead of answering 409 for the rest of the hour.
const RUNNING_SECONDS = 60;

/** A conditional write refused: the item is not in the state the write expected. */
const isConditionFailure = (error: unknown) => isNamed(error, 'ConditionalCheckFailedException');

/**
 * The provisioning ledger table (key `pk`, TTL attribute `expiresAt` in epoch seconds): the claim
 * certificates vended to trusted users (`claim#<certificateId>`, kept 7 days) and every pre-provisioning
 * decision (`decision#<certificateId>#<time>`, kept 90 days), and vending's idempotency records
 * (`idempotency#<key>`, kept 1 hour), and JITR's activation leases (`activation#<key>`, kept a day). The idempotency record of a vend with a generated key holds that
 * answer — key included, so that a retry gets it — for that hour only; the table is encrypted at rest. While
 * the request runs, the record holds its progress (the certificate it minted, with that key) for the same
 * reason: a retry after a crash carries on with that certificate instead of minting a second one.
 */
export class DynamoProvisioningLedger implements ProvisioningLedger, IdempotencyStore, ActivationLeases {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async takeLease(key: string, until: Date, now: Date): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
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

  async releaseLease(key: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: `activation#${key}` } }));
  }

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

  async begin(key: string, requestFingerprint: string, at: Date): Promise<IdempotencyBegin> {
    const now = Math.floor(at.getTime() / 1000);
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
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
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: `idempotency#${key}` }, ConsistentRead: true }));
    if (!Item) return { state: 'in-progress' };
    if (Item.fingerprint !== requestFingerprint) return { state: 'mismatch' };
    if (Item.status === 'completed') return { state: 'completed', response: Item.response };
    // Records written before `startedAt` existed started an hour before they expire.
    const startedAt = typeof Item.startedAt === 'number' ? Item.startedAt : Number(Item.expiresAt) - IDEMPOTENCY_SECONDS;
    if (Item.status !== 'failed' && startedAt > now - RUNNING_SECONDS) return { state: 'in-progress' };
    // The earlier attempt failed or died: take the request over. Of two retries at once, one wins.
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
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

  async saveProgress(key: string, progress: unknown): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `idempotency#${key}` },
        UpdateExpression: 'SET progress = :progress',
        ExpressionAttributeValues: { ':progress': progress },
      }),
    );
  }

  async complete(key: string, response: unknown): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `idempotency#${key}` },
        UpdateExpression: 'SET #status = :completed, #response = :response REMOVE progress',
        ExpressionAttributeNames: { '#status': 'status', '#response': 'response' },
        ExpressionAttributeValues: { ':completed': 'completed', ':response': response },
      }),
    );
  }

  async abandon(key: string): Promise<void> {
    try {
      // Nothing made yet: the key is free again.
      await this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: { pk: `idempotency#${key}` }, ConditionExpression: 'attribute_not_exists(progress)' }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // A certificate was made: a retry with the key carries on with it.
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `idempotency#${key}` },
          UpdateExpression: 'SET #status = :failed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':failed': 'failed' },
        }),
      );
    }
  }
}
