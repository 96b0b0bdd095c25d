import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateThingCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  ThrottlingException,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import {
  activateRegisteredCertificate,
  BindingConflictError,
  type ActivationDeps,
  type ActivationSettings,
} from '../../shared/provisioning/activate-certificate';
import type { Log } from '../../shared/log';
import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { loadEvent } from '../support/fixtures';
import { recordingMetrics } from '../support/recording-metrics';
import { arnOf, loadHandler, mutatingIotCalls } from '../support/handlers';
import type { CertificateRegisteredEvent } from '../../shared/schemas/certificate-registered-event';

/**
 * The JITR handler and its workflow against a mocked AWS SDK: every branch, and which AWS calls each makes.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
// The test stage's names (serverless.yml), which the handler is loaded with.
const TABLE = 'iot-provisioner-test-devices';
const LEDGER = 'iot-provisioner-test-provisioning-ledger';
const POLICY = 'iot-provisioner-test-device';

let ca: KeyedCertificate;
let device: KeyedCertificate;
let weakDevice: KeyedCertificate;
let lambdaHandler: (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<unknown>;

function eventFor(certificate: KeyedCertificate, caId = ca.certificateId): CertificateRegisteredEvent {
  return {
    ...loadEvent<CertificateRegisteredEvent>('certificate-registered'),
    certificateId: certificate.certificateId,
    caCertificateId: caId,
  };
}

function givenCertificate(certificate: KeyedCertificate, status: string, caId = ca.certificateId, pem = certificate.certificatePem) {
  iotMock.on(DescribeCertificateCommand, { certificateId: certificate.certificateId }).resolves({
    certificateDescription: {
      certificateId: certificate.certificateId,
      certificateArn: arnOf(certificate.certificateId),
      caCertificateId: caId,
      status: status as never,
      certificatePem: pem,
    },
  });
}

function givenRegistry(item: Record<string, unknown> | undefined) {
  ddbMock.on(GetCommand).resolves({ Item: item });
}

/** No call that changes AWS IoT state was made. */
function expectNoMutation() {
  expect(mutatingIotCalls(iotMock.calls())).toEqual([]);
}

const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

function deps(settings: Partial<ActivationSettings> = {}): ActivationDeps {
  const iot = new AwsIotDirectory(new IoTClient({ region: 'us-east-1' }));
  return {
    iot,
    registry: new DynamoDeviceRegistry(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), TABLE),
    caLookup: (id) => iot.describeCaCertificate(id),
    settings: {
      admission: { mode: 'allowlist', deviceIdSource: 'serialNumberOrCommonName', boundDevice: 'refuse' },
      devicePolicyName: POLICY,
      rejectAction: 'REVOKED',
      staleClaimMs: 120_000,
      ...settings,
    },
    now: () => new Date(),
    log: silentLog,
  };
}

beforeAll(async () => {
  ca = await createCa({ commonName: 'Unit CA' });
  device = await issueCertificate(ca, { subject: { commonName: 'ValidDevice', serialNumber: 'DEVICE123456' } });
  weakDevice = await issueCertificate(ca, { subject: { serialNumber: 'WEAK-1' }, keySpec: 'rsa-1024' });
  // Configuration is read at cold start: the handler is loaded under the test stage's environment.
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/activate-certificate/handler')>('activateCertificate'));
});

