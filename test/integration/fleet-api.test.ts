import { createHash } from 'node:crypto';
import {
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateProvisioningTemplateCommand,
  DescribeProvisioningTemplateCommand,
  IoTClient,
  ListProvisioningTemplatesCommand,
} from '@aws-sdk/client-iot';
import { AwsIssuer } from '../../local/iot-core/aws-issuer';
import { FleetProvisioning, type Requester } from '../../local/iot-core/fleet-provisioning';
import type { FunctionInvoker } from '../../local/lambda/async-lambda';
import { LocalIotCore } from '../../local/local-iot-core';
import { createCsr } from '../../lib/pki';

/**
 * The fleet-provisioning API of the local IoT Core without a socket (the MQTT endpoint adds transport and
 * authorization): certificate creation, RegisterThing with templates, OverrideSettings, the hook, and
 * errors; plus the provisioning-template and certificate operations of the control plane.
 */

let core: LocalIotCore;
let iot: IoTClient;
let fleet: FleetProvisioning;
let hook: jest.Mock;
let requester: Requester;

const templateBody = (thing: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', ...thing },
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } },
      ...extra,
    },
  });

async function template(name: string, thing: Record<string, unknown>, options: { hook?: boolean; extra?: Record<string, unknown> } = {}) {
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: name,
      templateBody: templateBody(thing, options.extra),
      provisioningRoleArn: 'arn:aws:iam::123456789012:role/provisioning',
      enabled: true,
      ...(options.hook ? { preProvisioningHook: { targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:hook' } } : {}),
    }),
  );
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function newToken(): Promise<{ token: string; certificateId: string }> {
  const reply = await fleet.handle('$aws/certificates/create/json', json({}), requester);
  return { token: String(reply!.payload.certificateOwnershipToken), certificateId: String(reply!.payload.certificateId) };
}

async function register(templateName: string, parameters: Record<string, unknown>, token?: string) {
  const t = token ?? (await newToken()).token;
  return fleet.handle(`$aws/provisioning-templates/${templateName}/provision/json`, json({ certificateOwnershipToken: t, parameters }), requester);
}

beforeAll(async () => {
  core = await LocalIotCore.start({ traffic: { throttling: false } });
  iot = new IoTClient({ endpoint: core.endpoints.iot, region: 'us-east-1', credentials: { accessKeyId: '123456789012', secretAccessKey: 'local' } });
  hook = jest.fn();
  fleet = new FleetProvisioning(core.registry, await AwsIssuer.create(), hook as unknown as FunctionInvoker);
  requester = { account: core.defaultAccount, certificateId: 'f'.repeat(64), clientId: 'claim-1' };
  core.defaultAccount.things.createGroup('g1', {});
  core.defaultAccount.things.createGroup('g2', {});
  core.defaultAccount.things.createType('typeA', {});
});

afterAll(async () => {
  iot.destroy();
  await core.close();
});

describe('certificates over the fleet API', () => {
  it('creates keys and a PENDING_ACTIVATION certificate with an ownership token', async () => {
    const reply = await fleet.handle('$aws/certificates/create/json', json({}), requester);
    expect(reply).toMatchObject({
      topic: '$aws/certificates/create/json/accepted',
      payload: { certificateId: expect.stringMatching(/^[a-f0-9]{64}$/), privateKey: expect.stringContaining('RSA PRIVATE KEY'), certificateOwnershipToken: expect.any(String) },
    });
    expect(core.defaultAccount.certificates.find(String(reply!.payload.certificateId))?.status).toBe('PENDING_ACTIVATION');
  });

  it('signs a CSR, keeping its subject and the device’s key', async () => {
    const csr = await createCsr({ commonName: 'FLEET-CSR' });
    const reply = await fleet.handle('$aws/certificates/create-from-csr/json', json({ certificateSigningRequest: csr.csrPem }), requester);
    expect(reply?.topic).toBe('$aws/certificates/create-from-csr/json/accepted');
    expect(reply?.payload).not.toHaveProperty('privateKey');
    expect(core.defaultAccount.certificates.find(String(reply!.payload.certificateId))?.x509.subject).toBe('CN=FLEET-CSR');
  });

  it.each([
    ['an RSA-1024 CSR', async () => ({ certificateSigningRequest: (await createCsr({ commonName: 'x' }, 'rsa-1024')).csrPem }), 'InvalidCsr'],
    ['a missing CSR', async () => ({}), 'InvalidPayload'],
    ['something that is not a CSR', async () => ({ certificateSigningRequest: 'hello' }), 'InvalidCsr'],
  ])('rejects %s', async (_, body, errorCode) => {
    const reply = await fleet.handle('$aws/certificates/create-from-csr/json', json(await body()), requester);
    expect(reply).toMatchObject({ topic: '$aws/certificates/create-from-csr/json/rejected', payload: { statusCode: 400, errorCode } });
  });

  it('rejects a payload that is not JSON, and the cbor format it does not speak', async () => {
    expect((await fleet.handle('$aws/certificates/create/json', Buffer.from('{nope'), requester))?.payload).toMatchObject({ errorCode: 'InvalidPayload' });
    expect(await fleet.handle('$aws/certificates/create/cbor', Buffer.from([0xa0]), requester)).toMatchObject({ topic: '$aws/certificates/create/cbor/rejected' });
  });

  it('ignores topics that are not fleet-provisioning requests', async () => {
    expect(await fleet.handle('device/x/telemetry', json({}), requester)).toBeUndefined();
  });
});

describe('RegisterThing', () => {
  it('creates the thing, activates the certificate, attaches it and the policy created from a document', async () => {
    const document = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] };
    await template('basic', { Properties: { ThingName: { Ref: 'SerialNumber' }, ThingGroups: ['g1'], ThingTypeName: 'typeA', AttributePayload: { a: '1' } } }, {
      extra: { policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: document } } },
    });
    const { token, certificateId } = await newToken();
    const reply = await register('basic', { SerialNumber: 'RT-1' }, token);
    expect(reply).toEqual({ topic: '$aws/provisioning-templates/basic/provision/json/accepted', payload: { deviceConfiguration: {}, thingName: 'RT-1' } });
    const account = core.defaultAccount;
    const certificate = account.certificates.find(certificateId)!;
    expect(certificate.status).toBe('ACTIVE');
    expect(account.things.thingsOfPrincipal(certificate.certificateArn)).toEqual(['RT-1']);
    const policyName = createHash('sha256').update(JSON.stringify(document)).digest('hex');
    expect(account.policies.attachedTo(certificate.certificateArn).map((p) => p.policyName)).toEqual([policyName]);
    expect(account.things.describe('RT-1')).toMatchObject({ thingTypeName: 'typeA', attributes: { a: '1' } });
    // An ownership token is used once.
    expect((await register('basic', { SerialNumber: 'RT-1' }, token))?.payload).toMatchObject({ errorCode: 'InvalidCertificateOwnershipToken' });
  });

  it.each([
    ['MERGE', { a: 'old', b: 'new' }, ['g1', 'g2']],
    ['REPLACE', { b: 'new' }, ['g2']],
    ['DO_NOTHING', { a: 'old' }, ['g1']],
  ] as const)('applies OverrideSettings %s to an existing thing', async (setting, attributes, groups) => {
    const name = `ovr-${setting.toLowerCase()}`;
    core.defaultAccount.things.create(`${name}-thing`, { attributePayload: { attributes: { a: 'old' } } });
    core.defaultAccount.things.addToGroup({ thingGroupName: 'g1', thingName: `${name}-thing` });
    await template(name, {
      OverrideSettings: { AttributePayload: setting, ThingGroups: setting },
      Properties: { ThingName: { 'Fn::Join': ['', [{ Ref: 'SerialNumber' }, '-thing']] }, AttributePayload: { b: 'new' }, ThingGroups: ['g2'] },
    });
    expect((await register(name, { SerialNumber: name }))?.topic).toMatch(/accepted$/);
    expect(core.defaultAccount.things.describe(`${name}-thing`).attributes).toEqual(attributes);
    expect(core.defaultAccount.things.groupsOf(`${name}-thing`).map((g) => g.groupName).sort()).toEqual(groups);
  });

  it('fails with ResourceConflict when an override is FAIL and the thing exists', async () => {
    core.defaultAccount.things.create('fail-thing', {});
    await template('ovr-fail', { OverrideSettings: { AttributePayload: 'FAIL' }, Properties: { ThingName: 'fail-thing', AttributePayload: { x: '1' } } });
    expect((await register('ovr-fail', { SerialNumber: 'x' }))?.payload).toMatchObject({ statusCode: 409, errorCode: 'ResourceConflict' });
  });

  it('changes nothing when a resource the template names does not exist', async () => {
    await template('missing-group', { Properties: { ThingName: { Ref: 'SerialNumber' }, ThingGroups: ['nope'] } });
    const { token, certificateId } = await newToken();
    expect((await register('missing-group', { SerialNumber: 'MG-1' }, token))?.payload).toMatchObject({ errorCode: 'ResourceNotFound' });
    expect(core.defaultAccount.things.find('MG-1')).toBeUndefined();
    expect(core.defaultAccount.certificates.find(certificateId)?.status).toBe('PENDING_ACTIVATION');
  });

  it.each([
    ['an empty token', { certificateOwnershipToken: '' }, 'InvalidCertificateOwnershipToken', 'Certificate ownership token cannot be empty.'],
    ['an unknown token', { certificateOwnershipToken: 'bogus' }, 'InvalidCertificateOwnershipToken', undefined],
  ])('rejects %s', async (_, body, errorCode, message) => {
    const reply = await fleet.handle('$aws/provisioning-templates/basic/provision/json', json(body), requester);
    expect(reply?.payload).toMatchObject({ statusCode: 400, errorCode, ...(message ? { errorMessage: message } : {}) });
  });

  it('rejects parameters that are not strings (with a valid token)', async () => {
    expect((await register('basic', { SerialNumber: 5 }))?.payload).toMatchObject({ errorCode: 'InvalidParameters' });
  });

  it('rejects an unknown template with 404', async () => {
    expect((await register('no-such-template', { SerialNumber: 'x' }))?.payload).toMatchObject({ statusCode: 404, errorCode: 'ResourceNotFound' });
  });

  it('runs the hook with the real event and merges its overrides', async () => {
    await template('hooked', { Properties: { ThingName: { Ref: 'SerialNumber' } } }, { hook: true });
    hook.mockResolvedValueOnce({ allowProvisioning: true, parameterOverrides: { SerialNumber: 'FROM-HOOK' } });
    const { token, certificateId } = await newToken();
    const reply = await register('hooked', { SerialNumber: 'FROM-DEVICE' }, token);
    expect(reply?.payload).toMatchObject({ thingName: 'FROM-HOOK' });
    expect(hook).toHaveBeenLastCalledWith(
      'arn:aws:lambda:us-east-1:123456789012:function:hook',
      {
        claimCertificateId: 'f'.repeat(64),
        certificateId,
        certificatePem: expect.stringContaining('BEGIN CERTIFICATE'),
        templateArn: 'arn:aws:iot:us-east-1:123456789012:provisioningtemplate/hooked',
        clientId: 'claim-1',
        parameters: { SerialNumber: 'FROM-DEVICE' },
      },
      5_000,
    );
  });

  it.each([
    ['refuses', () => hook.mockResolvedValueOnce({ allowProvisioning: false })],
    ['answers something else', () => hook.mockResolvedValueOnce({ allow: true })],
    ['throws or times out', () => hook.mockRejectedValueOnce(new Error('no answer within 5000 ms'))],
  ])('denies provisioning (AccessDenied) when the hook %s, creating nothing', async (_, arrange) => {
    arrange();
    const { token, certificateId } = await newToken();
    expect((await register('hooked', { SerialNumber: 'DENIED-1' }, token))?.payload).toMatchObject({ statusCode: 403, errorCode: 'AccessDenied' });
    expect(core.defaultAccount.things.find('DENIED-1')).toBeUndefined();
    expect(core.defaultAccount.certificates.find(certificateId)?.status).toBe('PENDING_ACTIVATION');
  });
});

