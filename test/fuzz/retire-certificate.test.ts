import { DescribeCertificateCommand, DetachThingPrincipalCommand, InternalFailureException, IoTClient, ListPrincipalThingsCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { arnOf, loadHandler, mutatingIotCalls } from '../support/handlers';
import { deviceId, fcParameters, hex64, jsonJunk, nearValid, notDeviceId, notHex64, RUNS, show, TIMEOUT_MS, wrongType, type FieldRule, type Variant } from './fuzz-support';

/**
 * Fuzz: `retireCertificate` (`functions/retire-certificate`, the SQS consumer of the retirement queue)
 * with generated batches, the AWS SDK mocked. Its contract: it never throws; a batch that is not an SQS
 * event is dropped whole, a malformed message alone; only the certificates named by well-formed messages
 * are touched; a message whose retirement fails — and only such a message — is reported for SQS to retry.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
let lambdaHandler: (event: unknown) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>;

// Certificates whose id starts with "f" fail to describe (an AWS error after the SDK's retries).
const failing = (certificateId: string) => certificateId.startsWith('f');

const retirementRules: FieldRule[] = [
  { path: ['deviceId'], required: true, valid: deviceId, invalid: fc.oneof(notDeviceId, wrongType) },
  { path: ['certificateId'], required: true, valid: hex64, invalid: fc.oneof(notHex64, hex64.map((id) => id.toUpperCase()).filter((id) => /[A-F]/.test(id)), wrongType) },
  { path: ['thingName'], required: true, valid: fc.string({ minLength: 1, maxLength: 30 }), invalid: fc.oneof(fc.constant(''), wrongType) },
];

type Entry = { record: unknown; wellFormed: boolean; message: Variant & { body: string } };
let thingOf = new Map<string, string>();

/** One SQS record: a retirement message (well-formed or not) in a well-formed record, or a malformed record. */
const record: fc.Arbitrary<Entry> = fc.tuple(fc.uuid(), deviceId, hex64, fc.boolean()).chain(([messageId, device, certificate, fails]) => {
  const retirement = { deviceId: device, certificateId: fails ? `f${certificate.slice(1)}` : `a${certificate.slice(1)}`, thingName: device };
  const message: fc.Arbitrary<Variant & { body: string }> = fc.oneof(
    { weight: 4, arbitrary: nearValid(retirement, retirementRules).map((v) => ({ ...v, body: JSON.stringify(v.value) ?? 'undefined' })) },
    { weight: 1, arbitrary: jsonJunk.map((j) => ({ value: j, valid: false, mutations: ['junk body'], body: typeof j === 'string' ? j : JSON.stringify(j) })) },
  );
  return message.chain((m) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant({ record: { messageId, receiptHandle: 'r', body: m.body, attributes: {}, eventSource: 'aws:sqs' } as unknown, wellFormed: true, message: m }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<Record<string, unknown>>({ messageId: 1, body: m.body }, { body: m.body }, { messageId }, { messageId, body: { nested: true } }, null as never, 'record' as never).map((bad) => ({ record: bad as unknown, wellFormed: false, message: m })),
      },
    ),
  );
});

beforeAll(() => {
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/retire-certificate/handler')>('retireCertificate'));
  iotMock.onAnyCommand().resolves({});
  iotMock.on(DescribeCertificateCommand).callsFake((input: { certificateId: string }) => {
    if (failing(input.certificateId)) throw new InternalFailureException({ message: 'internal failure', $metadata: {} });
    return { certificateDescription: { certificateId: input.certificateId, certificateArn: arnOf(input.certificateId), status: 'ACTIVE', certificatePem: 'pem' } };
  });
  iotMock.on(ListPrincipalThingsCommand).callsFake((input: { principal: string }) => ({ things: [thingOf.get(input.principal) ?? 'another-thing'] }));
  // The device's current certificate is another one: every rotated-out certificate is retired.
  ddbMock.on(GetCommand).callsFake((input: { Key: { deviceId: string } }) => ({ Item: { deviceId: input.Key.deviceId, status: 'allowed', certificateId: 'c'.repeat(64) } }));
});

describe('retireCertificate under fuzzing', () => {
  it(`touches only certificates named by well-formed messages and reports exactly the failed ones (${RUNS} batches)`, async () => {
    const batches = fc.oneof(
      { weight: 6, arbitrary: fc.array(record, { minLength: 0, maxLength: 4 }).map((records) => ({ event: { Records: records.map((r) => r.record) } as unknown, records })) },
      { weight: 1, arbitrary: jsonJunk.map((event) => ({ event, records: [] as Entry[] })) },
    );
    let retired = 0;

    await fc.assert(
      fc.asyncProperty(batches, async ({ event, records }) => {
        iotMock.resetHistory();
        ddbMock.resetHistory();
        thingOf = new Map(records.filter((r) => r.message.valid).map((r) => {
          const m = r.message.value as { certificateId: string; thingName: string };
          return [arnOf(m.certificateId), m.thingName];
        }));
        let result: Awaited<ReturnType<typeof lambdaHandler>>;
        try {
          result = await lambdaHandler(event);
        } catch (error) {
          throw new Error(`threw ${(error as Error).name} for ${show(event)}`);
        }
        expect(Array.isArray(result?.batchItemFailures)).toBe(true);

        // A batch with a malformed record is not an SQS event: dropped whole.
        const batchOk = records.length > 0 ? records.every((r) => r.wellFormed) : Array.isArray((event as { Records?: unknown })?.Records);
        const valid = batchOk ? records.filter((r) => r.message.valid) : [];
        const named = new Set(valid.map((r) => (r.message.value as { certificateId: string }).certificateId));
        const touched = iotMock.calls().flatMap((call) => {
          const input = (call.args[0] as unknown as { input: Record<string, string | undefined> }).input;
          return [input.certificateId ?? input.principal?.split('/').pop()].filter(Boolean);
        });
        const context = records.map((r) => `${r.wellFormed ? '' : 'malformed record; '}${r.message.mutations.join(', ')}`);
        expect({ context, touched: touched.filter((id) => !named.has(id!)) }).toEqual({ context, touched: [] });
        for (const name of mutatingIotCalls(iotMock.calls())) expect(['UpdateCertificate', 'DetachThingPrincipal']).toContain(name);

        const expectedFailures = valid.filter((r) => failing((r.message.value as { certificateId: string }).certificateId)).map((r) => (r.record as { messageId: string }).messageId);
        expect({ context, failures: result.batchItemFailures.map((f) => f.itemIdentifier).sort() }).toEqual({ context, failures: expectedFailures.sort() });
        retired += iotMock.commandCalls(UpdateCertificateCommand).length;
        expect(iotMock.commandCalls(DetachThingPrincipalCommand).length).toBe(iotMock.commandCalls(UpdateCertificateCommand).length);
      }),
      fcParameters(),
    );
    expect(retired).toBeGreaterThan(RUNS / 10);
  }, TIMEOUT_MS);
});
