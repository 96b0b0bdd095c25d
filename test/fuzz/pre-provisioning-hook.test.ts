import { DescribeCertificateCommand, IoTClient, ResourceNotFoundException } from '@aws-sdk/client-iot';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { DEVICE_ID_PATTERN } from '../../shared/registry/device-entry';
import { loadEvent } from '../support/fixtures';
import { arnOf, loadHandler, mutatingIotCalls } from '../support/handlers';
import { deviceId, fcParameters, hex64, inputs, nearValid, notDeviceId, notHex64, RUNS, show, TIMEOUT_MS, wrongType, type FieldRule } from './fuzz-support';

/**
 * Fuzz: the pre-provisioning hook (`functions/pre-provisioning-hook`) with generated RegisterThing events,
 * registry states and failing tables, the AWS SDK mocked. Its contract: it never throws, always answers a
 * decision `{allowProvisioning: boolean}`, and allows exactly what the rules allow — everything else,
 * including any failure, is a denial. A malformed event is denied without touching the tables.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

// The sample event's template (events/pre-provisioning-hook.json).
/** The test stage's template, fleet group and thing type (serverless.yml). */
const TEMPLATE = 'iot-provisioner-test';
const TEMPLATE_ARN = `arn:aws:iot:us-east-1:123456789012:provisioningtemplate/${TEMPLATE}`;
const DAY = 24 * 60 * 60 * 1000;

/** The registry's state for the serial, failures, or a RegisterThing for a certificate already ACTIVE (a replayed token). */
type Registry = 'allowed' | 'unknown' | 'blocked' | 'bound-to-active' | 'bound-to-revoked' | 'registry-down' | 'ledger-write-fails' | 'replayed-certificate';
let registry: Registry = 'allowed';
let good: KeyedCertificate;
let lambdaHandler: (event: unknown) => Promise<unknown>;
const refusedPems: string[] = [];

beforeAll(async () => {
  const ca = await createCa({ commonName: 'Fuzz fleet CA' });
  good = await issueCertificate(ca, { subject: { commonName: 'AWS IoT Certificate' } });
  refusedPems.push(
    (await issueCertificate(ca, { subject: { commonName: 'weak' }, keySpec: 'rsa-1024' })).certificatePem,
    (await issueCertificate(ca, { subject: { commonName: 'old' }, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) })).certificatePem,
    (await issueCertificate(ca, { subject: { commonName: 'future' }, notBefore: new Date(Date.now() + 10 * DAY), notAfter: new Date(Date.now() + 400 * DAY) })).certificatePem,
    good.certificatePem.split('\n').filter((_, i) => i !== 3).join('\n'),
    good.certificatePem.slice(0, 120),
    '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
  );
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/pre-provisioning-hook/handler')>('preProvisioningHook'));

  ddbMock.on(GetCommand).callsFake((input: { Key: Record<string, string> }) => {
    if (registry === 'registry-down') throw Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' });
    if ('pk' in input.Key) return { Item: undefined }; // a factory claim: not vended by this stack
    const id = input.Key.deviceId!;
    const items: Record<Registry, Record<string, unknown> | undefined> = {
      allowed: { deviceId: id, status: 'allowed' },
      unknown: undefined,
      blocked: { deviceId: id, status: 'blocked' },
      'bound-to-active': { deviceId: id, status: 'allowed', certificateId: 'a'.repeat(64), bindingState: 'bound' },
      'bound-to-revoked': { deviceId: id, status: 'allowed', certificateId: 'b'.repeat(64), bindingState: 'bound' },
      'registry-down': undefined,
      'ledger-write-fails': { deviceId: id, status: 'allowed' },
      'replayed-certificate': { deviceId: id, status: 'allowed' },
    };
    return { Item: items[registry] };
  });
  ddbMock.on(UpdateCommand).resolves({});
  ddbMock.on(PutCommand).callsFake(() => {
    if (registry === 'ledger-write-fails') throw Object.assign(new Error('write failed'), { name: 'InternalServerError' });
    return {};
  });
  iotMock.on(DescribeCertificateCommand).callsFake((input: { certificateId: string }) => {
    const status =
      input.certificateId === 'a'.repeat(64) ? 'ACTIVE' : input.certificateId === 'b'.repeat(64) ? 'REVOKED' : registry === 'replayed-certificate' ? 'ACTIVE' : undefined;
    if (!status) throw new ResourceNotFoundException({ message: 'not found', $metadata: {} });
    return { certificateDescription: { certificateId: input.certificateId, certificateArn: arnOf(input.certificateId), status, certificatePem: good.certificatePem } };
  });
});

const templateArnOf = (name: string) => `arn:aws:iot:us-east-1:123456789012:provisioningtemplate/${name}`;