describe('control-plane operations for fleet provisioning', () => {
  it('describes and lists provisioning templates', async () => {
    const described = await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'hooked' }));
    expect(described).toMatchObject({
      templateArn: 'arn:aws:iot:us-east-1:123456789012:provisioningtemplate/hooked',
      enabled: true,
      type: 'FLEET_PROVISIONING',
      preProvisioningHook: { targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:hook', payloadVersion: '2020-04-01' },
    });
    expect(described.creationDate).toBeInstanceOf(Date);
    const { templates } = await iot.send(new ListProvisioningTemplatesCommand({}));
    expect(templates?.map((t) => t.templateName)).toEqual(expect.arrayContaining(['basic', 'hooked']));
    await expect(iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('refuses a template with a bad name, body, or a hook on a JITP template', async () => {
    const base = { provisioningRoleArn: 'arn:aws:iam::123456789012:role/provisioning', templateBody: templateBody({ Properties: { ThingName: 'x' } }) };
    await expect(iot.send(new CreateProvisioningTemplateCommand({ ...base, templateName: 'bad name' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(iot.send(new CreateProvisioningTemplateCommand({ ...base, templateName: 'badbody', templateBody: '{' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(
      iot.send(new CreateProvisioningTemplateCommand({ ...base, templateName: 'jitp', type: 'JITP', preProvisioningHook: { targetArn: 'arn:aws:lambda:us-east-1:1:function:h' } })),
    ).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(iot.send(new CreateProvisioningTemplateCommand({ ...base, templateName: 'basic' }))).rejects.toMatchObject({ name: 'ResourceAlreadyExistsException' });
  });

  it('creates keys and certificates (REST), ACTIVE when asked, and certificates from a CSR', async () => {
    const keys = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    expect(keys).toMatchObject({ certificateArn: expect.stringContaining(':cert/'), keyPair: { PublicKey: expect.stringContaining('PUBLIC KEY'), PrivateKey: expect.stringContaining('PRIVATE KEY') } });
    expect(core.defaultAccount.certificates.find(keys.certificateId!)?.status).toBe('ACTIVE');
    const fromCsr = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: (await createCsr({ commonName: 'rest' })).csrPem }));
    expect(core.defaultAccount.certificates.find(fromCsr.certificateId!)?.status).toBe('INACTIVE');
    await expect(iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: 'nope' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });
  });
});