beforeEach(() => {
  iotMock.reset();
  ddbMock.reset();
  iotMock.on(DescribeCACertificateCommand).resolves({ certificateDescription: { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' } });
  iotMock.on(DescribeCertificateCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
  ddbMock.on(UpdateCommand).resolves({});
  givenRegistry(undefined);
});

describe('activateCertificate handler', () => {
  it('activates an allow-listed device: thing, policy, exclusive attachment, then ACTIVE last', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });

    const result = await lambdaHandler(eventFor(device));

    expect(result).toEqual({ outcome: 'activated', certificateId: device.certificateId, deviceId: 'DEVICE123456', thingName: 'DEVICE123456' });
    expect(iotMock).toHaveReceivedCommandWith(CreateThingCommand, {
      thingName: 'DEVICE123456',
      attributePayload: { attributes: { provisionedBy: 'jitr' } },
    });
    expect(iotMock).toHaveReceivedCommandWith(AttachPolicyCommand, { policyName: POLICY, target: arnOf(device.certificateId) });
    expect(iotMock).toHaveReceivedCommandWith(AttachThingPrincipalCommand, {
      thingName: 'DEVICE123456',
      principal: arnOf(device.certificateId),
      thingPrincipalType: 'EXCLUSIVE_THING',
    });
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: device.certificateId, newStatus: 'ACTIVE' });
    const calls = iotMock.calls().map((call) => call.args[0].constructor.name);
    expect(calls.indexOf('UpdateCertificateCommand')).toBe(calls.length - 1);
    expect(calls.filter((name) => name !== 'DescribeCACertificateCommand')).toEqual([
      'DescribeCertificateCommand',
      'CreateThingCommand',
      'AttachPolicyCommand',
      'AttachThingPrincipalCommand',
      'UpdateCertificateCommand',
    ]);
    // Claimed before provisioning, bound after activation.
    const updates = ddbMock.commandCalls(UpdateCommand).map((call) => call.args[0].input.ExpressionAttributeValues);
    expect(updates[0]).toMatchObject({ ':certificateId': device.certificateId, ':claimed': 'claimed' });
    expect(updates[1]).toMatchObject({ ':certificateId': device.certificateId, ':bound': 'bound', ':thingName': 'DEVICE123456' });
  });

  it('puts the thing in the registry entry’s group, with its type and attributes', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed', thingGroup: 'fleet-a', thingType: 'sensor', attributes: { site: 'osaka' } });

    await lambdaHandler(eventFor(device));

    expect(iotMock).toHaveReceivedCommandWith(CreateThingCommand, {
      thingName: 'DEVICE123456',
      thingTypeName: 'sensor',
      attributePayload: { attributes: { site: 'osaka', provisionedBy: 'jitr' } },
    });
    expect(iotMock).toHaveReceivedCommandWith(AddThingToThingGroupCommand, { thingName: 'DEVICE123456', thingGroupName: 'fleet-a' });
  });

  it('revokes a device that is not allow-listed, records the rejection first, and creates no thing', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');

    const result = await lambdaHandler(eventFor(device));

    expect(result).toMatchObject({ outcome: 'rejected', reason: 'device-not-allowlisted', newStatus: 'REVOKED', deviceId: 'DEVICE123456' });
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: device.certificateId, newStatus: 'REVOKED' });
    expect(iotMock).not.toHaveReceivedCommand(CreateThingCommand);
    expect(iotMock).not.toHaveReceivedCommand(AttachPolicyCommand);
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { deviceId: 'DEVICE123456' },
      ExpressionAttributeValues: expect.objectContaining({
        ':rejection': expect.objectContaining({ reason: 'device-not-allowlisted', certificateId: device.certificateId }),
      }),
    });
  });

  it('revokes a certificate with an RSA-1024 key', async () => {
    givenCertificate(weakDevice, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'WEAK-1', status: 'allowed' });
    expect(await lambdaHandler(eventFor(weakDevice))).toMatchObject({ outcome: 'rejected', reason: 'key-too-weak' });
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { newStatus: 'REVOKED' });
  });

  it('revokes a certificate whose CA has auto-registration off', async () => {
    const otherCa = await createCa({ commonName: 'Other CA' });
    const other = await issueCertificate(otherCa, { subject: { serialNumber: 'OTHER-1' } });
    givenCertificate(other, 'PENDING_ACTIVATION', otherCa.certificateId);
    iotMock
      .on(DescribeCACertificateCommand, { certificateId: otherCa.certificateId })
      .resolves({ certificateDescription: { status: 'ACTIVE', autoRegistrationStatus: 'DISABLE' } });
    expect(await lambdaHandler(eventFor(other, otherCa.certificateId))).toMatchObject({ outcome: 'rejected', reason: 'ca-not-allowed' });
  });

  it('revokes a certificate whose PEM cannot be read', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION', ca.certificateId, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----');
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'rejected', reason: 'certificate-unreadable' });
    expect(ddbMock).not.toHaveReceivedCommand(UpdateCommand); // no device id to record it under
  });

  it.each([['REVOKED'], ['INACTIVE'], ['PENDING_TRANSFER']])('does nothing for a %s certificate', async (status) => {
    givenCertificate(device, status);
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'ignored', reason: 'certificate-not-pending', status });
    expectNoMutation();
  });

  it('does nothing when the certificate no longer exists', async () => {
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'ignored', reason: 'certificate-not-found' });
    expectNoMutation();
  });

  it('drops an event whose CA is not the certificate’s CA, without revoking anything', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION', 'f'.repeat(64));
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'ignored', reason: 'ca-mismatch' });
    expectNoMutation();
  });

  it.each([
    ['an empty object', {}],
    ['a string', 'hello'],
    ['an event without certificateId', (() => { const e = loadEvent('certificate-registered'); delete e.certificateId; return e; })()],
    ['an event with a string timestamp', { ...loadEvent('certificate-registered'), timestamp: '1695074220131' }],
  ])('drops %s without calling AWS and without throwing (no retry)', async (_, event) => {
    await expect(lambdaHandler(event)).resolves.toEqual({ outcome: 'dropped', reason: 'invalid-event' });
    expect(iotMock.calls()).toHaveLength(0);
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('treats an existing thing with another configuration as done', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });
    iotMock.on(CreateThingCommand).rejects(new ResourceAlreadyExistsException({ message: 'exists', $metadata: {}, resourceId: 'x', resourceArn: 'y' }));
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'activated' });
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { newStatus: 'ACTIVE' });
  });

  it('throws when AWS keeps throttling, so Lambda retries the event, and never activates half-provisioned', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });
    iotMock.on(AttachPolicyCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(lambdaHandler(eventFor(device))).rejects.toThrow('Rate exceeded');
    expect(iotMock).not.toHaveReceivedCommand(UpdateCertificateCommand);
  });

  it('takes a lease on the registration, for longer than the invocation can still run', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });
    const before = Date.now();
    await lambdaHandler(eventFor(device), { getRemainingTimeInMillis: () => 20_000 });
    const put = ddbMock.commandCalls(PutCommand, { TableName: LEDGER })[0]!.args[0].input;
    expect(put.Item!.pk).toBe(`activation#${device.certificateId}#${eventFor(device).certificateRegistrationTimestamp}`);
    expect(put.Item!.leaseUntil).toBeGreaterThanOrEqual(before + 20_000);
    expect(put.ConditionExpression).toBe('attribute_not_exists(pk) OR leaseUntil < :now');
    expect(ddbMock).not.toHaveReceivedCommand(DeleteCommand);
  });

  it('drops a duplicate delivered while another invocation holds the lease, before any IoT call', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });
    ddbMock.on(PutCommand, { TableName: LEDGER }).rejects(new ConditionalCheckFailedException({ message: 'held', $metadata: {} }));
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'ignored', reason: 'duplicate-delivery' });
    expect(iotMock.calls()).toHaveLength(0);
  });

  it('releases the lease when the work fails, so that the retry can take it', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });
    iotMock.on(AttachPolicyCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(lambdaHandler(eventFor(device))).rejects.toThrow('Rate exceeded');
    expect(ddbMock).toHaveReceivedCommandWith(DeleteCommand, {
      TableName: LEDGER,
      Key: { pk: `activation#${device.certificateId}#${eventFor(device).certificateRegistrationTimestamp}` },
    });
  });

  it('refuses a device bound to another ACTIVE certificate', async () => {
    const old = await issueCertificate(ca, { subject: { serialNumber: 'DEVICE123456' } });
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenCertificate(old, 'ACTIVE');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed', certificateId: old.certificateId, bindingState: 'bound', thingName: 'DEVICE123456' });
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'rejected', reason: 'device-already-bound' });
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: device.certificateId, newStatus: 'REVOKED' });
    expect(iotMock).not.toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: old.certificateId });
  });

  it('makes one IoT call for a repeated event of a device already active and bound', async () => {
    givenCertificate(device, 'ACTIVE');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed', certificateId: device.certificateId, bindingState: 'bound', thingName: 'DEVICE123456' });
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'already-active', thingName: 'DEVICE123456' });
    expect(iotMock.calls().filter((c) => c.args[0] instanceof DescribeCertificateCommand)).toHaveLength(1);
    expectNoMutation();
  });

  it('completes an ACTIVE certificate whose binding was not recorded: attaches what is missing', async () => {
    givenCertificate(device, 'ACTIVE');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed', certificateId: device.certificateId, bindingState: 'claimed' });
    iotMock.on(ListPrincipalThingsCommand).resolves({ things: ['DEVICE123456'] });
    iotMock.on(ListAttachedPoliciesCommand).resolves({ policies: [] });

    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'already-active' });
    expect(iotMock).toHaveReceivedCommandWith(AttachPolicyCommand, { policyName: POLICY });
    expect(iotMock).not.toHaveReceivedCommand(AttachThingPrincipalCommand);
    expect(iotMock).not.toHaveReceivedCommand(UpdateCertificateCommand);
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, { ExpressionAttributeValues: expect.objectContaining({ ':bound': 'bound' }) });
  });

  it('never revokes an ACTIVE certificate that would not be admitted', async () => {
    givenCertificate(device, 'ACTIVE');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'blocked' });
    expect(await lambdaHandler(eventFor(device))).toMatchObject({ outcome: 'ignored', reason: 'active-certificate-not-admissible' });
    expectNoMutation();
  });
});

