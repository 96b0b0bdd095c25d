'use strict';
/**
 * What several functions store in: the device registry, the device timeline and the provisioning ledger (tables), the failure
 * queue (JITR's async failures and rule errors, the retirements' dead letters) and the retirement queue
 * (vending sends, retireCertificate consumes). Also the private-bucket builders the buckets of
 * resources/credentials.cjs and functions/certificate-resource/resources.cjs use.
 */

const table = (name, key, extra = {}) => ({
  Type: 'AWS::DynamoDB::Table',
  // Registry and ledger are the operators' records: keep them when the stack goes.
  DeletionPolicy: 'Retain',
  UpdateReplacePolicy: 'Retain',
  Properties: {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    SSESpecification: { SSEEnabled: true },
    ...extra,
  },
});

/** Private, encrypted, owner-enforced, all public access blocked; `extra` adds properties (a lifecycle, say). */
const privateBucket = (extra = {}) => ({
  Type: 'AWS::S3::Bucket',
  Properties: {
    ...extra,
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
  },
});

/** Refuses every request to the bucket that does not come over TLS. */
const tlsOnlyBucketPolicy = (bucketLogicalId) => ({
  Type: 'AWS::S3::BucketPolicy',
  Properties: {
    Bucket: { Ref: bucketLogicalId },
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TlsOnly',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: [{ 'Fn::GetAtt': [bucketLogicalId, 'Arn'] }, { 'Fn::Sub': `\${${bucketLogicalId}.Arn}/*` }],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    },
  },
});

/**
 * The registry's sparse expiry indexes (issue 11 §3): only bound entries with recorded certificate facts have
 * `expiryShard` (shared/aws/registry/entries.ts, markBound), so these indexes hold bound devices only, and
 * "expires before T" / "issued before T" are one Query per shard on the sort key. The sweep and
 * `certificates expiring` read them; INCLUDE projects what their answers show.
 */
const EXPIRY_INDEXES = { byNotAfter: 'by-not-after', byNotBefore: 'by-not-before' };
const EXPIRY_PROJECTION = {
  ProjectionType: 'INCLUDE',
  NonKeyAttributes: ['certificateId', 'thingName', 'bindingState', 'notBefore', 'notAfter', 'issuer', 'boundAt'],
};
/**
 * The console's device list (issue 12): every entry has `listShard` (shared/aws/registry/entries.ts
 * `listShardOf`), so this index is the whole registry in id order per shard — a prefix search is a Query per
 * shard with begins_with on the sort key (shared/aws/registry/list-index.ts), never a Scan. Entries written
 * before it get `listShard` from `npx iot-provisioner devices reindex` (a one-off Scan). INCLUDE projects
 * what a list item shows. Deploying this onto an existing stack adds one GSI to the registry and one to the
 * timeline: DynamoDB allows one new index per table per update ("You can create or delete only one global
 * secondary index per UpdateTable operation", DynamoDB API reference, UpdateTable).
 */
const LIST_INDEX = 'by-device-id';
const LIST_PROJECTION = { ProjectionType: 'INCLUDE', NonKeyAttributes: ['status', 'certificateId', 'thingName', 'bindingState', 'notAfter', 'updatedAt'] };
const registryIndexes = {
  AttributeDefinitions: [
    { AttributeName: 'deviceId', AttributeType: 'S' },
    { AttributeName: 'listShard', AttributeType: 'S' },
    { AttributeName: 'expiryShard', AttributeType: 'S' },
    { AttributeName: 'notAfter', AttributeType: 'S' },
    { AttributeName: 'notBefore', AttributeType: 'S' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: EXPIRY_INDEXES.byNotAfter,
      KeySchema: [{ AttributeName: 'expiryShard', KeyType: 'HASH' }, { AttributeName: 'notAfter', KeyType: 'RANGE' }],
      Projection: { ...EXPIRY_PROJECTION, NonKeyAttributes: EXPIRY_PROJECTION.NonKeyAttributes.filter((a) => a !== 'notAfter') },
    },
    {
      IndexName: EXPIRY_INDEXES.byNotBefore,
      KeySchema: [{ AttributeName: 'expiryShard', KeyType: 'HASH' }, { AttributeName: 'notBefore', KeyType: 'RANGE' }],
      Projection: { ...EXPIRY_PROJECTION, NonKeyAttributes: EXPIRY_PROJECTION.NonKeyAttributes.filter((a) => a !== 'notBefore') },
    },
    {
      IndexName: LIST_INDEX,
      KeySchema: [{ AttributeName: 'listShard', KeyType: 'HASH' }, { AttributeName: 'deviceId', KeyType: 'RANGE' }],
      Projection: LIST_PROJECTION,
    },
  ],
};

