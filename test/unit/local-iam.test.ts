import { iotAuthorization } from '../../local/iam/iot-actions';
import { accessDeniedMessage, LocalIam, roleNameOf } from '../../local/iam/local-iam';
import { dynamoDbChecks, s3Checks, sqsChecks } from '../../local/iam/service-checks';

/**
 * The local IAM's decisions (local/iam/local-iam.ts over @cloud-copilot/iam-simulate) and what each service
 * asks it (local/iam/service-checks.ts, iot-actions.ts).
 */

const ROLE = 'arn:aws:iam::123456789012:role/iot-provisioner-dev-ActivateCertificateRole';
const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/devices';

function iamWith(statements: unknown[]) {
  const iam = new LocalIam();
  iam.defineRole(ROLE, [{ name: 'inline', policy: { Version: '2012-10-17', Statement: statements } }]);
  return { iam, session: iam.assumeRole(ROLE, 'fn') };
}

describe('the local IAM decides as IAM does', () => {
  it('allows what an Allow statement names', async () => {
    const { iam, session } = iamWith([{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }]);
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toEqual({ kind: 'allowed' });
  });

  it('denies another action on the same resource (implicit deny)', async () => {
    const { iam, session } = iamWith([{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }]);
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:PutItem', TABLE)).toEqual({
      kind: 'denied',
      principalArn: 'arn:aws:sts::123456789012:assumed-role/iot-provisioner-dev-ActivateCertificateRole/fn',
      action: 'dynamodb:PutItem',
      resource: TABLE,
      explicit: false,
    });
  });

  it('denies the allowed action on another resource (resource mismatch)', async () => {
    const { iam, session } = iamWith([{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }]);
    const decision = await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', `${TABLE}-other`);
    expect(decision).toMatchObject({ kind: 'denied', explicit: false });
  });

  it('lets an explicit Deny win over an Allow', async () => {
    const { iam, session } = iamWith([
      { Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' },
      { Effect: 'Deny', Action: 'dynamodb:DeleteItem', Resource: TABLE },
    ]);
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toEqual({ kind: 'allowed' });
    const decision = await iam.authorize(session.accessKeyId, 'dynamodb:DeleteItem', TABLE);
    expect(decision).toMatchObject({ kind: 'denied', explicit: true });
    if (decision.kind !== 'denied') throw new Error('denied expected');
    expect(accessDeniedMessage(decision)).toBe(
      `User: arn:aws:sts::123456789012:assumed-role/iot-provisioner-dev-ActivateCertificateRole/fn is not authorized to perform: dynamodb:DeleteItem on resource: ${TABLE} with an explicit deny in an identity-based policy`,
    );
  });

  it('needs every resource of a call allowed (AddThingToThingGroup: the thing and the group)', async () => {
    const thing = 'arn:aws:iot:us-east-1:123456789012:thing/t1';
    const group = 'arn:aws:iot:us-east-1:123456789012:thinggroup/g1';
    const { iam, session } = iamWith([{ Effect: 'Allow', Action: 'iot:AddThingToThingGroup', Resource: thing }]);
    expect(await iam.authorize(session.accessKeyId, 'iot:AddThingToThingGroup', [thing, group])).toMatchObject({ kind: 'denied', resource: group });
  });

  it('refuses a temporary key it did not issue, or one it revoked (fail closed)', async () => {
    const { iam, session } = iamWith([{ Effect: 'Allow', Action: '*', Resource: '*' }]);
    expect(await iam.authorize('ASIA123456789012ZZZZ', 'dynamodb:GetItem', TABLE)).toEqual({ kind: 'unknown-key', accessKeyId: 'ASIA123456789012ZZZZ' });
    iam.revoke(session.accessKeyId);
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toMatchObject({ kind: 'unknown-key' });
  });

  it('refuses a session once its credentials expired (the credential provider’s duration)', async () => {
    let now = new Date('2026-12-01T12:00:00Z');
    const iam = new LocalIam(() => now);
    iam.defineRole(ROLE, [{ name: 'all', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }]);
    const session = iam.assumeRole(ROLE, 'cert', { expiresAt: new Date('2026-12-01T13:00:00Z') });
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toEqual({ kind: 'allowed' });
    now = new Date('2026-12-01T13:00:00Z');
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toEqual({ kind: 'expired', accessKeyId: session.accessKeyId });
  });

  it('does not check operator keys or unsigned calls', async () => {
    const iam = new LocalIam();
    expect(await iam.authorize('123456789012', 'iot:DeleteCertificate', '*')).toEqual({ kind: 'allowed' });
    expect(await iam.authorize(undefined, 'iot:DeleteCertificate', '*')).toEqual({ kind: 'allowed' });
  });

  it('denies everything a session of an undefined role signs', async () => {
    const iam = new LocalIam();
    const session = iam.assumeRole('arn:aws:iam::123456789012:role/nobody-defined-me', 's');
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toMatchObject({ kind: 'denied' });
  });

  it('applies the policy variables fixed for a session (credentials-iot:ThingName)', async () => {
    const iam = new LocalIam();
    iam.defineRole(ROLE, [
      { name: 'own-prefix', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::data/things/${credentials-iot:ThingName}/*' }] } },
    ]);
    const device = iam.assumeRole(ROLE, 'cert', { variables: { 'credentials-iot:ThingName': 'dev-1' } });
    const anonymous = iam.assumeRole(ROLE, 'cert');
    expect(await iam.authorize(device.accessKeyId, 's3:PutObject', 'arn:aws:s3:::data/things/dev-1/a')).toEqual({ kind: 'allowed' });
    expect(await iam.authorize(device.accessKeyId, 's3:PutObject', 'arn:aws:s3:::data/things/dev-2/a')).toMatchObject({ kind: 'denied' });
    expect(await iam.authorize(anonymous.accessKeyId, 's3:PutObject', 'arn:aws:s3:::data/things/dev-1/a')).toMatchObject({ kind: 'denied' });
  });

  it('decides again when a role is redefined (the cache does not outlive the policies)', async () => {
    const { iam, session } = iamWith([{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }]);
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toEqual({ kind: 'allowed' });
    iam.defineRole(ROLE, []);
    expect(await iam.authorize(session.accessKeyId, 'dynamodb:GetItem', TABLE)).toMatchObject({ kind: 'denied' });
  });

  it('tells every listener of a session issued, and names roles by their last path segment', () => {
    const iam = new LocalIam();
    const seen: string[] = [];
    iam.onSession((s) => seen.push(s.accessKeyId));
    const session = iam.assumeRole(ROLE, 'x');
    expect(seen).toEqual([session.accessKeyId]);
    expect(session.accessKeyId).toMatch(/^ASIA123456789012[A-Z2-7]{4}$/);
    expect(roleNameOf('arn:aws:iam::123456789012:role/service-role/my-role')).toBe('my-role');
  });
});

describe('what each service asks IAM', () => {
  it.each([
    ['UpdateCertificate', { path: { certificateId: 'abc' } }, 'iot:UpdateCertificate', ['arn:aws:iot:us-east-1:123456789012:cert/abc']],
    ['ListAttachedPolicies', { path: { target: 'arn:aws:iot:us-east-1:123456789012:cert/abc' } }, 'iot:ListAttachedPolicies', ['*']],
    ['DescribeEndpoint', {}, 'iot:DescribeEndpoint', ['*']],
    ['CreateThing', { path: { thingName: 't1' } }, 'iot:CreateThing', ['arn:aws:iot:us-east-1:123456789012:thing/t1']],
    [
      'AddThingToThingGroup',
      { fields: { thingName: 't1', thingGroupName: 'g1' } },
      'iot:AddThingToThingGroup',
      ['arn:aws:iot:us-east-1:123456789012:thing/t1', 'arn:aws:iot:us-east-1:123456789012:thinggroup/g1'],
    ],
    ['AttachPolicy', { path: { policyName: 'p' }, fields: { target: 'arn:aws:iot:us-east-1:123456789012:cert/abc' } }, 'iot:AttachPolicy', ['arn:aws:iot:us-east-1:123456789012:cert/abc']],
    ['AttachThingPrincipal', { path: { thingName: 't1' }, fields: { principal: 'arn:aws:iot:us-east-1:123456789012:cert/abc' } }, 'iot:AttachThingPrincipal', ['arn:aws:iot:us-east-1:123456789012:cert/abc']],
    ['DescribeCACertificate', { path: { certificateId: 'ca1' } }, 'iot:DescribeCACertificate', ['arn:aws:iot:us-east-1:123456789012:cacert/ca1']],
    ['CreateProvisioningClaim', { path: { templateName: 'tpl' } }, 'iot:CreateProvisioningClaim', ['arn:aws:iot:us-east-1:123456789012:provisioningtemplate/tpl']],
  ])('IoT %s', async (operation, given: { path?: Record<string, string>; fields?: Record<string, string> }, action, resources) => {
    expect(await iotAuthorization(operation, { region: 'us-east-1', accountId: '123456789012', path: given.path ?? {}, fields: given.fields ?? {} })).toEqual({ action, resources });
  });

  it('refuses to guess an IoT operation the Service Authorization Reference does not list', async () => {
    await expect(iotAuthorization('NoSuchOperation', { region: 'us-east-1', accountId: '123456789012', path: {}, fields: {} })).rejects.toThrow('not an action');
  });

  it('asks DynamoDB per table, per index, and per part of a transaction', () => {
    expect(dynamoDbChecks('Query', { TableName: 'devices', IndexName: 'byExpiry' }, 'us-east-1', '123456789012')).toEqual([{ action: 'dynamodb:Query', resources: [`${TABLE}/index/byExpiry`] }]);
    expect(dynamoDbChecks('BatchWriteItem', { RequestItems: { devices: [], ledger: [] } }, 'us-east-1', '123456789012')).toEqual([
      { action: 'dynamodb:BatchWriteItem', resources: [TABLE, 'arn:aws:dynamodb:us-east-1:123456789012:table/ledger'] },
    ]);
    expect(dynamoDbChecks('TransactWriteItems', { TransactItems: [{ Put: { TableName: 'devices' } }, { ConditionCheck: { TableName: 'ledger' } }] }, 'us-east-1', '123456789012')).toEqual([
      { action: 'dynamodb:PutItem', resources: [TABLE] },
      { action: 'dynamodb:ConditionCheckItem', resources: ['arn:aws:dynamodb:us-east-1:123456789012:table/ledger'] },
    ]);
  });

  it('asks SQS for the queue of the URL, batches as their single action', () => {
    expect(sqsChecks('SendMessageBatch', { QueueUrl: 'http://127.0.0.1:1/111111111111/q' }, 'us-east-1', '123456789012')).toEqual([
      { action: 'sqs:SendMessage', resources: ['arn:aws:sqs:us-east-1:111111111111:q'] },
    ]);
    expect(sqsChecks('GetQueueUrl', { QueueName: 'q' }, 'us-east-1', '123456789012')).toEqual([{ action: 'sqs:GetQueueUrl', resources: ['arn:aws:sqs:us-east-1:123456789012:q'] }]);
  });

  it('asks S3 per object and per bucket', () => {
    expect(s3Checks('GET', '/b/things/x%20y.json?x-id=GetObject', {})).toEqual([{ action: 's3:GetObject', resources: ['arn:aws:s3:::b/things/x y.json'] }]);
    expect(s3Checks('HEAD', '/b/k', {})).toEqual([{ action: 's3:GetObject', resources: ['arn:aws:s3:::b/k'] }]);
    expect(s3Checks('PUT', '/b/k', { 'x-amz-copy-source': '/src/a' })).toEqual([
      { action: 's3:GetObject', resources: ['arn:aws:s3:::src/a'] },
      { action: 's3:PutObject', resources: ['arn:aws:s3:::b/k'] },
    ]);
    expect(s3Checks('GET', '/b?list-type=2&prefix=things/', {})).toEqual([{ action: 's3:ListBucket', resources: ['arn:aws:s3:::b'] }]);
    expect(s3Checks('DELETE', '/b/k', {})).toEqual([{ action: 's3:DeleteObject', resources: ['arn:aws:s3:::b/k'] }]);
  });
});
