import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadIamReference, servicesOf } from './iam-reference';
import { checkTemplate, type CheckOptions } from './policy-checker';

/**
 * Least privilege in the packaged CloudFormation template: no IAM or AWS IoT policy statement grants a
 * wildcard action or `Resource: '*'` where the action can be scoped (policy-checker.ts says exactly what
 * is checked). The checker is tested first on templates made to break each rule, so that it is known to
 * fail when a bad statement comes in. Which actions can be scoped is the IAM Service Authorization
 * Reference's answer, the same one role-coverage.test.ts checks each role's grants against (that they
 * cover what the code calls, and that none is a grant IAM never matches).
 */

const ROOT = resolve(__dirname, '../..');

/** The one AWS managed policy the stack uses: the fleet template's provisioning role, as AWS documents it. */
const ALLOWED_MANAGED_POLICIES = {
  'service-role/AWSIoTThingsRegistration': 'the role AWS IoT assumes to apply a fleet-provisioning template (aws-iot-reference §3)',
};
let OPTIONS: CheckOptions;

beforeAll(async () => {
  // Every service the stack's policies name (sts for the trust policies).
  OPTIONS = { allowedManagedPolicies: ALLOWED_MANAGED_POLICIES, reference: await loadIamReference(['iot', 'dynamodb', 'sqs', 's3', 'logs', 'sts']) };
});

const role = (statements: unknown[]) => ({
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
    Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
  },
});
const ARN = 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}';
const problemsOf = (resources: Record<string, unknown>) => checkTemplate({ Resources: resources as never }, OPTIONS).findings.map((f) => f.problem);

describe('the policy checker', () => {
  it('accepts scoped statements, actions without a resource type on *, and wildcards in a Deny', () => {
    expect(
      problemsOf({
        Fn: role([
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/svc-dev-fn:*' } },
          { Effect: 'Allow', Action: ['iot:CreateKeysAndCertificate', 'iot:CreateCertificateFromCsr', 'iot:DescribeEndpoint', 'iot:ListAttachedPolicies'], Resource: '*' },
          { Effect: 'Allow', Action: 'iot:UpdateCertificate', Resource: { 'Fn::Sub': `${ARN}:cert/*` } },
          { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': ['Table', 'Arn'] } },
        ]),
        TlsOnly: {
          Type: 'AWS::S3::BucketPolicy',
          Properties: { PolicyDocument: { Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] } },
        },
      }),
    ).toEqual([]);
  });

  it.each([
    ['iot:* in a role', role([{ Effect: 'Allow', Action: 'iot:*', Resource: { 'Fn::Sub': `${ARN}:cert/*` } }]), /wildcard action iot:\*/],
    ['* as an action', role([{ Effect: 'Allow', Action: ['dynamodb:GetItem', '*'], Resource: { 'Fn::GetAtt': ['T', 'Arn'] } }]), /wildcard action \*/],
    ['a prefix wildcard', role([{ Effect: 'Allow', Action: 'iot:Create*', Resource: '*' }]), /wildcard action iot:Create\*/],
    ['Resource * for an action that has a resource type', role([{ Effect: 'Allow', Action: ['iot:DescribeEndpoint', 'iot:UpdateCertificate'], Resource: '*' }]), /Resource \* for iot:UpdateCertificate,/],
    ['Resource * for an action the IAM reference does not know', role([{ Effect: 'Allow', Action: 'iot:DescribeEndpoints', Resource: '*' }]), /Resource \* for iot:DescribeEndpoints/],
    ['a whole service as the resource', role([{ Effect: 'Allow', Action: 'iot:CreateThing', Resource: { 'Fn::Sub': `${ARN}:*` } }]), /for iot:CreateThing, which can be scoped/],
    ['NotAction in an Allow', role([{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }]), /NotAction/],
    ['logs on every log group', role([{ Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: '*' }]), /logs:PutLogEvents beyond a function's own log group/],
    ['writing to AWS IoT’s log group', role([{ Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:AWSIotLogsV2:*' } }]), /logs:PutLogEvents beyond a function's own log group/],
    // The metric reads may be on '*' (classic metrics have no ARN); a CloudWatch action with a real resource may not.
    ['Resource * for a CloudWatch action that has a resource type', role([{ Effect: 'Allow', Action: ['cloudwatch:GetMetricData', 'cloudwatch:DeleteAlarms'], Resource: '*' }]), /Resource \* for cloudwatch:DeleteAlarms,/],
    ['reading every log group', role([{ Effect: 'Allow', Action: 'logs:FilterLogEvents', Resource: '*' }]), /logs:FilterLogEvents beyond a function's own log group/],
    [
      'an IoT policy granting iot:* on *',
      { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] } } },
      /wildcard action iot:\*/,
    ],
    [
      'an IoT policy letting a device publish anywhere',
      { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }] } } },
      /Resource \* for iot:Publish/,
    ],
    [
      'a role anyone may assume',
      { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] } } },
      /any principal/,
    ],
    ['a managed policy nobody vetted', { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [] }, ManagedPolicyArns: ['arn:aws:iam::aws:policy/AWSIoTFullAccess'] } }, /managed policy AWSIoTFullAccess/],
  ])('flags %s', (_, resource, problem) => {
    expect(problemsOf({ Bad: resource }).join('\n')).toMatch(problem);
  });
});

