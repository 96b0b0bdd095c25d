import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BoundCertificateFacts } from '../../certificates/certificate-facts';
import { deviceEntrySchema, type DeviceAttributes, type DeviceEntry } from '../../registry/device-entry';
import type { ClaimResult, DeviceRejection, ProvisioningRecord } from '../../registry/ports';
import type { Retirement, Suspension } from '../../lifecycle/ports';
import { issuesOf, issuesText } from '../../schemas/issues';
import { isConditionFailure, type Table } from '../table';

/**
 * The device registry table (key `deviceId`): the only code that builds DynamoDB commands for it, one
 * function per call (a handler binds the ones it makes with `bindCalls`; `../device-registry.ts` has them
 * all behind one object for the CLI and tests). The contracts are the registry port's
 * (`shared/registry/ports.ts`).
 */

/** The entry's attributes that describe the bound certificate (and put the entry in the expiry indexes). */
const CERTIFICATE_FACTS = 'notBefore, notAfter, issuer, expiryShard';

export async function getDevice(table: Table, deviceId: string, options: { consistent?: boolean } = {}): Promise<DeviceEntry | undefined> {
  const { Item } = await table.client.send(
    new GetCommand({ TableName: table.tableName, Key: { deviceId }, ConsistentRead: options.consistent ?? true }),
  );
  if (!Item) return undefined;
  return parseDeviceItem(deviceId, Item);
}

/** A registry item read from the table, as a device entry; a malformed one is an error naming the device. */
export function parseDeviceItem(deviceId: string, item: Record<string, unknown>): DeviceEntry {
  const parsed = deviceEntrySchema.safeParse(item);
  if (!parsed.success) {
    throw new Error(`registry item for ${deviceId} is malformed: ${issuesText(issuesOf(parsed.error))}`);
  }
  return parsed.data;
}

export async function claimDevice(
  table: Table,
  deviceId: string,
  certificateId: string,
  options: { previousCertificateId?: string; at: Date; certificate?: BoundCertificateFacts },
): Promise<ClaimResult> {
  const now = options.at.toISOString();
  // The claiming certificate's facts, when the flow knows them already (the hook: fleet provisioning ends
  // inside AWS IoT, so the claim is the last write the registry sees); otherwise the previous binding's
  // facts leave with it (and the entry leaves the expiry indexes) until markBound records the new ones.
  const facts = options.certificate ? certificateFactValues(deviceId, options.certificate) : undefined;
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { deviceId },
        UpdateExpression:
          'SET certificateId = :certificateId, bindingState = :claimed, claimedAt = :now, updatedAt = :now, ' +
          `createdAt = if_not_exists(createdAt, :now), ${LIST_SHARD_SET}` +
          (facts ? `, ${CERTIFICATE_FACT_SETS}` : '') +
          // A re-provisioning mark is spent by the claim it allowed.
          ` REMOVE thingName, boundAt, reprovision${facts ? '' : `, ${CERTIFICATE_FACTS}`}`,
        ConditionExpression: options.previousCertificateId
          ? 'certificateId = :previous'
          : 'attribute_not_exists(certificateId)',
        ExpressionAttributeValues: {
          ':certificateId': certificateId,
          ':claimed': 'claimed',
          ':now': now,
          ':listShard': listShardOf(deviceId),
          ...facts,
          ...(options.previousCertificateId ? { ':previous': options.previousCertificateId } : {}),
        },
      }),
    );
    return { claimed: true };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    // Someone else wrote first: fine if it was another delivery of the same event.
    const current = await getDevice(table, deviceId, { consistent: true });
    return current?.certificateId === certificateId ? { claimed: true } : { claimed: false, current };
  }
}

const CERTIFICATE_FACT_SETS = 'notBefore = :notBefore, notAfter = :notAfter, issuer = :issuer, expiryShard = :expiryShard';

function certificateFactValues(deviceId: string, certificate: BoundCertificateFacts): Record<string, unknown> {
  return {
    ':notBefore': certificate.notBefore.toISOString(),
    ':notAfter': certificate.notAfter.toISOString(),
    ':issuer': { subject: certificate.issuer, awsIot: certificate.issuedByAwsIot },
    ':expiryShard': expiryShardOf(deviceId),
  };
}

/**
 * Partitions of the sparse expiry indexes: one partition would hold every bound device (a hot key for a
 * large fleet's writes); the sweep and the CLI query each of these. Changing it re-shards only new bindings.
 */
export const EXPIRY_SHARDS = 4;

