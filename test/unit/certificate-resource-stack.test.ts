import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, type Tags } from 'yaml';
import stackModule = require('../../resources/stack.cjs');
import namesModule = require('../../resources/names.cjs');
import { loadStack } from '../../lib/stack';
import { DEVICE_CERTIFICATE_ATTRIBUTES } from '../../shared/provisioning/certificate-resource';
import { deviceCertificatePropertiesSchema } from '../../shared/schemas/cloudformation-event';
import { TEST_STACK_SETTINGS } from '../support/handlers';

/**
 * Custom::DeviceCertificate's wiring: the provisioner's bucket, role and export
 * (functions/certificate-resource/resources.cjs, resources/names.cjs, serverless.yml), and the example stack that uses it (examples/certificate-resource/template.yml).
 */

const ROOT = resolve(__dirname, '../..');

// CloudFormation short-form tags, read as their long form.
const cfnTags: Tags = ['Ref', 'Sub', 'GetAtt', 'Join', 'Select', 'Split', 'If', 'Equals', 'ImportValue', 'Base64'].map((name) => ({
  tag: `!${name}`,
  resolve: (value: unknown) => ({ [name === 'Ref' ? 'Ref' : `Fn::${name}`]: name === 'GetAtt' && typeof value === 'string' ? value.split('.') : value }),
}));

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Template = {
  Parameters: Record<string, Json>;
  Resources: Record<string, { Type: string; Properties: Record<string, Json> }>;
  Outputs: Record<string, { Value: Json }>;
};

const readYaml = <T>(path: string) => parse(readFileSync(resolve(ROOT, path), 'utf8'), { customTags: cfnTags }) as T;

/** Every `Ref`, `Fn::GetAtt` and `${…}` of `Fn::Sub` in a value, as `Name` or `Name.Attribute`. */
function references(value: Json): string[] {
  if (Array.isArray(value)) return value.flatMap(references);
  if (!value || typeof value !== 'object') return [];
  const [key, arg] = Object.entries(value)[0] ?? [];
  if (Object.keys(value).length === 1 && key === 'Ref') return [String(arg)];
  if (Object.keys(value).length === 1 && key === 'Fn::GetAtt') return [(arg as string[]).join('.')];
  if (Object.keys(value).length === 1 && key === 'Fn::Sub' && typeof arg === 'string') {
    return [...arg.matchAll(/\$\{([^!}][^}]*)\}/g)].map((match) => match[1]!);
  }
  return Object.values(value).flatMap(references);
}

describe('the example stack', () => {
  const template = readYaml<Template>('examples/certificate-resource/template.yml');
  const { Resources, Outputs, Parameters } = template;

  it('imports the provisioner’s service token under the name the provisioner exports', () => {
    const properties = Resources.DeviceCertificate!.Properties;
    expect(Resources.DeviceCertificate!.Type).toBe('Custom::DeviceCertificate');
    expect(properties.ServiceToken).toEqual({ 'Fn::ImportValue': { 'Fn::Sub': '${ProvisionerStack}-CertificateResourceServiceToken' } });
    expect(namesModule.namesFor('iot-provisioner', 'dev').certificateResourceExport).toBe('iot-provisioner-dev-CertificateResourceServiceToken');
    expect(Parameters.ProvisionerStack).toMatchObject({ Default: 'iot-provisioner-dev' });
  });

  it('gives the resource only properties it accepts', () => {
    const { ServiceToken: _token, ...rest } = Resources.DeviceCertificate!.Properties;
    expect(Object.keys(rest).sort()).toEqual(['ServiceTimeout', 'ThingName']);
    expect(deviceCertificatePropertiesSchema.safeParse({ ServiceToken: 'arn', ServiceTimeout: '300', ThingName: 'sensor-0001' }).success).toBe(true);
    expect(rest.ThingName).toEqual({ Ref: 'Thing' });
  });

  it('attaches the vended certificate to the thing and to the policy', () => {
    expect(Resources.ThingPrincipalAttachment).toEqual({
      Type: 'AWS::IoT::ThingPrincipalAttachment',
      Properties: { ThingName: { Ref: 'Thing' }, Principal: { 'Fn::GetAtt': ['DeviceCertificate', 'CertificateArn'] } },
    });
    expect(Resources.PolicyPrincipalAttachment).toEqual({
      Type: 'AWS::IoT::PolicyPrincipalAttachment',
      Properties: { PolicyName: { Ref: 'DevicePolicyName' }, Principal: { 'Fn::GetAtt': ['DeviceCertificate', 'CertificateArn'] } },
    });
  });

  it('outputs the endpoint and where the keys are', () => {
    expect(Outputs.IoTEndpoint!.Value).toEqual({ 'Fn::GetAtt': ['DeviceCertificate', 'IoTEndpoint'] });
    expect(Outputs.KeysLocation!.Value).toEqual({ 'Fn::Sub': 's3://${DeviceCertificate.Bucket}/${DeviceCertificate.KeyPrefix}' });
  });

  it('reads only attributes the resource answers, and refers only to what the template declares', () => {
    const all = references([template.Resources, template.Outputs] as unknown as Json);
    const attributes = all.filter((name) => name.startsWith('DeviceCertificate.')).map((name) => name.split('.')[1]);
    expect(attributes.length).toBeGreaterThan(4);
    for (const attribute of attributes) expect(DEVICE_CERTIFICATE_ATTRIBUTES).toContain(attribute);
    const declared = new Set([...Object.keys(Parameters), ...Object.keys(Resources), 'AWS::Partition', 'AWS::Region', 'AWS::AccountId']);
    expect(all.map((name) => name.split('.')[0]).filter((name) => !declared.has(name!))).toEqual([]);
  });
});