describe('activateRegisteredCertificate settings', () => {
  it('quarantines (INACTIVE) instead of revoking when configured', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    const result = await activateRegisteredCertificate(eventFor(device), deps({ rejectAction: 'INACTIVE' }));
    expect(result).toMatchObject({ outcome: 'rejected', newStatus: 'INACTIVE' });
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { newStatus: 'INACTIVE' });
  });

  it('admits a device the registry does not know in ca mode', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    const d = deps({ admission: { mode: 'ca', deviceIdSource: 'serialNumberOrCommonName', boundDevice: 'refuse' } });
    expect(await activateRegisteredCertificate(eventFor(device), d)).toMatchObject({ outcome: 'activated' });
  });

  it('uses the configured thing group and type when the registry has none', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });
    await activateRegisteredCertificate(eventFor(device), deps({ thingGroup: 'default-fleet', thingType: 'default-type' }));
    expect(iotMock).toHaveReceivedCommandWith(CreateThingCommand, { thingTypeName: 'default-type' });
    expect(iotMock).toHaveReceivedCommandWith(AddThingToThingGroupCommand, { thingGroupName: 'default-fleet' });
  });

  it('replaces the old ACTIVE certificate when configured: new one ACTIVE first, then the old one detached and INACTIVE', async () => {
    const old = await issueCertificate(ca, { subject: { serialNumber: 'DEVICE123456' } });
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenCertificate(old, 'ACTIVE');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed', certificateId: old.certificateId, bindingState: 'bound' });
    iotMock.on(ListPrincipalThingsCommand).resolves({ things: ['DEVICE123456'] });
    const d = deps({ admission: { mode: 'allowlist', deviceIdSource: 'serialNumberOrCommonName', boundDevice: 'replace' } });

    const result = await activateRegisteredCertificate(eventFor(device), d);

    expect(result).toMatchObject({ outcome: 'activated', retiredCertificateId: old.certificateId });
    const updates = iotMock.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input);
    expect(updates).toEqual([
      { certificateId: device.certificateId, newStatus: 'ACTIVE' },
      { certificateId: old.certificateId, newStatus: 'INACTIVE' },
    ]);
    expect(iotMock).toHaveReceivedCommandWith(DetachThingPrincipalCommand, { thingName: 'DEVICE123456', principal: arnOf(old.certificateId) });
    // The claim replaced exactly the old certificate.
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression: 'certificateId = :previous',
      ExpressionAttributeValues: expect.objectContaining({ ':previous': old.certificateId }),
    });
  });

  it('throws BindingConflictError when another certificate claims the device meanwhile (the retry decides again)', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    ddbMock.on(GetCommand).resolvesOnce({ Item: { deviceId: 'DEVICE123456', status: 'allowed' } }).resolves({
      Item: { deviceId: 'DEVICE123456', status: 'allowed', certificateId: 'e'.repeat(64), bindingState: 'claimed' },
    });
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    await expect(activateRegisteredCertificate(eventFor(device), deps())).rejects.toThrow(BindingConflictError);
    expect(iotMock).not.toHaveReceivedCommand(CreateThingCommand);
  });

  it('carries on when the conflicting claim is another delivery of the same event', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    ddbMock.on(GetCommand).resolvesOnce({ Item: { deviceId: 'DEVICE123456', status: 'allowed' } }).resolves({
      Item: { deviceId: 'DEVICE123456', status: 'allowed', certificateId: device.certificateId, bindingState: 'claimed' },
    });
    ddbMock.on(UpdateCommand).rejectsOnce(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} })).resolves({});
    expect(await activateRegisteredCertificate(eventFor(device), deps())).toMatchObject({ outcome: 'activated' });
  });
});