describe('the packaged template', () => {
  let dir: string;
  let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

  beforeAll(async () => {
    // `serverless package` in a copy of the project: it builds in the service directory (.esbuild/), so a
    // copy keeps it from meeting another test's build there.
    dir = mkdtempSync(join(tmpdir(), 'iot-policies-'));
    const service = join(dir, 'service');
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((file) => file && !file.startsWith('test/') && !file.startsWith('bench/'));
    for (const file of files) {
      mkdirSync(dirname(join(service, file)), { recursive: true });
      try {
        copyFileSync(join(ROOT, file), join(service, file));
      } catch (error) {
        // A file deleted in the working tree but still in the index.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    symlinkSync(join(ROOT, 'node_modules'), join(service, 'node_modules'));
    mkdirSync(join(dir, 'home'));
    await promisify(execFile)(join(ROOT, 'node_modules/.bin/serverless'), ['package', '--stage', 'test', '--package', join(dir, 'out')], {
      cwd: service,
      // No ~/.aws: packaging needs no credentials.
      env: { PATH: process.env.PATH, HOME: join(dir, 'home'), SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', CI: 'true' },
      timeout: 120_000,
    });
    template = JSON.parse(readFileSync(join(dir, 'out/cloudformation-template-update-stack.json'), 'utf8')) as typeof template;
    // The reference of every service the packaged template's policies name.
    OPTIONS = { ...OPTIONS, reference: await loadIamReference(servicesOf(template)) };
  }, 150_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('grants no wildcard action, and Resource * only for the actions that have no resource type, in any IAM or IoT policy', () => {
    const { findings, documents, statements } = checkTemplate(template, OPTIONS);
    expect(findings).toEqual([]);
    // Which those are, by name: minting certificates, DescribeEndpoint, and ListAttachedPolicies (resources/iam.cjs says why),
    // and the operator home's metric reads, cloudwatch:ListMetrics and GetMetricData (functions/console-devices/resources.cjs;
    // the Service Authorization Reference gives them only an optional `dataset` type, which classic metrics are not: policy-checker.ts),
    // and the account's event configurations, which the rotation start turns on for job executions (issue 14; no resource type).
    const unscoped = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IoT::Policy')
      .flatMap((r) => [r.Properties.PolicyDocument, ...((r.Properties.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []).map((p) => p.PolicyDocument)])
      .flatMap((d) => ((d as { Statement?: Array<{ Action: string | string[]; Resource: unknown }> } | undefined)?.Statement ?? []))
      .filter((s) => [s.Resource].flat().includes('*'))
      .flatMap((s) => [s.Action].flat());
    expect([...new Set(unscoped)].sort()).toEqual(['cloudwatch:GetMetricData', 'cloudwatch:ListMetrics', 'iot:CreateCertificateFromCsr', 'iot:CreateKeysAndCertificate', 'iot:DescribeEndpoint', 'iot:DescribeEventConfigurations', 'iot:ListAttachedPolicies', 'iot:UpdateEventConfigurations']);
    // Every function role, the other roles, the two IoT policies and the bucket policies were read.
    const roles = Object.values(template.Resources).filter((r) => r.Type === 'AWS::IAM::Role').length;
    expect(roles).toBeGreaterThanOrEqual(9);
    expect(documents).toBeGreaterThanOrEqual(roles * 2 - 1 + 2);
    expect(statements).toBeGreaterThan(40);
  });

  it('scopes every function’s logs to its own log group', () => {
    const logStatements = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .flatMap(([, r]) => ((r.Properties.Policies as Array<{ PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> } }>) ?? []).flatMap((p) => p.PolicyDocument.Statement))
      // Writing logs: every function to its own group (reading AWS IoT's log, FilterLogEvents, is checked apart).
      .filter((s) => JSON.stringify(s.Action).includes('logs:') && !JSON.stringify(s.Action).includes('logs:FilterLogEvents'));
    expect(logStatements.length).toBeGreaterThanOrEqual(6);
    for (const statement of logStatements) expect(JSON.stringify(statement.Resource)).toMatch(/log-group:\/aws\/lambda\/iot-provisioner-test-[A-Za-z]+:\*/);
  });

  it('fails the template as soon as one bad statement is added to it', () => {
    const tampered = structuredClone(template);
    const devicePolicy = tampered.Resources.DevicePolicy!.Properties.PolicyDocument as { Statement: unknown[] };
    devicePolicy.Statement.push({ Effect: 'Allow', Action: 'iot:*', Resource: '*' });
    const vending = tampered.Resources.VendCertificateRole!.Properties.Policies as Array<{ PolicyDocument: { Statement: unknown[] } }>;
    vending[0]!.PolicyDocument.Statement.push({ Effect: 'Allow', Action: 'iot:AttachPolicy', Resource: '*' });
    const problems = checkTemplate(tampered, OPTIONS).findings.map((f) => `${f.resource}: ${f.problem}`);
    expect(problems).toEqual([
      'DevicePolicy: wildcard action iot:*',
      'DevicePolicy: Resource * for iot:*, which can be scoped to a resource',
      'VendCertificateRole: Resource * for iot:AttachPolicy, which can be scoped to a resource',
    ]);
  });
});