/** The expiry-index partition of a device: a stable hash of its id. */
export function expiryShardOf(deviceId: string): string {
  let hash = 0;
  for (const char of deviceId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return String(hash % EXPIRY_SHARDS);
}

/**
 * Partitions of the registry's device-list index (resources/storage.cjs `LIST_INDEX`, sort key `deviceId`):
 * every entry has `listShard`, set by each write that can create an entry (and by `devices import`), so the
 * console lists the whole registry in id order, a prefix search being one Query per shard with begins_with.
 * Several partitions spread a large import's index writes (a GSI partition takes about 1,000 writes a
 * second); each list request reads every shard, so there are few. Changing it needs a backfill (`devices reindex`).
 */
export const LIST_SHARDS = 8;

/** The device-list partition of a device: a stable hash of its id (another hash than the expiry shard's). */
export function listShardOf(deviceId: string): string {
  let hash = 2166136261;
  for (const char of deviceId) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return String(hash % LIST_SHARDS);
}

/** Sets the entry's list partition when it has none (a new entry, or one written before the index existed). */
const LIST_SHARD_SET = 'listShard = if_not_exists(listShard, :listShard)';

export async function markBound(
  table: Table,
  deviceId: string,
  certificateId: string,
  thingName: string,
  at: Date,
  certificate?: BoundCertificateFacts,
): Promise<void> {
  const facts = certificate ? certificateFactValues(deviceId, certificate) : {};
  await table.client.send(
    new UpdateCommand({
      TableName: table.tableName,
      Key: { deviceId },
      UpdateExpression:
        'SET bindingState = :bound, thingName = :thingName, boundAt = if_not_exists(boundAt, :now), updatedAt = :now' +
        (certificate ? `, ${CERTIFICATE_FACT_SETS}` : ''),
      ConditionExpression: 'certificateId = :certificateId',
      ExpressionAttributeValues: {
        ':bound': 'bound',
        ':thingName': thingName,
        ':now': at.toISOString(),
        ':certificateId': certificateId,
        ...facts,
      },
    }),
  );
}

export async function recordRejection(table: Table, deviceId: string, rejection: DeviceRejection): Promise<void> {
  const now = rejection.at.toISOString();
  await table.client.send(
    new UpdateCommand({
      TableName: table.tableName,
      Key: { deviceId },
      UpdateExpression: `SET lastRejection = :rejection, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), ${LIST_SHARD_SET}`,
      ExpressionAttributeValues: {
        ':rejection': { reason: rejection.reason, certificateId: rejection.certificateId, at: now },
        ':now': now,
        ':listShard': listShardOf(deviceId),
      },
    }),
  );
}

export async function unbindDevice(table: Table, deviceId: string, certificateId: string, at: Date): Promise<boolean> {
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { deviceId },
        UpdateExpression: `SET lastRevocation = :revocation, updatedAt = :now REMOVE certificateId, bindingState, thingName, boundAt, claimedAt, ${CERTIFICATE_FACTS}`,
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

export async function recordProvisioning(table: Table, deviceId: string, record: ProvisioningRecord): Promise<void> {
  const now = record.at.toISOString();
  await table.client.send(
    new UpdateCommand({
      TableName: table.tableName,
      Key: { deviceId },
      UpdateExpression: `SET lastProvisioning = :record, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), ${LIST_SHARD_SET}`,
      ExpressionAttributeValues: { ':record': { ...record, at: now }, ':now': now, ':listShard': listShardOf(deviceId) },
    }),
  );
}

export async function allowDevice(
  table: Table,
  deviceId: string,
  options: { thingGroup?: string; thingType?: string; attributes?: DeviceAttributes; reprovision?: boolean },
  at: Date,
): Promise<DeviceEntry> {
  const now = at.toISOString();
  const set: string[] = ['#status = :allowed', 'updatedAt = :now', 'createdAt = if_not_exists(createdAt, :now)', LIST_SHARD_SET];
  const remove: string[] = [];
  const values: Record<string, unknown> = { ':allowed': 'allowed', ':now': now, ':listShard': listShardOf(deviceId) };
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
  // Not while suspended (resume or retire first) nor while a retirement is unfinished (shared/lifecycle/states.ts).
  return updateEntry(table, deviceId, `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`, { ...values, ...LIFECYCLE_GUARD.values }, LIFECYCLE_GUARD.condition);
}

export async function blockDevice(table: Table, deviceId: string, at: Date): Promise<DeviceEntry> {
  const now = at.toISOString();
  return updateEntry(
    table,
    deviceId,
    `SET #status = :blocked, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), ${LIST_SHARD_SET}`,
    { ':blocked': 'blocked', ':now': now, ':listShard': listShardOf(deviceId), ...LIFECYCLE_GUARD.values },
    LIFECYCLE_GUARD.condition,
  );
}

/** `allow` and `block` are refused on a suspended device and on an unfinished retirement. */
const LIFECYCLE_GUARD = {
  condition: 'NOT (#status = :guardSuspended) AND NOT (#status = :guardRetired AND attribute_exists(certificateId))',
  values: { ':guardSuspended': 'suspended', ':guardRetired': 'retired' },
};

/** `allow` or `block` met a device whose lifecycle forbids it (see shared/lifecycle/states.ts). */
export class LifecycleConflictError extends Error {
  override name = 'LifecycleConflictError';
}

async function updateEntry(table: Table, deviceId: string, expression: string, values: Record<string, unknown>, condition?: string): Promise<DeviceEntry> {
  try {
    const { Attributes } = await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { deviceId },
        UpdateExpression: expression,
        ...(condition ? { ConditionExpression: condition } : {}),
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return deviceEntrySchema.parse(Attributes);
  } catch (error) {
    if (isConditionFailure(error)) {
      throw new LifecycleConflictError(`${deviceId} is suspended or its retirement is unfinished: resume or retire it first`);
    }
    throw error;
  }
}

// ---- the lifecycle (shared/lifecycle/ports.ts `LifecycleRegistry`) ----

/** A conditional update: `'changed'` when its condition failed (another writer came first). */
async function conditional(table: Table, input: { deviceId: string; update: string; condition: string; values: Record<string, unknown> }): Promise<'done' | 'changed'> {
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { deviceId: input.deviceId },
        UpdateExpression: input.update,
        ConditionExpression: input.condition,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: input.values,
      }),
    );
    return 'done';
  } catch (error) {
    if (isConditionFailure(error)) return 'changed';
    throw error;
  }
}

