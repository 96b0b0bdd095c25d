import { createHash, X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DeleteCACertificateCommand,
  DeleteCertificateCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  GetPolicyCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  UpdateCACertificateCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { LocalIotCore } from '../../local/local-iot-core';
import { createCa, issueCertificate, issueVerificationCertificate, type KeyedCertificate } from '../../lib/pki';

/**
 * The local IoT Core's control plane through the real AWS SDK: AWS semantics for the operations JITR and
 * CA registration use (aws-iot-reference §0, §2, §4).
 */

let core: LocalIotCore;
let iot: IoTClient;
let ca: KeyedCertificate;

const clientFor = (accountId: string, maxAttempts = 3) =>
  new IoTClient({
    endpoint: core.endpoints.iot,
    region: 'us-east-1',
    credentials: { accessKeyId: accountId, secretAccessKey: 'local' },
    maxAttempts,
  });

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    return { name: (error as Error).name, status: (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  core = await LocalIotCore.start({ traffic: { throttling: false } });
  iot = clientFor('123456789012');
  ca = await createCa({ commonName: 'Control plane CA' });
});

afterAll(async () => {
  iot.destroy();
  await core.close();
});

describe('CA registration', () => {
  it('registers a DEFAULT-mode CA with a verification certificate carrying the registration code', async () => {
    const account = clientFor('210987654321');
    const { registrationCode } = await account.send(new GetRegistrationCodeCommand({}));
    expect(registrationCode).toMatch(/^[a-f0-9]{64}$/);
    expect((await account.send(new GetRegistrationCodeCommand({}))).registrationCode).toBe(registrationCode);
    const verification = await issueVerificationCertificate(ca, registrationCode!);

    const result = await account.send(
      new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, verificationCertificate: verification.certificatePem }),
    );

    const id = createHash('sha256').update(new X509Certificate(ca.certificatePem).raw).digest('hex');
    expect(result).toMatchObject({ certificateId: id, certificateArn: `arn:aws:iot:us-east-1:210987654321:cacert/${id}` });
    const { certificateDescription } = await account.send(new DescribeCACertificateCommand({ certificateId: id }));
    expect(certificateDescription).toMatchObject({
      status: 'INACTIVE',
      autoRegistrationStatus: 'DISABLE',
      certificateMode: 'DEFAULT',
      ownedBy: '210987654321',
    });
    expect(certificateDescription?.creationDate).toBeInstanceOf(Date);

    await account.send(new UpdateCACertificateCommand({ certificateId: id, newStatus: 'ACTIVE', newAutoRegistrationStatus: 'ENABLE' }));
    expect((await account.send(new DescribeCACertificateCommand({ certificateId: id }))).certificateDescription).toMatchObject({
      status: 'ACTIVE',
      autoRegistrationStatus: 'ENABLE',
    });
    account.destroy();
  });

  it('refuses a verification certificate without the registration code', async () => {
    const other = await createCa({ commonName: 'Wrong code CA' });
    await iot.send(new GetRegistrationCodeCommand({}));
    const verification = await issueVerificationCertificate(other, 'f'.repeat(64));
    expect(
      await errorOf(iot.send(new RegisterCACertificateCommand({ caCertificate: other.certificatePem, verificationCertificate: verification.certificatePem }))),
    ).toEqual({ name: 'RegistrationCodeValidationException', status: 400 });
  });

  it('refuses a verification certificate signed by another key', async () => {
    const other = await createCa({ commonName: 'Unsigned CA' });
    const impostor = await createCa({ commonName: 'Impostor' });
    const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
    const verification = await issueVerificationCertificate(impostor, registrationCode!);
    expect(
      await errorOf(iot.send(new RegisterCACertificateCommand({ caCertificate: other.certificatePem, verificationCertificate: verification.certificatePem }))),
    ).toEqual({ name: 'CertificateValidationException', status: 400 });
  });

  it('registers the same CA in SNI_ONLY mode in two accounts, with the same id (seed 000)', async () => {
    const shared = await createCa({ commonName: 'MyDeviceRootCA' });
    const accountA = clientFor('111111111111');
    const accountB = clientFor('222222222222');
    const input = { caCertificate: shared.certificatePem, certificateMode: 'SNI_ONLY' as const, setAsActive: true, allowAutoRegistration: true };
    const a = await accountA.send(new RegisterCACertificateCommand(input));
    const b = await accountB.send(new RegisterCACertificateCommand(input));
    expect(a.certificateId).toBe(b.certificateId);
    expect(a.certificateArn).toContain(':111111111111:cacert/');
    expect(b.certificateArn).toContain(':222222222222:cacert/');
    expect((await accountB.send(new DescribeCACertificateCommand({ certificateId: b.certificateId }))).certificateDescription).toMatchObject({
      certificateMode: 'SNI_ONLY',
      status: 'ACTIVE',
      autoRegistrationStatus: 'ENABLE',
    });
    accountA.destroy();
    accountB.destroy();
  });

  it('lets a DEFAULT-mode CA be registered by one account only', async () => {
    const single = await createCa({ commonName: 'Single account CA' });
    const register = async (accountId: string) => {
      const client = clientFor(accountId);
      const { registrationCode } = await client.send(new GetRegistrationCodeCommand({}));
      const verification = await issueVerificationCertificate(single, registrationCode!);
      try {
        return await client.send(new RegisterCACertificateCommand({ caCertificate: single.certificatePem, verificationCertificate: verification.certificatePem }));
      } finally {
        client.destroy();
      }
    };
    await register('333333333333');
    expect(await errorOf(register('444444444444'))).toEqual({ name: 'ResourceAlreadyExistsException', status: 409 });
  });

  it('refuses a verification certificate in SNI_ONLY mode and a missing one in DEFAULT mode', async () => {
    const other = await createCa({ commonName: 'Mode CA' });
    const verification = await issueVerificationCertificate(other, 'x');
    expect(
      await errorOf(
        iot.send(new RegisterCACertificateCommand({ caCertificate: other.certificatePem, certificateMode: 'SNI_ONLY', verificationCertificate: verification.certificatePem })),
      ),
    ).toEqual({ name: 'InvalidRequestException', status: 400 });
    expect(await errorOf(iot.send(new RegisterCACertificateCommand({ caCertificate: other.certificatePem })))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
    });
  });

  it('answers a second registration with ResourceAlreadyExistsException, and refuses to delete an ACTIVE CA', async () => {
    const input = { caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY' as const, setAsActive: true, allowAutoRegistration: true };
    const { certificateId } = await iot.send(new RegisterCACertificateCommand(input));
    expect(await errorOf(iot.send(new RegisterCACertificateCommand(input)))).toEqual({ name: 'ResourceAlreadyExistsException', status: 409 });
    expect(await errorOf(iot.send(new DeleteCACertificateCommand({ certificateId })))).toEqual({ name: 'CertificateStateException', status: 406 });
  });

  it('refuses a certificate that is not a CA, and PEM that is not a certificate', async () => {
    const leaf = await issueCertificate(ca, { subject: { commonName: 'leaf' } });
    expect(await errorOf(iot.send(new RegisterCACertificateCommand({ caCertificate: leaf.certificatePem, certificateMode: 'SNI_ONLY' })))).toEqual({
      name: 'CertificateValidationException',
      status: 400,
    });
    expect(await errorOf(iot.send(new RegisterCACertificateCommand({ caCertificate: 'garbage', certificateMode: 'SNI_ONLY' })))).toEqual({
      name: 'CertificateValidationException',
      status: 400,
    });
  });
});

