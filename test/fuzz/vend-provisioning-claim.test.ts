import { CreateProvisioningClaimCommand, DescribeEndpointCommand, IoTClient } from '@aws-sdk/client-iot';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { loadEvent } from '../support/fixtures';
import { loadHandler, mutatingIotCalls } from '../support/handlers';
import { fcParameters, inputs, nearValid, RUNS, TIMEOUT_MS, wrongType, invokeUnthrown, type FieldRule } from './fuzz-support';
import { envelopeRules, expectHttpAnswer, expectRefusal } from './http-events';

/**
 * Fuzz: `POST /provisioning-claims` (`functions/vend-provisioning-claim`) with generated HTTP API events,
 * the AWS SDK mocked. Its contract: always an HTTP answer; a claim (201) only for a well-formed request of
 * a verified user with the empty body `{}`; anything else a 4xx with a reason, and no claim created or
 * recorded.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
// A stand-in key, assembled at run time so no key-shaped text sits in the repository.
const PRIVATE_KEY = `-----BEGIN ${['RSA', 'PRIVATE', 'KEY'].join(' ')}-----\nMIIEfuzz\n-----END ${['RSA', 'PRIVATE', 'KEY'].join(' ')}-----\n`;
let lambdaHandler: (event: unknown) => Promise<unknown>;

const claims = ['requestContext', 'authorizer', 'jwt', 'claims'];
const rules: FieldRule[] = [
  ...envelopeRules,
  { path: ['requestContext', 'http', 'method'], required: true, valid: fc.constantFrom('POST', 'GET', 'post'), invalid: wrongType },
  {
    path: ['body'],
    required: false,
    valid: fc.constantFrom('{}', '', ' {} ', '{ }\n'),
    invalid: fc.oneof(fc.constantFrom('nope', '[]', '{"templateName":"admin"}', 'null', '1', '"{}"', '{', '{}{}'), fc.jsonValue().map((v) => JSON.stringify(v)).filter((t) => t !== '{}'), fc.constantFrom(1, {}, [], null, true)),
  },
  // Optional in the envelope, required for a claim: without a verified user there is nobody to record.
  { path: ['requestContext', 'authorizer'], required: true, invalid: fc.constantFrom('jwt', null, [], 1, {}) },
  { path: ['requestContext', 'authorizer', 'jwt'], required: true, invalid: fc.constantFrom('token', null, [], { scopes: null }) },
  { path: claims, required: true, invalid: fc.constantFrom('claims', null, [], { sub: { id: 1 } }, {}) },
  { path: [...claims, 'sub'], required: true, valid: fc.string({ minLength: 1, maxLength: 40 }), invalid: fc.constantFrom('', 42, true, ['a']) },
  { path: [...claims, 'cognito:username'], required: false, valid: fc.string({ maxLength: 40 }), invalid: fc.constantFrom(null, {}, [1]) },
];

beforeAll(() => {
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/vend-provisioning-claim/handler')>('vendProvisioningClaim'));
  iotMock.on(CreateProvisioningClaimCommand).resolves({
    certificateId: 'c'.repeat(64),
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    keyPair: { PrivateKey: PRIVATE_KEY, PublicKey: 'public' },
    expiration: new Date(Date.now() + 300_000),
  });
  iotMock.on(DescribeEndpointCommand).resolves({ endpointAddress: 'fuzz-ats.iot.us-east-1.amazonaws.com' });
  ddbMock.on(PutCommand).resolves({});
});

describe('vendProvisioningClaim under fuzzing', () => {
  it(`answers every request; a claim only for a verified user asking with {}, otherwise a 4xx with a reason and nothing created (${RUNS} events)`, async () => {
    const base = loadEvent('provisioning-claim-request');
    const base64 = { ...loadEvent('provisioning-claim-request'), body: Buffer.from('{}').toString('base64'), isBase64Encoded: true };
    const events = fc.oneof({ weight: 5, arbitrary: inputs(nearValid(base, rules)) }, { weight: 1, arbitrary: nearValid(base64, rules.filter((r) => r.path[0] !== 'body' && r.path[0] !== 'isBase64Encoded')) });
    let vended = 0;

    await fc.assert(
      fc.asyncProperty(events, async (input) => {
        iotMock.resetHistory();
        ddbMock.resetHistory();
        const raw = await invokeUnthrown(lambdaHandler, input);
        const answer = expectHttpAnswer(raw, input);
        const created = mutatingIotCalls(iotMock.calls());
        if (input.valid) {
          vended++;
          expect({ mutations: input.mutations, statusCode: answer.statusCode, created }).toEqual({ mutations: input.mutations, statusCode: 201, created: ['CreateProvisioningClaim'] });
          return;
        }
        expectRefusal(answer, input);
        expect({ mutations: input.mutations, created, writes: ddbMock.calls().length }).toEqual({ mutations: input.mutations, created: [], writes: 0 });
      }),
      fcParameters(),
    );
    expect(vended).toBeGreaterThan(RUNS / 20);
  }, TIMEOUT_MS);
});