/**
 * The recent decisions of every flow (issue 12): only decision events carry `decisionShard`
 * (`YYYY-MM-DD#<shard>`, shared/aws/timeline/events.ts), so this sparse index holds them by day, newest first
 * on the event's sort key.
 */
const DECISIONS_INDEX = 'decisions-by-day';

/** CloudFormation values of the shared stores, for the functions' role statements. */
const STORES = {
  registryArn: { 'Fn::GetAtt': ['DeviceRegistryTable', 'Arn'] },
  registryExpiryIndexesArn: { 'Fn::Sub': '${DeviceRegistryTable.Arn}/index/by-not-*' },
  ledgerArn: { 'Fn::GetAtt': ['ProvisioningLedgerTable', 'Arn'] },
  registryListIndexArn: { 'Fn::Sub': `\${DeviceRegistryTable.Arn}/index/${LIST_INDEX}` },
  timelineArn: { 'Fn::GetAtt': ['DeviceTimelineTable', 'Arn'] },
  timelineDecisionsIndexArn: { 'Fn::Sub': `\${DeviceTimelineTable.Arn}/index/${DECISIONS_INDEX}` },
  failureQueueArn: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] },
  retirementQueueArn: { 'Fn::GetAtt': ['RetirementQueue', 'Arn'] },
};

function storageResources({ names }) {
  return {
    Resources: {
      DeviceRegistryTable: table(names.registryTable, 'deviceId', registryIndexes),
      ProvisioningLedgerTable: table(names.ledgerTable, 'pk', {
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
      // The per-device timeline (shared/aws/timeline/events.ts): pk deviceId, sk time#type#suffix, bounded by its TTL.
      DeviceTimelineTable: table(names.timelineTable, 'deviceId', {
        AttributeDefinitions: [
          { AttributeName: 'deviceId', AttributeType: 'S' },
          { AttributeName: 'at', AttributeType: 'S' },
          { AttributeName: 'decisionShard', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'deviceId', KeyType: 'HASH' },
          { AttributeName: 'at', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: DECISIONS_INDEX,
            KeySchema: [{ AttributeName: 'decisionShard', KeyType: 'HASH' }, { AttributeName: 'at', KeyType: 'RANGE' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
      ProvisioningFailureQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
      },
      // Rotated-out certificates wait here for their grace period (DelaySeconds); failures end in the failure queue.
      // Named, so that the vending function finds it by name (GetQueueUrl) — `serverless invoke local` cannot
      // resolve a `!Ref` in an environment variable without a deployed stack.
      RetirementQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: names.retirementQueue,
          SqsManagedSseEnabled: true,
          VisibilityTimeout: 60,
          RedrivePolicy: { deadLetterTargetArn: STORES.failureQueueArn, maxReceiveCount: 5 },
        },
      },
    },
    Outputs: {
      DeviceRegistryTableName: { Value: { Ref: 'DeviceRegistryTable' } },
      ProvisioningLedgerTableName: { Value: { Ref: 'ProvisioningLedgerTable' } },
      DeviceTimelineTableName: { Value: { Ref: 'DeviceTimelineTable' } },
      ProvisioningFailureQueueUrl: { Value: { Ref: 'ProvisioningFailureQueue' } },
      RetirementQueueUrl: { Value: { Ref: 'RetirementQueue' } },
    },
  };
}

module.exports = { storageResources, STORES, EXPIRY_INDEXES, LIST_INDEX, DECISIONS_INDEX, table, privateBucket, tlsOnlyBucketPolicy };