describe('device certificates', () => {
  let device: KeyedCertificate;
  beforeAll(async () => {
    device = await issueCertificate(ca, { subject: { serialNumber: 'CP-1' } });
    try {
      await iot.send(
        new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ResourceAlreadyExistsException') throw error;
    }
  });

  it('registers a certificate under its CA, INACTIVE by default, with AWS ids and ARNs', async () => {
    const { certificateId, certificateArn } = await iot.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem }));
    expect(certificateId).toBe(device.certificateId);
    expect(certificateArn).toBe(`arn:aws:iot:us-east-1:123456789012:cert/${device.certificateId}`);
    const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription).toMatchObject({
      status: 'INACTIVE',
      caCertificateId: ca.certificateId,
      certificateMode: 'SNI_ONLY',
      ownedBy: '123456789012',
    });
    expect(certificateDescription?.validity?.notAfter).toBeInstanceOf(Date);
    expect(certificateDescription?.certificatePem).toContain('BEGIN CERTIFICATE');
  });

  it('keeps REVOKED terminal and refuses PENDING statuses', async () => {
    const other = await issueCertificate(ca, { subject: { serialNumber: 'CP-2' } });
    const { certificateId } = await iot.send(new RegisterCertificateCommand({ certificatePem: other.certificatePem, status: 'ACTIVE' }));
    await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' })); // idempotent
    expect(await errorOf(iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'PENDING_ACTIVATION' })))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
    });
    await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
    expect(await errorOf(iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' })))).toEqual({
      name: 'CertificateStateException',
      status: 406,
    });
    await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' })); // still idempotent
  });

  it('registers a certificate without a CA in SNI_ONLY mode', async () => {
    const selfSigned = await createCa({ commonName: 'no-ca-device' });
    const { certificateId } = await iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: selfSigned.certificatePem, status: 'ACTIVE' }));
    const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(certificateDescription).toMatchObject({ certificateMode: 'SNI_ONLY', status: 'ACTIVE' });
    expect(certificateDescription?.caCertificateId).toBeUndefined();
  });

  it('refuses to register a certificate from an unregistered CA', async () => {
    const unknownCa = await createCa({ commonName: 'Unregistered' });
    const stranger = await issueCertificate(unknownCa, { subject: { serialNumber: 'X' } });
    expect(await errorOf(iot.send(new RegisterCertificateCommand({ certificatePem: stranger.certificatePem })))).toEqual({
      name: 'CertificateValidationException',
      status: 400,
    });
  });

  it('answers ResourceNotFoundException (404) for an unknown certificate', async () => {
    expect(await errorOf(iot.send(new DescribeCertificateCommand({ certificateId: 'a'.repeat(64) })))).toEqual({
      name: 'ResourceNotFoundException',
      status: 404,
    });
  });

  it('deletes a certificate only when inactive, without things, and without policies unless forced', async () => {
    const doomed = await issueCertificate(ca, { subject: { serialNumber: 'CP-DEL' } });
    const { certificateId, certificateArn } = await iot.send(new RegisterCertificateCommand({ certificatePem: doomed.certificatePem, status: 'ACTIVE' }));
    await iot.send(new CreateThingCommand({ thingName: 'CP-DEL' }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'CP-DEL', principal: certificateArn }));
    await iot.send(new CreatePolicyCommand({ policyName: 'cp-del', policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] }) }));
    await iot.send(new AttachPolicyCommand({ policyName: 'cp-del', target: certificateArn }));

    expect(await errorOf(iot.send(new DeleteCertificateCommand({ certificateId })))).toEqual({ name: 'CertificateStateException', status: 406 });
    await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    expect(await errorOf(iot.send(new DeleteCertificateCommand({ certificateId })))).toEqual({ name: 'DeleteConflictException', status: 409 });
    await iot.send(new DetachThingPrincipalCommand({ thingName: 'CP-DEL', principal: certificateArn }));
    expect(await errorOf(iot.send(new DeleteCertificateCommand({ certificateId })))).toEqual({ name: 'DeleteConflictException', status: 409 });
    await iot.send(new DeleteCertificateCommand({ certificateId, forceDelete: true }));
    expect(await errorOf(iot.send(new DescribeCertificateCommand({ certificateId })))).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('things, principals and policies', () => {
  it('creates a thing idempotently, and conflicts on a different configuration', async () => {
    const first = await iot.send(new CreateThingCommand({ thingName: 'idem-1', attributePayload: { attributes: { a: '1' } } }));
    const again = await iot.send(new CreateThingCommand({ thingName: 'idem-1', attributePayload: { attributes: { a: '1' } } }));
    expect(again.thingId).toBe(first.thingId);
    expect(first.thingArn).toBe('arn:aws:iot:us-east-1:123456789012:thing/idem-1');
    expect(await errorOf(iot.send(new CreateThingCommand({ thingName: 'idem-1', attributePayload: { attributes: { a: '2' } } })))).toEqual({
      name: 'ResourceAlreadyExistsException',
      status: 409,
    });
    expect((await iot.send(new DescribeThingCommand({ thingName: 'idem-1' }))).attributes).toEqual({ a: '1' });
  });

  it('enforces thing names, attribute counts and existing thing types', async () => {
    expect(await errorOf(iot.send(new CreateThingCommand({ thingName: 'bad name' })))).toMatchObject({ status: 400 });
    expect(
      await errorOf(iot.send(new CreateThingCommand({ thingName: 'many', attributePayload: { attributes: { a: '1', b: '2', c: '3', d: '4' } } }))),
    ).toEqual({ name: 'InvalidRequestException', status: 400 });
    expect(await errorOf(iot.send(new CreateThingCommand({ thingName: 'typed', thingTypeName: 'missing' })))).toEqual({
      name: 'ResourceNotFoundException',
      status: 404,
    });
  });

  it('attaches a certificate exclusively to one thing', async () => {
    const device = await issueCertificate(ca, { subject: { serialNumber: 'EXCL-1' } });
    const { certificateArn } = await iot.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem }));
    await iot.send(new CreateThingCommand({ thingName: 'excl-a' }));
    await iot.send(new CreateThingCommand({ thingName: 'excl-b' }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'excl-a', principal: certificateArn, thingPrincipalType: 'EXCLUSIVE_THING' }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'excl-a', principal: certificateArn, thingPrincipalType: 'EXCLUSIVE_THING' }));
    expect(await errorOf(iot.send(new AttachThingPrincipalCommand({ thingName: 'excl-b', principal: certificateArn })))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
    });
    expect((await iot.send(new ListPrincipalThingsCommand({ principal: certificateArn }))).things).toEqual(['excl-a']);
    expect((await iot.send(new ListThingPrincipalsCommand({ thingName: 'excl-a' }))).principals).toEqual([certificateArn]);
  });

  it('creates, reads, attaches (idempotently, at most 10) and detaches policies', async () => {
    const device = await issueCertificate(ca, { subject: { serialNumber: 'POL-1' } });
    const { certificateArn } = await iot.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem }));
    const document = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] });
    for (let i = 0; i < 11; i++) await iot.send(new CreatePolicyCommand({ policyName: `p-${i}`, policyDocument: document }));
    expect((await iot.send(new GetPolicyCommand({ policyName: 'p-0' }))).policyDocument).toBe(document);
    for (let i = 0; i < 10; i++) await iot.send(new AttachPolicyCommand({ policyName: `p-${i}`, target: certificateArn }));
    await iot.send(new AttachPolicyCommand({ policyName: 'p-0', target: certificateArn }));
    expect(await errorOf(iot.send(new AttachPolicyCommand({ policyName: 'p-10', target: certificateArn })))).toEqual({
      name: 'LimitExceededException',
      status: 410,
    });
    await iot.send(new DetachPolicyCommand({ policyName: 'p-0', target: certificateArn }));
    const { policies } = await iot.send(new ListAttachedPoliciesCommand({ target: certificateArn }));
    expect(policies?.map((p) => p.policyName)).toHaveLength(9);
    expect(await errorOf(iot.send(new CreatePolicyCommand({ policyName: 'bad', policyDocument: '{"Statement": "x"' })))).toEqual({
      name: 'MalformedPolicyException',
      status: 400,
    });
    expect(await errorOf(iot.send(new AttachPolicyCommand({ policyName: 'missing', target: certificateArn })))).toEqual({
      name: 'ResourceNotFoundException',
      status: 404,
    });
  });
});