/** The entry is as it was read: same `updatedAt` (absent when the entry had none). */
const unchangedSince = (seen: string | undefined) =>
  seen === undefined ? { condition: 'attribute_exists(deviceId) AND attribute_not_exists(updatedAt)', values: {} } : { condition: 'updatedAt = :seen', values: { ':seen': seen } };

export async function beginSuspension(table: Table, deviceId: string, suspension: Suspension, seenUpdatedAt: string | undefined): Promise<'done' | 'changed'> {
  const now = suspension.at.toISOString();
  const seen = unchangedSince(seenUpdatedAt);
  return conditional(table, {
    deviceId,
    update: 'SET #status = :suspended, suspension = :suspension, updatedAt = :now',
    condition: `${seen.condition} AND certificateId = :certificateId`,
    values: {
      ...seen.values,
      ':suspended': 'suspended',
      ':suspension': { ...suspension, at: now },
      ':now': now,
      ':certificateId': suspension.certificateId,
    },
  });
}

export async function completeResume(
  table: Table,
  deviceId: string,
  certificateId: string,
  previous: 'allowed' | undefined,
  at: Date,
): Promise<'done' | 'changed'> {
  const now = at.toISOString();
  return conditional(table, {
    deviceId,
    update: `SET lastResume = :resume, updatedAt = :now${previous ? ', #status = :previous' : ''} REMOVE suspension${previous ? '' : ', #status'}`,
    condition: '#status = :suspended AND certificateId = :certificateId',
    values: {
      ':resume': { at: now, certificateId },
      ':now': now,
      ':suspended': 'suspended',
      ':certificateId': certificateId,
      ...(previous ? { ':previous': previous } : {}),
    },
  });
}

export async function beginRetirement(table: Table, deviceId: string, retirement: Retirement, seenUpdatedAt: string | undefined): Promise<'done' | 'changed'> {
  const now = retirement.at.toISOString();
  const seen = unchangedSince(seenUpdatedAt);
  return conditional(table, {
    deviceId,
    update: 'SET #status = :retired, retirement = :retirement, updatedAt = :now',
    condition: seen.condition,
    values: { ...seen.values, ':retired': 'retired', ':retirement': { ...retirement, at: now }, ':now': now },
  });
}

export async function completeRetirement(table: Table, deviceId: string, certificateId: string | undefined, at: Date): Promise<'done' | 'changed'> {
  const now = at.toISOString();
  return conditional(table, {
    deviceId,
    update:
      `SET retirement.completedAt = :now, updatedAt = :now${certificateId ? ', lastRevocation = :revocation' : ''} ` +
      'REMOVE certificateId, bindingState, thingName, boundAt, claimedAt, suspension, reprovision',
    condition: '#status = :retired AND attribute_exists(retirement)',
    values: { ':now': now, ':retired': 'retired', ...(certificateId ? { ':revocation': { certificateId, at: now } } : {}) },
  });
}