function rules(): FieldRule[] {
  return [
    { path: ['claimCertificateId'], required: true, valid: fc.oneof(hex64, hex64.map((id) => id.toUpperCase())), invalid: fc.oneof(notHex64, wrongType) },
    { path: ['certificateId'], required: true, valid: hex64, invalid: fc.oneof(notHex64, wrongType) },
    {
      path: ['certificatePem'],
      required: true,
      valid: fc.oneof(fc.constantFrom(...refusedPems), fc.string({ minLength: 1, maxLength: 200 })),
      invalid: fc.oneof(fc.constant(''), wrongType),
    },
    {
      path: ['templateArn'],
      required: true,
      valid: fc.oneof(fc.constant(TEMPLATE_ARN), fc.stringMatching(/^[0-9A-Za-z_-]{1,36}$/).map(templateArnOf), fc.constant(TEMPLATE_ARN.replace('us-east-1', 'eu-west-1'))),
      invalid: fc.oneof(
        fc.constantFrom(TEMPLATE, `${TEMPLATE_ARN}/x`, TEMPLATE_ARN.replace('123456789012', '1234'), templateArnOf('a'.repeat(37)), templateArnOf('bad name'), ''),
        wrongType,
      ),
    },
    { path: ['clientId'], required: true, valid: fc.string({ maxLength: 40 }), invalid: wrongType },
    {
      path: ['parameters'],
      required: false,
      valid: fc.oneof(
        deviceId.map((SerialNumber) => ({ SerialNumber })),
        fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        deviceId.map((SerialNumber) => ({ SerialNumber, ThingGroupName: 'admins' })),
      ),
      invalid: fc.oneof(fc.constantFrom('SerialNumber=FLEET-0001', [], [['SerialNumber', 'X']], { SerialNumber: 1 }, { SerialNumber: null }), fc.string()),
    },
    { path: ['parameters', 'SerialNumber'], required: false, valid: fc.oneof(deviceId, notDeviceId), invalid: wrongType },
  ];
}

describe('preProvisioningHook under fuzzing', () => {
  it(`always answers a decision, allows exactly what the rules allow, and never writes for a malformed event (${RUNS} events)`, async () => {
    // The sample event, naming a certificate this run made (the sample's own is only valid from 2026-11-21)
    // and the test stage's template (the sample names the dev stage's).
    const base = { ...loadEvent('pre-provisioning-hook'), certificatePem: good.certificatePem, templateArn: TEMPLATE_ARN };
    const events = inputs(nearValid(base, rules()));
    const registries = fc.constantFrom<Registry>('allowed', 'allowed', 'unknown', 'blocked', 'bound-to-active', 'bound-to-revoked', 'registry-down', 'ledger-write-fails', 'replayed-certificate');
    const outcomes = { allowed: 0, denied: 0, malformed: 0 };

    await fc.assert(
      fc.asyncProperty(events, registries, async (input, state) => {
        registry = state;
        iotMock.resetHistory();
        ddbMock.resetHistory();
        const event = input.value;

        let answer: unknown;
        try {
          answer = await lambdaHandler(input.value);
        } catch (error) {
          throw new Error(`the hook threw ${(error as Error).name} for ${show(input.value)} (${input.mutations.join('; ')})`);
        }

        // A decision, and nothing but a decision.
        expect(answer).toEqual(expect.objectContaining({ allowProvisioning: expect.any(Boolean) }));
        const { allowProvisioning, parameterOverrides, ...rest } = answer as { allowProvisioning: boolean; parameterOverrides?: Record<string, unknown> };
        expect(rest).toEqual({});
        expect(mutatingIotCalls(iotMock.calls())).toEqual([]);

        if (!input.valid) {
          outcomes.malformed++;
          const calls = ddbMock.calls().length;
          expect({ mutations: input.mutations, allowProvisioning, calls }).toEqual({ mutations: input.mutations, allowProvisioning: false, calls: 0 });
          return;
        }
        const e = event as { templateArn: string; certificatePem: string; parameters?: Record<string, string> };
        const parameterNames = Object.keys(e.parameters ?? {});
        const serial = e.parameters?.SerialNumber;
        const expected =
          // The template is recognised by name; which account and region may invoke the hook is the Lambda
          // permission's business (SourceArn, SourceAccount).
          e.templateArn.endsWith(`:provisioningtemplate/${TEMPLATE}`) &&
          parameterNames.length === 1 &&
          serial !== undefined &&
          DEVICE_ID_PATTERN.test(serial) &&
          e.certificatePem === good.certificatePem &&
          (state === 'allowed' || state === 'bound-to-revoked');
        expect({ mutations: input.mutations, registry: state, allowProvisioning }).toEqual({ mutations: input.mutations, registry: state, allowProvisioning: expected });
        if (allowProvisioning) {
          outcomes.allowed++;
          // The device chooses nothing but its serial: group and type come from the stack.
          expect(parameterOverrides).toEqual({ ThingGroupName: 'iot-provisioner-test-fleet', ThingTypeName: 'iot-provisioner-test-device' });
        } else {
          outcomes.denied++;
          expect(parameterOverrides).toBeUndefined();
        }
      }),
      fcParameters(),
    );
    expect(outcomes.allowed).toBeGreaterThan(RUNS / 50);
    expect(outcomes.denied).toBeGreaterThan(RUNS / 10);
    expect(outcomes.malformed).toBeGreaterThan(RUNS / 10);
  }, TIMEOUT_MS);
});