describe('endpoints, wire format and throttling', () => {
  it('returns a stable endpoint per type, and the legacy endpoint without a type', async () => {
    const ats = (await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress;
    expect(ats).toMatch(/^a[0-9a-f]{13}-ats\.iot\.us-east-1\.amazonaws\.com$/);
    expect((await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress).toBe(ats);
    expect((await iot.send(new DescribeEndpointCommand({}))).endpointAddress).toBe(ats!.replace('-ats', ''));
    expect((await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:CredentialProvider' }))).endpointAddress).toContain('.credentials.iot.');
    expect(await errorOf(iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Bogus' })))).toEqual({ name: 'InvalidRequestException', status: 400 });
  });

  it('sends errors as AWS does: status, x-amzn-ErrorType and a {message, __type} body', async () => {
    const response = await fetch(`${core.endpoints.iot}/certificates/${'b'.repeat(64)}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await response.json()).toEqual({ message: expect.any(String), __type: 'ResourceNotFoundException' });
  });

  it('names an operation it does not serve as unsupported, whatever its body (an iot-data Publish, say)', async () => {
    const response = await fetch(`${core.endpoints.iot}/topics/device%2FX%2Fcmd?qos=1`, { method: 'POST', body: 'hello' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toMatch(/^Unsupported operation: POST \/topics\/.*control plane only/);
  });

  it('throttles an operation beyond its AWS default TPS with ThrottlingException', async () => {
    const throttled = await LocalIotCore.start();
    try {
      const client = new IoTClient({
        endpoint: throttled.endpoints.iot,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
        maxAttempts: 1,
      });
      // DescribeCertificate: 10 TPS.
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, () => client.send(new DescribeCertificateCommand({ certificateId: 'c'.repeat(64) }))),
      );
      const names = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : 'ok'));
      expect(names.filter((n) => n === 'ThrottlingException').length).toBeGreaterThanOrEqual(10);
      expect(names.filter((n) => n === 'ResourceNotFoundException').length).toBeGreaterThanOrEqual(1);
      client.destroy();
    } finally {
      await throttled.close();
    }
  });

  it('offers its own API under /_local/: first connects, traffic settings (validated) and the failure queue', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${core.endpoints.iot}/_local${path}`, { method: 'POST', body: JSON.stringify(body) });
    const device = await issueCertificate(ca, { subject: { serialNumber: 'LOCAL-API-1' } });
    const serverName = (await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress;
    const connect = await post('/connect', { certificatePem: device.certificatePem, serverName });
    expect(await connect.json()).toMatchObject({ accepted: false, stage: 'connect', reason: 'certificate-pending-activation' });

    const bad = await post('/traffic', { faults: { errorRate: 7 } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ message: 'faults.errorRate must be a number from 0 to 1' });
    expect((await post('/traffic', { throttling: false, faults: { throttleRate: 0 } })).status).toBe(200);
    expect(await (await fetch(`${core.endpoints.iot}/_local/failures`)).json()).toEqual({ messages: [] });
  });
});