describe('the provisioner’s side', () => {
  const { Resources, Outputs } = stackModule.buildResources(TEST_STACK_SETTINGS);
  type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
  const statementsOf = (logicalId: string) =>
    (Resources[logicalId]!.Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap((p) => p.PolicyDocument.Statement);

  it('keeps the keys in a private, encrypted bucket reachable over TLS only', () => {
    expect(Resources.CertificateBucket).toMatchObject({
      Type: 'AWS::S3::Bucket',
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      },
    });
    expect(Resources.CertificateBucket!.Properties).not.toHaveProperty('VersioningConfiguration');
    const policy = Resources.CertificateBucketPolicy!.Properties as { Bucket: unknown; PolicyDocument: { Statement: Statement[] } };
    expect(policy.Bucket).toEqual({ Ref: 'CertificateBucket' });
    expect(policy.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]);
  });

  it("grants the function '*' only for the IoT actions that have no resource type, and S3 on its bucket only", () => {
    const statements = statementsOf('CertificateResourceRole');
    const unscoped = statements.filter((s) => [s.Resource].flat().includes('*')).flatMap((s) => [s.Action].flat());
    expect(unscoped.sort()).toEqual(['iot:CreateKeysAndCertificate', 'iot:DescribeEndpoint', 'iot:ListAttachedPolicies']);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['iot:DeleteCertificate', 'iot:UpdateCertificate', 'iot:DetachThingPrincipal', 'iot:DetachPolicy']));
    expect(actions.filter((a) => a.endsWith(':*'))).toEqual([]);
    for (const statement of statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')))) {
      expect(JSON.stringify(statement.Resource)).toContain('CertificateBucket');
    }
  });

  it('exports the function’s ARN as the service token', () => {
    expect(namesModule.FUNCTIONS.certificateResource).toBe('CertificateResourceLambdaFunction');
    expect(Outputs.CertificateResourceServiceToken).toEqual({
      Value: { 'Fn::GetAtt': ['CertificateResourceLambdaFunction', 'Arn'] },
      Export: { Name: 'iot-provisioner-test-CertificateResourceServiceToken' },
    });
  });

  it('declares the function in serverless.yml with its role, bucket and a limit above the safety margin', () => {
    const config = readYaml<{ functions: Record<string, Record<string, Json>> }>('serverless.yml');
    expect(config.functions.certificateResource).toMatchObject({
      handler: 'functions/certificate-resource/handler.handler',
      role: 'CertificateResourceRole',
      timeout: 60,
    });
    // The stack's own bucket by default, through a stage parameter that `serverless invoke local` can override.
    const fn = loadStack({ stage: 'test' }).functions.find((f) => f.name === 'certificateResource');
    expect(fn?.environment.CERTIFICATE_BUCKET).toEqual({ Ref: 'CertificateBucket' });
    expect(loadStack({ stage: 'test', params: { certificateBucket: 'local-bucket' } }).functions.find((f) => f.name === 'certificateResource')?.environment.CERTIFICATE_BUCKET).toBe('local-bucket');
  });
});
