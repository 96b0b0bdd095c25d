import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DescribeCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { seedDemoCertificate } from '../../local/demo';
import { LocalIotCore } from '../../local/local-iot-core';
import { loadStack } from '../../lib/stack';
import { freePort } from '../support/ports';
import { createCa } from '../../lib/pki';
import { readZip } from '../../bench/zip';
import { deployStack } from '../../local/deploy-stack';
import { STACK_FUNCTIONS } from '../support/handlers';

/**
 * The serverless CLI (osls) offline: `serverless package` with no AWS credentials and what the
 * CloudFormation template must hold, and `serverless invoke local` against the local IoT Core.
 * One file, so the two never build into .esbuild/ at the same time.
 */

const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };


/**
 * The console functions' handler.js budgets (their size when they went in, plus ~5 %). consoleDevices grew by
 * the CloudWatch Logs client (FilterLogEvents for the diagnosis's connects): 398,279 bytes measured; then by the
 * CloudWatch client (ListMetrics, GetMetricData for GET /metrics, the operator home): 421,002 bytes measured (+22.7 KB).
 */
const CONSOLE_BUDGETS = { consoleDevices: 442_000, consoleActions: 360_000, consoleQueue: 327_000 };

let dir: string;
let template: Template;
let caId: string;
let params: Record<string, string>;

