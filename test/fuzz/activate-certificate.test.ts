import {
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { loadEvent } from '../support/fixtures';
import { arnOf, loadHandler, mutatingIotCalls } from '../support/handlers';
import { fcParameters, hex64, inputs, nearValid, notHex64, RUNS, TIMEOUT_MS, wrongType, invokeUnthrown, type FieldRule } from './fuzz-support';

/**
 * Fuzz: the JITR handler (`functions/activate-certificate`) with generated events and the AWS SDK mocked.
 * Its contract: an event that is not a certificate-registered event is dropped — returned, not thrown, with
 * no AWS call at all; a well-formed one is acted on only as the certificate's own description allows.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

type World = 'gone' | 'other-ca' | 'revoked' | 'inactive' | 'pending-allowed' | 'pending-unknown';
let world: World = 'gone';
let ca: KeyedCertificate;
let device: KeyedCertificate;
let lambdaHandler: (event: unknown) => Promise<{ outcome: string; reason?: string }>;

const rules: FieldRule[] = [
  { path: ['certificateId'], required: true, valid: fc.oneof(hex64, hex64.map((id) => id.toUpperCase()), hex64.map((id) => `0x${id}`)), invalid: fc.oneof(notHex64, wrongType) },
  { path: ['caCertificateId'], required: true, valid: hex64, invalid: fc.oneof(notHex64, wrongType) },
  {
    path: ['timestamp'],
    required: true,
    valid: fc.nat(),
    invalid: fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0.1, max: 1e12, noInteger: true }), fc.constantFrom('1695074220131', null, true, [], {})),
  },
  { path: ['certificateStatus'], required: true, invalid: fc.oneof(fc.constantFrom('ACTIVE', 'REVOKED', 'pending_activation', 'PENDING_ACTIVATION ', ''), wrongType) },
  {
    path: ['awsAccountId'],
    required: true,
    valid: fc.stringMatching(/^\d{12}$/),
    invalid: fc.oneof(fc.stringMatching(/^\d{11}$/), fc.stringMatching(/^\d{13}$/), fc.constantFrom('12345678901a', 123456789012, ' 123456789012'), wrongType),
  },
  {
    path: ['certificateRegistrationTimestamp'],
    required: false,
    valid: fc.oneof(fc.constant(null), fc.string({ maxLength: 20 })),
    invalid: fc.oneof(fc.integer(), fc.constantFrom(true, [], {})),
  },
];

beforeAll(async () => {
  ca = await createCa({ commonName: 'Fuzz CA' });
  device = await issueCertificate(ca, { subject: { serialNumber: 'FUZZ-0001' } });
  // The test stage's environment from serverless.yml (allowlist mode, every CA with auto-registration).
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/activate-certificate/handler')>('activateCertificate'));

  iotMock.on(DescribeCACertificateCommand).resolves({ certificateDescription: { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' } });
  iotMock.on(DescribeCertificateCommand).callsFake((input: { certificateId: string }) => {
    if (world === 'gone') throw new ResourceNotFoundException({ message: 'not found', $metadata: {} });
    const status = { 'other-ca': 'PENDING_ACTIVATION', revoked: 'REVOKED', inactive: 'INACTIVE', 'pending-allowed': 'PENDING_ACTIVATION', 'pending-unknown': 'PENDING_ACTIVATION' }[world];
    return {
      certificateDescription: {
        certificateId: input.certificateId,
        certificateArn: arnOf(input.certificateId),
        caCertificateId: world === 'other-ca' ? 'f'.repeat(64) : currentCaId,
        status,
        certificatePem: device.certificatePem,
      },
    };
  });
  iotMock.on(ListPrincipalThingsCommand).resolves({ things: [] });
  iotMock.on(ListAttachedPoliciesCommand).resolves({ policies: [] });
  ddbMock.onAnyCommand().resolves({});
  ddbMock.on(GetCommand).callsFake((input: { Key: Record<string, string> }) => ({
    Item: 'deviceId' in input.Key && world === 'pending-allowed' ? { deviceId: 'FUZZ-0001', status: 'allowed' } : undefined,
  }));
});

let currentCaId = '';

describe('activateCertificate under fuzzing', () => {
  it(`drops every malformed event without an AWS call, and acts on well-formed ones only as the certificate allows (${RUNS} events)`, async () => {
    const base = fc.constantFrom(loadEvent('certificate-registered'), loadEvent('certificate-registered-captured'));
    const events = base.chain((event) => inputs(nearValid(event, rules)));
    const worlds = fc.constantFrom<World>('gone', 'other-ca', 'revoked', 'inactive', 'pending-allowed', 'pending-unknown');
    let valid = 0;

    await fc.assert(
      fc.asyncProperty(events, worlds, async (input, w) => {
        world = w;
        iotMock.resetHistory();
        ddbMock.resetHistory();
        const event = input.value as { caCertificateId?: unknown };
        currentCaId = typeof event?.caCertificateId === 'string' ? event.caCertificateId.toLowerCase() : '';

        const result = await invokeUnthrown(lambdaHandler, input);

        if (!input.valid) {
          expect({ mutations: input.mutations, result }).toEqual({ mutations: input.mutations, result: { outcome: 'dropped', reason: 'invalid-event' } });
          expect(iotMock.calls()).toHaveLength(0);
          expect(ddbMock.calls()).toHaveLength(0);
          return;
        }
        valid++;
        const mutating = mutatingIotCalls(iotMock.calls());
        if (w === 'pending-allowed' || w === 'pending-unknown') {
          expect(['activated', 'rejected', 'ignored']).toContain(result.outcome);
          // Activation or revocation, never anything without the certificate being the event's.
          if (result.outcome === 'ignored') expect(mutating).toEqual([]);
          if (w === 'pending-unknown' && result.outcome !== 'ignored') expect(result).toMatchObject({ outcome: 'rejected', reason: 'device-not-allowlisted' });
        } else {
          // Gone, another CA, or no longer pending: nothing to do, nothing changed.
          expect({ mutations: input.mutations, result: result.outcome, mutating }).toEqual({ mutations: input.mutations, result: 'ignored', mutating: [] });
        }
      }),
      fcParameters(),
    );
    // The generator is useful only if both sides of the contract are exercised.
    expect(valid).toBeGreaterThan(RUNS / 10);
    expect(valid).toBeLessThan(RUNS * 0.9);
  }, TIMEOUT_MS);
});
