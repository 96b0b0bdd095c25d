import { IoTClient } from '@aws-sdk/client-iot';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { loadEvent } from '../support/fixtures';
import { loadHandler, mutatingIotCalls } from '../support/handlers';
import { fcParameters, inputs, invokeUnthrown, nearValid, RUNS, TIMEOUT_MS, wrongType, type FieldRule } from './fuzz-support';
import { envelopeRules, expectHttpAnswer, expectRefusal } from './http-events';

/**
 * Fuzz: `POST /devices/{deviceId}/actions` (`functions/console-actions`, the operator console) with
 * generated HTTP API events, the AWS SDK mocked. Its contract: always an HTTP answer; the device blocked
 * (registry and timeline written) only for a well-formed request of a signed-in operator; anything else a
 * 4xx with a reason, and nothing written in DynamoDB or AWS IoT.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
let lambdaHandler: (event: unknown) => Promise<unknown>;

const claims = ['requestContext', 'authorizer', 'jwt', 'claims'];
const ROUTE = 'POST /devices/{deviceId}/actions';
const rules: FieldRule[] = [
  ...envelopeRules.filter((rule) => rule.path[0] !== 'routeKey'),
  { path: ['routeKey'], required: true, valid: fc.constant(ROUTE), invalid: fc.oneof(fc.constantFrom('GET /devices/{deviceId}/actions', 'POST /devices', 'POST /provisioning-claims', ''), wrongType) },
  { path: ['pathParameters'], required: true, invalid: fc.constantFrom('SENSOR-0001', null, [], {}) },
  { path: ['pathParameters', 'deviceId'], required: true, valid: fc.stringMatching(/^[A-Za-z0-9:_-]{1,20}$/), invalid: fc.oneof(fc.constantFrom('', 'a/b', 'x'.repeat(129), 'a b', '../etc'), wrongType) },
  {
    path: ['body'],
    required: true,
    valid: fc.constantFrom('{"action":"block"}', ' {"action": "block"} '),
    invalid: fc.oneof(
      fc.constantFrom('block', '[]', 'null', '{}', '{"action":"BLOCK"}', '{"action":"block","keepThing":true}', '{"action":"explode"}', '{"action":"allow","thingGroup":"a b"}', '{'),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      wrongType,
    ),
  },
  // Behind the JWT authorizer: a verified operator, or nobody is allowed to change anything.
  { path: ['requestContext', 'authorizer'], required: true, invalid: fc.constantFrom('jwt', null, [], 1, {}) },
  { path: ['requestContext', 'authorizer', 'jwt'], required: true, invalid: fc.constantFrom('token', null, [], { scopes: null }) },
  { path: claims, required: true, invalid: fc.constantFrom('claims', null, [], {}) },
  { path: [...claims, 'sub'], required: true, valid: fc.string({ minLength: 1, maxLength: 40 }), invalid: fc.constantFrom('', 42, true, ['a']) },
  {
    path: [...claims, 'cognito:groups'],
    required: true,
    valid: fc.constantFrom('[operators]', 'operators', '[technicians operators]', ['operators']),
    invalid: fc.constantFrom('[technicians]', '', '[]', 'operator', '[Operators]', 'technicians,admins', 42, ['technicians']),
  },
];

const writes = () => ddbMock.calls().filter((call) => [UpdateCommand, PutCommand, BatchWriteCommand].some((type) => call.args[0] instanceof type)).length;

beforeAll(() => {
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/console-actions/handler')>('consoleActions'));
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(UpdateCommand).callsFake((input: { Key: { deviceId: string } }) => ({ Attributes: { deviceId: input.Key.deviceId, status: 'blocked', updatedAt: '2026-12-01T12:00:00.000Z' } }));
  ddbMock.on(PutCommand).resolves({});
});

describe('consoleActions under fuzzing', () => {
  it(`answers every request; writes only for an operator's well-formed action, otherwise a 4xx with a reason and nothing written (${RUNS} events)`, async () => {
    const base = loadEvent('console-device-action');
    let acted = 0;
    await fc.assert(
      fc.asyncProperty(inputs(nearValid(base, rules)), async (input) => {
        iotMock.resetHistory();
        ddbMock.resetHistory();
        const answer = expectHttpAnswer(await invokeUnthrown(lambdaHandler, input), input);
        if (input.valid) {
          acted++;
          expect({ mutations: input.mutations, statusCode: answer.statusCode, writes: writes() }).toEqual({ mutations: input.mutations, statusCode: 200, writes: 2 });
          return;
        }
        expectRefusal(answer, input);
        expect({ mutations: input.mutations, writes: writes(), iot: mutatingIotCalls(iotMock.calls()) }).toEqual({ mutations: input.mutations, writes: 0, iot: [] });
      }),
      fcParameters(),
    );
    expect(acted).toBeGreaterThan(RUNS / 20);
  }, TIMEOUT_MS);
});