const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
const resourceOf = (logicalId: string) => template.Resources[logicalId]!;
const onlyOfType = (type: string) => {
  const found = ofType(type);
  expect(found).toHaveLength(1);
  return found[0]![1];
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iot-package-'));
  const ca = await createCa({ commonName: 'Package CA' });
  caId = ca.certificateId;
  writeFileSync(join(dir, 'rootCA.pem'), ca.certificatePem);
  params = { caCertificateFile: join(dir, 'rootCA.pem'), caCertificateIds: caId };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir, // no ~/.aws: packaging must not need credentials
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    CI: 'true',
  };
  await run(
    join(ROOT, 'node_modules/.bin/serverless'),
    ['package', '--stage', 'test', '--package', join(dir, 'out'), ...Object.entries(params).map(([k, v]) => `--param=${k}=${v}`)],
    { cwd: ROOT, env, timeout: 120_000 },
  );
  template = JSON.parse(readFileSync(join(dir, 'out/cloudformation-template-update-stack.json'), 'utf8')) as Template;
}, 150_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('serverless package', () => {
  it.each(['activateCertificate', 'preProvisioningHook', 'vendProvisioningClaim', 'vendCertificate', 'retireCertificate', 'certificateResource', 'consoleDevices', 'consoleActions', 'consoleQueue', 'rotationEvents'])('writes a bundled zip for %s', (fn) => {
    expect(statSync(join(dir, `out/${fn}.zip`)).size).toBeGreaterThan(10_000);
  });

  // Issue 5's goal is a handler.js of at most 250 KB. The SDK runtime of the two clients most functions use is
  // ~235 KB minified on its own (IoT + DynamoDB document client, with the plugins of esbuild-plugins.cjs), so the
  // goal is out of reach without replacing the SDK; until then each bundle is held to its size when the plugins
  // went in, plus ~5 %, so that a change that grows one is noticed. `npx tsx bench/cold-start.ts` measures them.
  it.each([
    ['activateCertificate', 345_000],
    ['preProvisioningHook', 340_000],
    ['vendProvisioningClaim', 330_000],
    ['vendCertificate', 375_000],
    ['retireCertificate', 325_000],
    ['certificateResource', 395_000],
    // The console's API (issue 12): IoT + DynamoDB + SQS; the queue's SQS + Lambda.
    ['consoleDevices', CONSOLE_BUDGETS.consoleDevices],
    ['consoleActions', CONSOLE_BUDGETS.consoleActions],
    ['consoleQueue', CONSOLE_BUDGETS.consoleQueue],
    // Certificate rotation's commit and roll back (issue 14): IoT + DynamoDB + SQS; 354,567 bytes measured.
    ['rotationEvents', 372_000],
  ])('keeps %s’s minified handler.js within %d bytes', (fn, budget) => {
    const entries = readZip(join(dir, `out/${fn}.zip`));
    const handler = [...entries].find(([name]) => name.endsWith('/handler.js'));
    expect(handler).toBeDefined();
    expect(handler![1].length).toBeLessThanOrEqual(budget);
    // Minified: one line of code (and the source map comment), not the default build's ~2 MB.
    expect(handler![1].toString('utf8').split('\n').length).toBeLessThan(100);
  });

  it('has the topic rule on the registered-certificate topic, filtered to the configured CA, with an error action', () => {
    const rule = resourceOf('CertificateRegisteredRule');
    const payload = rule.Properties.TopicRulePayload;
    expect(payload.Sql).toBe(`SELECT * FROM '$aws/events/certificates/registered/+' WHERE topic(5) = '${caId}'`);
    expect(payload.Actions).toEqual([{ Lambda: { FunctionArn: { 'Fn::GetAtt': ['ActivateCertificateLambdaFunction', 'Arn'] } } }]);
    expect(payload.ErrorAction.Sqs.QueueUrl).toEqual({ Ref: 'ProvisioningFailureQueue' });
  });

  it('has the rotation CSR rule: the device payload plus topic(2), principal() and clientid(), to rotateCertificate, with an error action', () => {
    const payload = resourceOf('RotationCsrRule').Properties.TopicRulePayload;
    expect(payload.Sql).toBe("SELECT *, topic(2) AS thingName, principal() AS principal, clientid() AS clientId FROM 'device/+/rotation/csr'");
    expect(payload.Actions).toEqual([{ Lambda: { FunctionArn: { 'Fn::GetAtt': ['RotateCertificateLambdaFunction', 'Arn'] } } }]);
    expect(payload.ErrorAction.Sqs.QueueUrl).toEqual({ Ref: 'ProvisioningFailureQueue' });
    // At most two at once: the binding quota (docs/rotation-design.md §2).
    expect(resourceOf('RotateCertificateLambdaFunction').Properties.ReservedConcurrentExecutions).toBe(2);
  });

  it('has the rotation’s two topic rules (new certificate connected, job execution ended) to rotationEvents, with an error action', () => {
    expect(ofType('AWS::IoT::TopicRule').map(([id]) => id).sort()).toEqual(['CertificateRegisteredRule', 'RotationConnectedRule', 'RotationCsrRule', 'RotationJobExecutionRule']);
    for (const [id, sql] of [
      ['RotationConnectedRule', "SELECT * FROM '$aws/events/presence/connected/+'"],
      ['RotationJobExecutionRule', "SELECT * FROM '$aws/events/jobExecution/+/+'"],
    ] as const) {
      const payload = resourceOf(id).Properties.TopicRulePayload;
      expect(payload.Sql).toBe(sql);
      expect(payload.Actions).toEqual([{ Lambda: { FunctionArn: { 'Fn::GetAtt': ['RotationEventsLambdaFunction', 'Arn'] } } }]);
      expect(payload.ErrorAction.Sqs.QueueUrl).toEqual({ Ref: 'ProvisioningFailureQueue' });
    }
  });

  it('lets only this account’s rule and template invoke their functions (SourceArn and SourceAccount)', () => {
    const permissions = ofType('AWS::Lambda::Permission').map(([, r]) => r.Properties);
    const fromIot = permissions.filter((p) => p.Principal === 'iot.amazonaws.com');
    expect(fromIot).toHaveLength(5);
    for (const rule of ['rotation_connected', 'rotation_job_execution']) {
      expect(fromIot.find((p) => JSON.stringify(p).includes(`:rule/iot_provisioner_test_${rule}"`))).toMatchObject({
        FunctionName: { 'Fn::GetAtt': ['RotationEventsLambdaFunction', 'Arn'] },
        SourceAccount: { Ref: 'AWS::AccountId' },
      });
    }
    expect(fromIot.find((p) => JSON.stringify(p).includes('provisioningtemplate/'))).toMatchObject({
      FunctionName: { 'Fn::GetAtt': ['PreProvisioningHookLambdaFunction', 'Arn'] },
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:provisioningtemplate/iot-provisioner-test' },
    });
    expect(fromIot.find((p) => JSON.stringify(p).includes(':rule/iot_provisioner_test_rotation_csr'))).toMatchObject({
      FunctionName: { 'Fn::GetAtt': ['RotateCertificateLambdaFunction', 'Arn'] },
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    expect(fromIot.find((p) => JSON.stringify(p).includes(':rule/iot_provisioner_test_certificate_registered'))).toMatchObject({
      Principal: 'iot.amazonaws.com',
      Action: 'lambda:InvokeFunction',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:rule/iot_provisioner_test_certificate_registered' },
    });
  });

  it('sends failed async invocations to the failure queue: JITR, the rotation CSR step and rotationEvents after two retries, the expiry sweep after one', () => {
    const failureQueue = { OnFailure: { Destination: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] } } };
    expect(ofType('AWS::Lambda::EventInvokeConfig').map(([id]) => id).sort()).toEqual(['ActivateCertificateLambdaEvConf', 'ExpirySweepLambdaEvConf', 'RotateCertificateLambdaEvConf', 'RotationEventsLambdaEvConf']);
    expect(resourceOf('RotationEventsLambdaEvConf').Properties).toMatchObject({ MaximumRetryAttempts: 2, DestinationConfig: failureQueue });
    expect(resourceOf('ActivateCertificateLambdaEvConf').Properties).toMatchObject({ MaximumRetryAttempts: 2, DestinationConfig: failureQueue });
    expect(resourceOf('RotateCertificateLambdaEvConf').Properties).toMatchObject({ MaximumRetryAttempts: 2, DestinationConfig: failureQueue });
    expect(resourceOf('ExpirySweepLambdaEvConf').Properties).toMatchObject({ MaximumRetryAttempts: 1, DestinationConfig: failureQueue });
  });

  it('runs the expiry sweep daily from an EventBridge schedule (the expirySweepSchedule parameter), with the findings topic', () => {
    const rule = onlyOfType('AWS::Events::Rule');
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(1 day)', State: 'ENABLED' });
    expect(rule.Properties.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': ['ExpirySweepLambdaFunction', 'Arn'] } })]);
    expect(ofType('AWS::Lambda::Permission').some(([, p]) => p.Properties.Principal === 'events.amazonaws.com')).toBe(true);
    expect(resourceOf('FindingsTopic').Properties).toMatchObject({ TopicName: 'iot-provisioner-test-findings' });
    // The registry's sparse expiry indexes.
    expect(
      resourceOf('DeviceRegistryTable')
        .Properties.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)
        .filter((name: string) => name.startsWith('by-not-')),
    ).toEqual(['by-not-after', 'by-not-before']);
  });

  it('has the registry table on demand with point-in-time recovery', () => {
    expect(template.Resources.DeviceRegistryTable?.Properties).toMatchObject({
      TableName: 'iot-provisioner-test-devices',
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      KeySchema: [{ AttributeName: 'deviceId', KeyType: 'HASH' }],
    });
  });

  it('has the least-privilege device policy with policy variables', () => {
    const policy = template.Resources.DevicePolicy?.Properties;
    expect(policy?.PolicyName).toBe('iot-provisioner-test-device');
    const text = JSON.stringify(policy?.PolicyDocument);
    expect(text).toContain('client/${!iot:Connection.Thing.ThingName}');
    expect(text).toContain('topic/device/${!iot:Connection.Thing.ThingName}/*');
    expect(text).toContain('$aws/things/${!iot:Connection.Thing.ThingName}/shadow/*');
  });

  it('registers the CA in SNI_ONLY mode, ACTIVE, with auto-registration', () => {
    expect(template.Resources.CaCertificate?.Properties).toEqual({
      CACertificatePem: readFileSync(join(dir, 'rootCA.pem'), 'utf8'),
      CertificateMode: 'SNI_ONLY',
      Status: 'ACTIVE',
      AutoRegistrationStatus: 'ENABLE',
    });
  });

  it('has the fleet template with the hook (payload 2020-04-01), its provisioning role, and the claim policy', () => {
    const fleetTemplate = onlyOfType('AWS::IoT::ProvisioningTemplate');
    expect(fleetTemplate.Properties).toMatchObject({
      TemplateName: 'iot-provisioner-test',
      Enabled: true,
      TemplateType: 'FLEET_PROVISIONING',
      PreProvisioningHook: { TargetArn: { 'Fn::GetAtt': ['PreProvisioningHookLambdaFunction', 'Arn'] }, PayloadVersion: '2020-04-01' },
      ProvisioningRoleArn: { 'Fn::GetAtt': ['ProvisioningRole', 'Arn'] },
    });
    const body = JSON.parse(fleetTemplate.Properties.TemplateBody as string);
    expect(body.Resources.thing.Properties.ThingName).toEqual({ Ref: 'SerialNumber' });
    expect(body.Resources.certificate.Properties.Status).toBe('ACTIVE');
    expect(body.Resources.policy.Properties.PolicyName).toBe('iot-provisioner-test-device');
    expect(JSON.stringify(resourceOf('ProvisioningRole').Properties.ManagedPolicyArns)).toContain('service-role/AWSIoTThingsRegistration');
    const claimPolicy = JSON.stringify(resourceOf('ClaimPolicy').Properties.PolicyDocument);
    expect(claimPolicy).toContain('topic/$aws/certificates/create/*');
    expect(claimPolicy).toContain('topic/$aws/certificates/create-from-csr/*');
    expect(claimPolicy).toContain('topic/$aws/provisioning-templates/iot-provisioner-test/provision/*');
  });

  it('has the user pool without self sign-up, with TOTP, its groups, sign-in domain and console client, the JWT authorizer, and POST /provisioning-claims behind it', () => {
    expect(resourceOf('UserPool').Properties.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: true });
    expect(resourceOf('UserPool').Properties).toMatchObject({ MfaConfiguration: 'ON', EnabledMfas: ['SOFTWARE_TOKEN_MFA'] });
    expect(ofType('AWS::Cognito::UserPoolGroup').map(([, r]) => r.Properties.GroupName).sort()).toEqual(['operators', 'technicians']);
    expect(onlyOfType('AWS::Cognito::UserPoolDomain').Properties).toMatchObject({ UserPoolId: { Ref: 'UserPool' } });
    // The console is another origin: the API's CORS allows its origins only (resources/console.cjs consoleCors).
    expect(resourceOf('HttpApi').Properties.CorsConfiguration).toEqual({
      AllowOrigins: ['http://localhost:4577', { 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}' }],
      AllowHeaders: ['authorization', 'content-type', 'idempotency-key'],
      AllowMethods: ['GET', 'POST', 'DELETE'],
      MaxAge: 600,
    });
    expect(resourceOf('ConsoleClient').Properties).toMatchObject({ AllowedOAuthFlows: ['code'], GenerateSecret: false, CallbackURLs: ['http://localhost:4577/', { 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}/' }] });
    expect(onlyOfType('AWS::ApiGatewayV2::Authorizer').Properties).toMatchObject({
      AuthorizerType: 'JWT',
      JwtConfiguration: { Audience: [{ Ref: 'UserPoolClient' }, { Ref: 'ConsoleClient' }], Issuer: { 'Fn::Sub': 'https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}' } },
    });
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    expect(routes.find((r) => r.RouteKey === 'POST /provisioning-claims')).toMatchObject({ AuthorizationType: 'JWT' });
    const claimRole = JSON.stringify(resourceOf('VendProvisioningClaimRole'));
    expect(claimRole).toContain('iot:CreateProvisioningClaim');
    expect(claimRole).toContain('provisioningtemplate/iot-provisioner-test');
  });

  it('has the console API behind the JWT authorizer: every route of the three console functions', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    const authorizerId = routes.find((r) => r.RouteKey === 'POST /provisioning-claims')!.AuthorizerId;
    for (const routeKey of [
      'GET /devices',
      'GET /devices/{deviceId}',
      'GET /devices/{deviceId}/why',
      'GET /decisions',
      'POST /devices/{deviceId}/actions',
      'POST /devices/import',
      'GET /failure-queue',
      'POST /failure-queue/redrive',
    ]) {
      expect([routeKey, routes.find((r) => r.RouteKey === routeKey)]).toEqual([routeKey, expect.objectContaining({ AuthorizationType: 'JWT', AuthorizerId: authorizerId })]);
    }
    // The indexes the list and the decisions read.
    const registryIndexes = (resourceOf('DeviceRegistryTable').Properties.GlobalSecondaryIndexes as Array<{ IndexName: string }>).map((i) => i.IndexName);
    expect(registryIndexes).toContain('by-device-id');
    expect((resourceOf('DeviceTimelineTable').Properties.GlobalSecondaryIndexes as Array<{ IndexName: string }>).map((i) => i.IndexName)).toEqual(['decisions-by-day']);
    // Only the queue function may re-invoke, and only the two functions whose failures land in the queue.
    const queueRole = JSON.stringify(resourceOf('ConsoleQueueRole'));
    expect(queueRole).toContain('function:iot-provisioner-test-activateCertificate');
    expect(queueRole).toContain('function:iot-provisioner-test-expirySweep');
    expect(JSON.stringify(resourceOf('ConsoleDevicesRole'))).not.toMatch(/PutItem|UpdateItem|DeleteMessage|InvokeFunction/);
  });

  it('has the vending API behind IAM authorization, and the retirement queue feeding retireCertificate', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    for (const routeKey of ['POST /devices/{deviceId}/certificate', 'DELETE /devices/{deviceId}/certificate']) {
      expect(routes.find((r) => r.RouteKey === routeKey)).toMatchObject({ AuthorizationType: 'AWS_IAM' });
    }
    expect(resourceOf('RetirementQueue').Properties).toMatchObject({
      QueueName: 'iot-provisioner-test-retirements',
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(onlyOfType('AWS::Lambda::EventSourceMapping').Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['RetirementQueue', 'Arn'] },
      FunctionName: { 'Fn::GetAtt': ['RetireCertificateLambdaFunction', 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('lets devices trade their certificate for credentials scoped to their own prefix (seed 003)', () => {
    const role = resourceOf('DeviceCredentialsRole').Properties;
    expect(role.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'credentials.iot.amazonaws.com' });
    expect(JSON.stringify(role.Policies)).toContain('/things/${!credentials-iot:ThingName}/*');
    expect(resourceOf('DeviceRoleAlias').Properties).toMatchObject({ RoleAlias: 'iot-provisioner-test-device', RoleArn: { 'Fn::GetAtt': ['DeviceCredentialsRole', 'Arn'] } });
    const devicePolicy = resourceOf('DevicePolicy').Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>;
    expect(JSON.stringify(devicePolicy.find((s) => s.Action === 'iot:AssumeRoleWithCertificate')?.Resource)).toContain(
      ':rolealias/iot-provisioner-test-device',
    );
  });

  it('keeps vended keys in private, encrypted, TLS-only buckets and exports the custom resource ServiceToken', () => {
    for (const bucket of ['CertificateBucket', 'DeviceDataBucket']) {
      expect(resourceOf(bucket).Properties).toMatchObject({
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      });
      expect(ofType('AWS::S3::BucketPolicy').map(([, p]) => p.Properties.Bucket)).toContainEqual({ Ref: bucket });
    }
    expect(resourceOf('CertificateResourceLambdaFunction').Properties.Environment.Variables.CERTIFICATE_BUCKET).toEqual({ Ref: 'CertificateBucket' });
    const outputs = (template as unknown as { Outputs: Record<string, { Export?: { Name: unknown } }> }).Outputs;
    expect(outputs.CertificateResourceServiceToken?.Export?.Name).toBe('iot-provisioner-test-CertificateResourceServiceToken');
  });

  // Least privilege (no wildcard action, '*' only where the IAM reference allows nothing narrower) is
  // test/security/iam-policies.test.ts's; that each role grants what its function calls is
  // test/security/role-coverage.test.ts's, on the resources lib/stack.ts builds — these very ones:
  it('holds every resource and output lib/stack.ts builds, as it builds them, and gives each function the role serverless.yml names', () => {
    const local = loadStack({ stage: 'test', params });
    const { Resources, Outputs } = local.resources;
    expect(Object.keys(Resources).length).toBeGreaterThan(25);
    for (const [logicalId, resource] of Object.entries(Resources)) expect([logicalId, template.Resources[logicalId]]).toEqual([logicalId, resource]);
    const outputs = (template as unknown as { Outputs: Record<string, unknown> }).Outputs;
    for (const [name, output] of Object.entries(Outputs)) expect([name, outputs[name]]).toEqual([name, output]);
    for (const fn of local.functions) {
      const logicalId = `${fn.name[0]!.toUpperCase()}${fn.name.slice(1)}LambdaFunction`;
      expect(template.Resources[logicalId]?.Properties.Role).toEqual({ 'Fn::GetAtt': [fn.role, 'Arn'] });
    }
  });

  it('gives every function the environment the local IoT Core reads from serverless.yml', () => {
    const local = loadStack({ stage: 'test', params });
    expect(local.functions.map((f) => f.name).sort()).toEqual([...STACK_FUNCTIONS]);
    for (const fn of local.functions) {
      const logicalId = `${fn.name[0]!.toUpperCase()}${fn.name.slice(1)}LambdaFunction`;
      expect(fn.environment).toEqual(template.Resources[logicalId]?.Properties.Environment.Variables);
    }
    expect(template.Resources.ActivateCertificateLambdaFunction?.Properties.Environment.Variables).toMatchObject({
      ALLOWED_CA_IDS: caId,
      DEVICE_REGISTRY_TABLE: 'iot-provisioner-test-devices',
    });
  });

  it('runs every function arm64 on nodejs24.x', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(STACK_FUNCTIONS.length);
    for (const [, fn] of functions) expect(fn.Properties).toMatchObject({ Architectures: ['arm64'], Runtime: 'nodejs24.x' });
  });
});

describe('serverless invoke local', () => {
  const invoke = (env: Record<string, string>, fn = 'activateCertificate', event = 'events/certificate-registered.json', extra: string[] = []) =>
    run(join(ROOT, 'node_modules/.bin/serverless'), ['invoke', 'local', '-f', fn, '--path', event, ...extra], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: dir, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...env },
      timeout: 120_000,
    });

  it('activates the demo certificate in a running local IoT Core', async () => {
    const core = await LocalIotCore.start();
    try {
      const deployed = await deployStack(core);
      Object.assign(process.env, core.sdkEnvironment());
      const certificateId = await seedDemoCertificate(core, deployed.tableName);

      // The hook's sample event asks for FLEET-0001 with the demo certificate while it is still
      // PENDING_ACTIVATION, as a certificate made over MQTT is during RegisterThing: allowed.
      const hook = await invoke(core.sdkEnvironment(), 'preProvisioningHook', 'events/pre-provisioning-hook.json');
      expect(hook.stdout).toContain('"allowProvisioning": true');
      const { stdout } = await invoke(core.sdkEnvironment());
      expect(stdout).toContain('"outcome": "activated"');
      // Once ACTIVE, the same certificate is some device's identity: the hook refuses it (a replayed token).
      const replay = await invoke(core.sdkEnvironment(), 'preProvisioningHook', 'events/pre-provisioning-hook.json');
      expect(replay.stdout).toContain('"allowProvisioning": false');
      const claim = await invoke(core.sdkEnvironment(), 'vendProvisioningClaim', 'events/provisioning-claim-request.json');
      expect(claim.stdout).toContain('"statusCode": 201');
      // The vending samples: a generated key, a CSR, a rotation, a revocation.
      for (const [event, status] of [
        ['vend-certificate', 201],
        ['vend-certificate-csr', 201],
        ['vend-certificate-rotate', 201],
        ['vend-certificate-delete', 200],
      ] as const) {
        const vended = await invoke(core.sdkEnvironment(), 'vendCertificate', `events/${event}.json`);
        expect(vended.stdout).toContain(`"statusCode": ${status}`);
      }
      // The custom resource's Create sample, its ResponseURL pointed at this core's receiver.
      const create = JSON.parse(readFileSync(join(ROOT, 'events/certificate-resource-create.json'), 'utf8')) as { RequestId: string; ResponseURL: string };
      create.ResponseURL = core.cloudFormationResponseUrl(create.RequestId);
      writeFileSync(join(dir, 'create.json'), JSON.stringify(create));
      await invoke(core.sdkEnvironment(), 'certificateResource', join(dir, 'create.json'), [`--param=certificateBucket=${deployed.certificateBucket}`]);
      const [answer] = core.cloudFormationResponses.received(create.RequestId);
      expect(answer).toMatchObject({ problems: [], body: { Status: 'SUCCESS', Data: { Bucket: deployed.certificateBucket, KeyPrefix: 'sensor-0001/' } } });
      const iot = new IoTClient({});
      const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
      iot.destroy();
      expect(certificateDescription?.status).toBe('ACTIVE');
    } finally {
      await core.close();
    }
  }, 120_000);

  it('fails fast with a clear message when no local IoT Core is running', async () => {
    const port = await freePort();
    const started = Date.now();
    const failure = await invoke({
      AWS_ENDPOINT_URL_IOT: `http://127.0.0.1:${port}`,
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: '123456789012',
      AWS_SECRET_ACCESS_KEY: 'local',
    }).then(
      (result) => result.stdout + result.stderr,
      (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
    );
    // The JITR handler's first call is its activation lease (DynamoDB), then IoT: either names its variable.
    expect(failure).toMatch(/cannot reach the (DynamoDB|AWS IoT) endpoint/);
    expect(failure).toMatch(/AWS_ENDPOINT_URL_(DYNAMODB|IOT)/);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);
});
