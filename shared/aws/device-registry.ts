import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { deviceEntrySchema, type DeviceAttributes, type DeviceEntry } from '../registry/device-entry';
import type { ClaimResult, DeviceRegistry, DeviceRegistryAdmin, DeviceRejection, ProvisioningRecord } from '../registry/ports';
import { issuesOf, issuesText } from '../schemas/issues';
import { isNamed } from './errors';

/** A conditional write refused: the item is not in the state the write expected. */
const isConditionFailure = (error: unknown) => isNamed(error, 'ConditionalCheckFailedException');

/** The device registry table (key `deviceId`), the only code that builds DynamoDB commands for it. */
export class DynamoDeviceRegistry implements DeviceRegistry, DeviceRegistryAdmin {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(deviceId: string, options: { consistent?: boolean } = {}): Promise<DeviceEntry | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { deviceId }, ConsistentRead: options.consistent ?? true }),
    );
    if (!Item) return undefined;
    const parsed = deviceEntrySchema.safeParse(Item);
    if (!parsed.success) {
      throw new Error(`registry item for ${deviceId} is malformed: ${issuesText(issuesOf(parsed.error))}`);
    }
    return parsed.data;
  }

  async claim(
    deviceId: string,
    certificateId: string,
    options: { previousCertificateId?: string; at: Date },
  ): Promise<ClaimResult> {
    const now = options.at.toISOString();
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { deviceId },
          UpdateExpression:
            'SET certificateId = :certificateId, bindingState = :claimed, claimedAt = :now, updatedAt = :now, ' +
            // A re-provisioning mark is spent by the claim it allowed.
            'createdAt = if_not_exists(createdAt, :now) REMOVE thingName, boundAt, reprovision',
          ConditionExpression: options.previousCertificateId
            ? 'certificateId = :previous'
            : 'attribute_not_exists(certificateId)',
          ExpressionAttributeValues: {
            ':certificateId': certificateId,
            ':claimed': 'claimed',
            ':now': now,
            ...(options.previousCertificateId ? { ':previous': options.previousCertificateId } : {}),
          },
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Someone else wrote first: fine if it was another delivery of the same event.
      const current = await this.get(deviceId, { consistent: true });
      return current?.certificateId === certificateId ? { claimed: true } : { claimed: false, current };
    }
  }

  async markBound(deviceId: string, certificateId: string, thingName: string, at: Date): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { deviceId },
        UpdateExpression:
          'SET bindingState = :bound, thingName = :thingName, boundAt = if_not_exists(boundAt, :now), updatedAt = :now',
        ConditionExpression: 'certificateId = :certificateId',
        ExpressionAttributeValues: {
          ':bound': 'bound',
          ':thingName': thingName,
          ':now': at.toISOString(),
          ':certificateId': certificateId,
        },
      }),
    );
  }

  async recordRejection(deviceId: string, rejection: DeviceRejection): Promise<void> {
    const now = rejection.at.toISOString();
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { deviceId },
        UpdateExpression: 'SET lastRejection = :rejection, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)',
        ExpressionAttributeValues: {
          ':rejection': { reason: rejection.reason, certificateId: rejection.certificateId, at: now },
          ':now': now,
        },
      }),
    );
  }

  async unbind(deviceId: string, certificateId: string, at: Date): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { deviceId },
          UpdateExpression: 'SET lastRevocation = :revocation, updatedAt = :now REMOVE certificateId, bindingState, thingName, boundAt, claimedAt',
          ConditionExpression: 'certificateId = :certificateId',
          ExpressionAttributeValues: {
            ':revocation': { certificateId, at: at.toISOString() },
            ':now': at.toISOString(),
            ':certificateId': certificateId,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordProvisioning(deviceId: string, record: ProvisioningRecord): Promise<void> {
    const now = record.at.toISOString();
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { deviceId },
        UpdateExpression: 'SET lastProvisioning = :record, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)',
        ExpressionAttributeValues: { ':record': { ...record, at: now }, ':now': now },
      }),
    );
  }

  async allow(
    deviceId: string,
    options: { thingGroup?: string; thingType?: string; attributes?: DeviceAttributes; reprovision?: boolean },
    at: Date,
  ): Promise<DeviceEntry> {
    const now = at.toISOString();
    const set: string[] = ['#status = :allowed', 'updatedAt = :now', 'createdAt = if_not_exists(createdAt, :now)'];
    const remove: string[] = [];
    const values: Record<string, unknown> = { ':allowed': 'allowed', ':now': now };
    // `allow` declares the device's whole provisioning profile: options not given are cleared.
    for (const [field, value] of Object.entries({
      thingGroup: options.thingGroup,
      thingType: options.thingType,
      attributes: options.attributes && Object.keys(options.attributes).length > 0 ? options.attributes : undefined,
      reprovision: options.reprovision ? true : undefined,
    })) {
      if (value === undefined) remove.push(field);
      else {
        set.push(`${field} = :${field}`);
        values[`:${field}`] = value;
      }
    }
    return this.update(deviceId, `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`, values);
  }

  async block(deviceId: string, at: Date): Promise<DeviceEntry> {
    const now = at.toISOString();
    return this.update(deviceId, 'SET #status = :blocked, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)', {
      ':blocked': 'blocked',
      ':now': now,
    });
  }

  private async update(deviceId: string, expression: string, values: Record<string, unknown>): Promise<DeviceEntry> {
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { deviceId },
        UpdateExpression: expression,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return deviceEntrySchema.parse(Attributes);
  }
}
