import {
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
} from '@aws-sdk/client-iot';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { createCa, createCsr, issueCertificate } from '../../lib/pki';
import { loadEvent } from '../support/fixtures';
import { arnOf, loadHandler, mutatingIotCalls } from '../support/handlers';
import { deviceId, fcParameters, inputs, nearValid, notDeviceId, RUNS, TIMEOUT_MS, wrongType, invokeUnthrown, type FieldRule } from './fuzz-support';
import { envelopeRules, expectHttpAnswer, expectRefusal } from './http-events';

/**
 * Fuzz: the vending API (`functions/vend-certificate`, POST and DELETE /devices/{deviceId}/certificate)
 * with generated HTTP API events and registry states, the AWS SDK mocked. Its contract: always an HTTP
 * answer; a certificate only for a well-formed request of an IAM caller (with a CSR that verifies, has a
 * strong key and names the device); anything malformed a 4xx with a reason and no state-changing IoT call.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);

const DEVICE = 'DEMO-VEND-0001';
const BOUND = 'b'.repeat(64);
const NEW = 'c'.repeat(64);
let registry: 'unbound' | 'bound' = 'unbound';
let lambdaHandler: (event: unknown) => Promise<unknown>;
/** The device registry of the test stage (serverless.yml). */
const REGISTRY_TABLE = 'iot-provisioner-test-devices';
let validCsr = '';
const refusedCsrs: string[] = [];

const userArn = ['requestContext', 'authorizer', 'iam', 'userArn'];
const idempotencyKey = ['headers', 'idempotency-key'];

function rules(): FieldRule[] {
  const body = (value: unknown) => JSON.stringify(value);
  return [
    ...envelopeRules.filter((rule) => rule.path[0] !== 'headers'),
    { path: ['headers'], required: false, valid: fc.constant({}), invalid: fc.constantFrom({ 'idempotency-key': 1 }, [], 'key') },
    { path: idempotencyKey, required: false, valid: fc.stringMatching(/^[A-Za-z0-9_.:-]{8,64}$/), invalid: fc.oneof(fc.constantFrom('short', 'has space!', 'x'.repeat(129), '', 'ключ-ключ-ключ'), wrongType) },
    // API Gateway's IAM authorizer puts the caller here; without one nothing may happen.
    { path: ['requestContext', 'authorizer'], required: true, invalid: fc.constantFrom(null, 'iam', [], {}, { jwt: { claims: { sub: 'x' } } }) },
    { path: ['requestContext', 'authorizer', 'iam'], required: true, invalid: fc.constantFrom(null, 'iam', [], {}, { userArn: '' }) },
    { path: userArn, required: true, valid: fc.constantFrom('arn:aws:iam::123456789012:user/other', 'arn:aws:sts::123456789012:assumed-role/factory/x'), invalid: fc.constantFrom('', null, 1, ['arn']) },
    { path: ['pathParameters'], required: true, invalid: fc.constantFrom(null, 'DEMO-VEND-0001', [], {}, { deviceId: 1 }) },
    { path: ['pathParameters', 'deviceId'], required: true, valid: deviceId, invalid: fc.oneof(notDeviceId, wrongType) },
    {
      path: ['body'],
      required: false,
      valid: fc.oneof(
        fc.constantFrom('', '{}', body({ rotate: true }), body({ rotate: false }), ' {"rotate": true} '),
        fc.constant(null).map(() => body({ csr: validCsr })),
        fc.constant(null).map(() => body({ csr: validCsr, rotate: true })),
      ),
      invalid: fc.oneof(
        fc.constantFrom('nope', '[]', 'null', '1', '"{}"', '{', body({ rotate: 'yes' }), body({ csr: 42 }), body({ colour: 'red' }), body({ csr: '' }), body({ thingName: 'admin' }), '{"__proto__":{"rotate":true}}'),
        fc.constant(null).chain(() => fc.constantFrom(...refusedCsrs)).map((csr) => body({ csr })),
        fc.string({ maxLength: 60 }).map((csr) => body({ csr })),
        fc.constantFrom(1, {}, [], true),
      ),
    },
  ];
}

