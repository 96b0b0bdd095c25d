import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DescribeCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { seedDemoCertificate } from '../../local/demo';
import { LocalIotCore } from '../../local/local-iot-core';
import { loadStack } from '../../local/stack';
import { freePort } from '../support/ports';
import { createCa } from '../../local/pki';

/**
 * The serverless CLI (osls) offline: `serverless package` with no AWS credentials and what the
 * CloudFormation template must hold, and `serverless invoke local` against the local IoT Core.
 * One file, so the two never build into .esbuild/ at the same time.
 */

const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };

let dir: string;
let template: Template;
let caId: string;
let params: Record<string, string>;

const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
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
  it('writes a bundled zip for activateCertificate', () => {
    expect(statSync(join(dir, 'out/activateCertificate.zip')).size).toBeGreaterThan(10_000);
  });

  it('has the topic rule on the registered-certificate topic, filtered to the configured CA, with an error action', () => {
    const rule = onlyOfType('AWS::IoT::TopicRule');
    const payload = rule.Properties.TopicRulePayload;
    expect(payload.Sql).toBe(`SELECT * FROM '$aws/events/certificates/registered/+' WHERE topic(5) = '${caId}'`);
    expect(payload.Actions).toEqual([{ Lambda: { FunctionArn: { 'Fn::GetAtt': ['ActivateCertificateLambdaFunction', 'Arn'] } } }]);
    expect(payload.ErrorAction.Sqs.QueueUrl).toEqual({ Ref: 'ProvisioningFailureQueue' });
  });

  it('lets only this account’s rule invoke the function (SourceArn and SourceAccount)', () => {
    const permissions = ofType('AWS::Lambda::Permission').map(([, r]) => r.Properties);
    expect(permissions).toHaveLength(1);
    expect(permissions[0]).toMatchObject({
      Principal: 'iot.amazonaws.com',
      Action: 'lambda:InvokeFunction',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:rule/iot_provisioner_test_certificate_registered' },
    });
  });

  it('sends failed async invocations to the failure queue after two retries', () => {
    const config = onlyOfType('AWS::Lambda::EventInvokeConfig');
    expect(config.Properties).toMatchObject({
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] } } },
    });
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

  it('grants no iot:* and no unscoped resource in any IAM or IoT policy', () => {
    const statements: Array<{ Action: unknown; Resource: unknown }> = [];
    for (const [, resource] of Object.entries(template.Resources)) {
      if (resource.Type === 'AWS::IAM::Role') {
        for (const policy of resource.Properties.Policies ?? []) statements.push(...policy.PolicyDocument.Statement);
      }
      if (resource.Type === 'AWS::IoT::Policy') statements.push(...resource.Properties.PolicyDocument.Statement);
    }
    expect(statements.length).toBeGreaterThan(5);
    const actions = statements.flatMap((s) => [s.Action].flat()) as string[];
    expect(actions.filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
    const resources = statements.flatMap((s) => [s.Resource].flat());
    expect(resources.filter((r) => r === '*')).toEqual([]);
  });

  it('gives the function the environment the local IoT Core reads from serverless.yml', () => {
    const packaged = template.Resources.ActivateCertificateLambdaFunction?.Properties.Environment.Variables;
    const local = loadStack({ stage: 'test', params }).functions.find((f) => f.name === 'activateCertificate')?.environment;
    expect(local).toEqual(packaged);
    expect(packaged).toMatchObject({ ALLOWED_CA_IDS: caId, DEVICE_REGISTRY_TABLE: 'iot-provisioner-test-devices' });
  });

  it('runs arm64 on nodejs22.x or newer', () => {
    expect(template.Resources.ActivateCertificateLambdaFunction?.Properties).toMatchObject({ Architectures: ['arm64'], Runtime: expect.stringMatching(/^nodejs(2[2-9]|[3-9]\d)\.x$/) });
  });
});

describe('serverless invoke local', () => {
  const invoke = (env: Record<string, string>) =>
    run(join(ROOT, 'node_modules/.bin/serverless'), ['invoke', 'local', '-f', 'activateCertificate', '--path', 'events/certificate-registered.json'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: dir, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...env },
      timeout: 120_000,
    });

  it('activates the demo certificate in a running local IoT Core', async () => {
    const core = await LocalIotCore.start();
    try {
      const deployed = await core.deployStack();
      Object.assign(process.env, core.sdkEnvironment());
      const certificateId = await seedDemoCertificate(core, deployed.tableName);

      const { stdout } = await invoke(core.sdkEnvironment());

      expect(stdout).toContain('"outcome": "activated"');
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
    expect(failure).toContain('cannot reach the AWS IoT endpoint');
    expect(failure).toContain('AWS_ENDPOINT_URL_IOT');
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);
});