describe('JITR’s metrics (shared/metrics-port.ts)', () => {
  it('emits a rejection with its reason as dimension, and no device or certificate id in any dimension', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    const metrics = recordingMetrics();

    await activateRegisteredCertificate(eventFor(device), { ...deps(), metrics });

    expect(metrics.recorded).toEqual([{ name: 'Decisions', unit: 'Count', value: 1, dimensions: { flow: 'jitr', outcome: 'rejected', reason: 'device-not-allowlisted' }, metadata: {} }]);
    const everything = JSON.stringify(metrics.recorded);
    expect(everything).not.toContain('DEVICE123456');
    expect(everything).not.toContain(device.certificateId);
  });

  it('emits an activation and an admitted decision for an allow-listed device', async () => {
    givenCertificate(device, 'PENDING_ACTIVATION');
    givenRegistry({ deviceId: 'DEVICE123456', status: 'allowed' });
    iotMock.on(ListPrincipalThingsCommand).resolves({ things: [] });
    iotMock.on(ListAttachedPoliciesCommand).resolves({ policies: [] });
    ddbMock.on(UpdateCommand).resolves({});
    const metrics = recordingMetrics();

    const result = await activateRegisteredCertificate(eventFor(device), { ...deps(), metrics });

    expect(result.outcome).toBe('activated');
    expect(metrics.recorded.map((m) => [m.name, m.dimensions])).toEqual([
      ['Decisions', { flow: 'jitr', outcome: 'activated', reason: 'admitted' }],
      ['Activations', { flow: 'jitr' }],
    ]);
  });
});