beforeAll(async () => {
  validCsr = (await createCsr({ serialNumber: DEVICE }, 'ec-p256')).csrPem;
  const ca = await createCa({ commonName: 'Fuzz vending CA' });
  const corrupted = (() => {
    // One base64 character changed well inside the body: the signature no longer verifies.
    const lines = validCsr.split('\n');
    const line = lines[2]!;
    lines[2] = line.slice(0, 10) + (line[10] === 'A' ? 'B' : 'A') + line.slice(11);
    return lines.join('\n');
  })();
  refusedCsrs.push(
    (await createCsr({ serialNumber: 'SOMEONE-ELSE' })).csrPem,
    (await createCsr({ serialNumber: DEVICE }, 'rsa-1024')).csrPem,
    (await createCsr({ organization: 'no device id' })).csrPem,
    corrupted,
    validCsr.replace('CERTIFICATE REQUEST', 'CERTIFICATE'),
    (await issueCertificate(ca, { subject: { serialNumber: DEVICE } })).certificatePem,
    validCsr.slice(0, 100),
  );
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/vend-certificate/handler')>('vendCertificate'));

  iotMock.onAnyCommand().resolves({});
  const issued = { certificateId: NEW, certificateArn: arnOf(NEW), certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' };
  iotMock.on(CreateKeysAndCertificateCommand).resolves({ ...issued, keyPair: { PrivateKey: 'generated-key', PublicKey: 'public' } });
  iotMock.on(CreateCertificateFromCsrCommand).resolves(issued);
  iotMock.on(DescribeEndpointCommand).resolves({ endpointAddress: 'fuzz-ats.iot.us-east-1.amazonaws.com' });
  iotMock.on(DescribeCertificateCommand).callsFake((input: { certificateId: string }) => ({
    certificateDescription: { certificateId: input.certificateId, certificateArn: arnOf(input.certificateId), status: 'ACTIVE', certificatePem: issued.certificatePem },
  }));
  iotMock.on(ListPrincipalThingsCommand).resolves({ things: [] });
  iotMock.on(ListAttachedPoliciesCommand).resolves({ policies: [] });
  ddbMock.onAnyCommand().resolves({});
  ddbMock.on(GetCommand).callsFake((input: { Key: Record<string, string> }) => {
    if ('pk' in input.Key) return { Item: undefined };
    const id = input.Key.deviceId!;
    return { Item: registry === 'bound' ? { deviceId: id, status: 'allowed', certificateId: BOUND, bindingState: 'bound', thingName: id } : { deviceId: id, status: 'allowed' } };
  });
  sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/iot-provisioner-test-retirements' });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

describe('vendCertificate under fuzzing', () => {
  it(`answers every request; mints only for a well-formed request of an IAM caller, refuses the rest with a 4xx and a reason, changing nothing (${RUNS} events)`, async () => {
    const post = loadEvent('vend-certificate');
    const del = loadEvent('vend-certificate-delete');
    const events = fc.oneof(
      { weight: 3, arbitrary: inputs(nearValid(post, rules())).map((input) => ({ ...input, method: 'POST' as const })) },
      { weight: 1, arbitrary: nearValid(del, rules().filter((rule) => rule.path[0] !== 'body' && rule.path.join('.') !== idempotencyKey.join('.'))).map((input) => ({ ...input, method: 'DELETE' as const })) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('GET', 'PUT', 'PATCH', 'post', '').map((method) => {
          const value = loadEvent<{ requestContext: { http: { method: string } } }>('vend-certificate');
          value.requestContext.http.method = method;
          return { value, valid: false, mutations: [`method ${method}`], method: 'POST' as const };
        }),
      },
    );
    const registries = fc.constantFrom<typeof registry>('unbound', 'bound');
    const seen = { minted: 0, revoked: 0, refused: 0 };

    await fc.assert(
      fc.asyncProperty(events, registries, async (input, state) => {
        registry = state;
        iotMock.resetHistory();
        ddbMock.resetHistory();
        sqsMock.resetHistory();
        const raw = await invokeUnthrown(lambdaHandler, input);
        const answer = expectHttpAnswer(raw, input);
        const mutating = mutatingIotCalls(iotMock.calls());
        const registryWrites = ddbMock.commandCalls(UpdateCommand).filter((call) => call.args[0].input.TableName === REGISTRY_TABLE).length;

        const event = input.value as { body?: string; pathParameters?: { deviceId?: string } };
        const request = input.valid && event.body ? (JSON.parse(event.body) as { csr?: string; rotate?: boolean }) : {};
        // A CSR names the device it was made for: valid only for that device.
        const valid = input.valid && (request.csr === undefined || event.pathParameters?.deviceId === DEVICE);
        if (!valid) {
          seen.refused++;
          expectRefusal(answer, input);
          expect({ mutations: input.mutations, mutating, registryWrites }).toEqual({ mutations: input.mutations, mutating: [], registryWrites: 0 });
          return;
        }
        if (input.method === 'DELETE') {
          // Revoked when there is a certificate; 404 and nothing changed when there is none.
          const expected = state === 'bound' ? 200 : 404;
          expect({ mutations: input.mutations, statusCode: answer.statusCode }).toEqual({ mutations: input.mutations, statusCode: expected });
          if (expected === 200) {
            seen.revoked++;
            expect(mutating).toContain('UpdateCertificate');
          } else expect(mutating).toEqual([]);
          return;
        }
        const expected = state === 'bound' && !request.rotate ? 409 : 201;
        expect({ mutations: input.mutations, registry: state, statusCode: answer.statusCode }).toEqual({ mutations: input.mutations, registry: state, statusCode: expected });
        if (expected === 201) {
          seen.minted++;
          expect(mutating[0]).toBe(request.csr === undefined ? 'CreateKeysAndCertificate' : 'CreateCertificateFromCsr');
          expect(answer.body.privateKey === undefined).toBe(request.csr !== undefined);
        } else {
          expect({ mutations: input.mutations, mutating, reason: answer.body.reason }).toEqual({ mutations: input.mutations, mutating: [], reason: 'device-already-bound' });
        }
      }),
      fcParameters(),
    );
    expect(seen.minted).toBeGreaterThan(RUNS / 20);
    expect(seen.revoked).toBeGreaterThan(RUNS / 100);
    expect(seen.refused).toBeGreaterThan(RUNS / 10);
  }, TIMEOUT_MS);
});
