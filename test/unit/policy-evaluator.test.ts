import { evaluatePolicies, resolveConnectionThing, type PolicyContext } from '../../local/iot-core/policy-evaluator';

const PREFIX = 'arn:aws:iot:us-east-1:123456789012';
const devicePolicy = JSON.stringify(require('../../resources/stack.cjs').devicePolicyDocument(PREFIX, 'iot-provisioner-test-device'));
const context: PolicyContext = { clientId: 'SENSOR-1', thingName: 'SENSOR-1', thingAttached: true };
const allowed = (documents: string[], action: Parameters<typeof evaluatePolicies>[1]['action'], resource: string, ctx = context) =>
  evaluatePolicies(documents, { action, resource: `${PREFIX}:${resource}` }, ctx).allowed;

describe('the stack’s device policy, evaluated as AWS IoT does', () => {
  it.each([
    ['iot:Connect', 'client/SENSOR-1', true],
    ['iot:Connect', 'client/SENSOR-2', false],
    ['iot:Publish', 'topic/device/SENSOR-1/telemetry', true],
    ['iot:Publish', 'topic/device/SENSOR-1/a/b/c', true],
    ['iot:Publish', 'topic/device/SENSOR-2/telemetry', false],
    ['iot:Publish', 'topic/device/SENSOR-1', false],
    ['iot:Publish', 'topic/$aws/things/SENSOR-1/shadow/update', true],
    ['iot:Publish', 'topic/$aws/things/SENSOR-2/shadow/update', false],
    ['iot:Receive', 'topic/device/SENSOR-1/commands', true],
    ['iot:Subscribe', 'topicfilter/device/SENSOR-1/commands', true],
    ['iot:Subscribe', 'topicfilter/device/SENSOR-1/#', true],
    ['iot:Subscribe', 'topicfilter/device/+/commands', false],
    ['iot:Subscribe', 'topicfilter/#', false],
    // Rotation (docs/rotation-protocol.md): its own Jobs topics and its own CSR topic only.
    ['iot:Publish', 'topic/$aws/things/SENSOR-1/jobs/start-next', true],
    ['iot:Publish', 'topic/$aws/things/SENSOR-1/jobs/rotate-1/update', true],
    ['iot:Publish', 'topic/$aws/things/SENSOR-2/jobs/rotate-1/update', false],
    ['iot:Subscribe', 'topicfilter/$aws/things/SENSOR-1/jobs/+/update/accepted', true],
    ['iot:Subscribe', 'topicfilter/$aws/things/+/jobs/notify-next', false],
    ['iot:Receive', 'topic/$aws/things/SENSOR-1/jobs/notify-next', true],
    ['iot:Publish', 'topic/device/SENSOR-1/rotation/csr', true],
    ['iot:Publish', 'topic/device/SENSOR-2/rotation/csr', false],
    ['iot:Receive', 'topic/device/SENSOR-2/rotation/certificate', false],
    ['iot:AssumeRoleWithCertificate', 'rolealias/iot-provisioner-test-device', true],
    ['iot:AssumeRoleWithCertificate', 'rolealias/admin', false],
  ] as const)('%s on %s → %s', (action, resource, expected) => {
    expect(allowed([devicePolicy], action, resource)).toBe(expected);
  });

  it('refuses to connect when the certificate is not attached to a thing (IsAttached condition)', () => {
    expect(allowed([devicePolicy], 'iot:Connect', 'client/SENSOR-1', { clientId: 'SENSOR-1', thingAttached: false })).toBe(false);
  });

  it('does not resolve the thing name variable without a thing, so nothing under device/ is allowed', () => {
    expect(allowed([devicePolicy], 'iot:Publish', 'topic/device/SENSOR-1/x', { clientId: 'SENSOR-1', thingAttached: false })).toBe(false);
  });
});

describe('policy evaluation rules', () => {
  const doc = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

  it('lets an explicit Deny win over any Allow', () => {
    const policies = [doc({ Effect: 'Allow', Action: 'iot:*', Resource: '*' }), doc({ Effect: 'Deny', Action: 'iot:Publish', Resource: `${PREFIX}:topic/secret/*` })];
    expect(evaluatePolicies(policies, { action: 'iot:Publish', resource: `${PREFIX}:topic/secret/x` }, context)).toEqual({ allowed: false, reason: 'explicit-deny' });
    expect(allowed(policies, 'iot:Publish', 'topic/open/x')).toBe(true);
  });

  it('denies what no statement allows', () => {
    expect(evaluatePolicies([], { action: 'iot:Connect', resource: `${PREFIX}:client/x` }, context)).toEqual({ allowed: false, reason: 'no-allow' });
  });

  it('treats MQTT wildcards in resources as literal characters', () => {
    const policies = [doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: `${PREFIX}:topic/a/+/c` })];
    expect(allowed(policies, 'iot:Publish', 'topic/a/b/c')).toBe(false);
    expect(allowed(policies, 'iot:Publish', 'topic/a/+/c')).toBe(true);
  });

  it('matches ? as one character and * across slashes', () => {
    const policies = [doc({ Effect: 'Allow', Action: ['iot:Publish'], Resource: [`${PREFIX}:topic/a?/*`] })];
    expect(allowed(policies, 'iot:Publish', 'topic/ab/x/y/z')).toBe(true);
    expect(allowed(policies, 'iot:Publish', 'topic/abc/x')).toBe(false);
  });

  it('substitutes ${iot:ClientId}', () => {
    const policies = [doc({ Effect: 'Allow', Action: 'iot:Connect', Resource: `${PREFIX}:client/\${iot:ClientId}` })];
    expect(allowed(policies, 'iot:Connect', 'client/SENSOR-1')).toBe(true);
  });

  it.each([
    ['an unknown policy variable', { Effect: 'Allow', Action: 'iot:Publish', Resource: `${PREFIX}:topic/\${iot:Certificate.Subject.CommonName}` }],
    ['NotResource', { Effect: 'Allow', Action: 'iot:Publish', NotResource: `${PREFIX}:topic/x` }],
    ['an unknown condition key', { Effect: 'Allow', Action: 'iot:Publish', Resource: '*', Condition: { StringEquals: { 'iot:Connection.Thing.Attributes[site]': 'x' } } }],
  ])('fails closed on what it does not evaluate: an Allow with %s does not allow', (_, statement) => {
    expect(allowed([doc(statement)], 'iot:Publish', 'topic/x')).toBe(false);
  });

  it('fails closed the other way for Deny: a Deny it cannot evaluate denies', () => {
    const policies = [
      doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }),
      doc({ Effect: 'Deny', Action: 'iot:Publish', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
    ];
    expect(allowed(policies, 'iot:Publish', 'topic/x')).toBe(false);
  });

  it('ignores documents that are not JSON', () => {
    expect(allowed(['{nope', doc({ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' })], 'iot:Publish', 'topic/x')).toBe(true);
  });
});

describe('resolveConnectionThing', () => {
  it('associates the thing named like the client id', () => {
    expect(resolveConnectionThing('a', [{ thingName: 'a', exclusive: false }, { thingName: 'b', exclusive: false }])).toEqual({ thingName: 'a', thingAttached: true });
  });
  it('associates the single exclusively attached thing whatever the client id', () => {
    expect(resolveConnectionThing('other', [{ thingName: 'a', exclusive: true }])).toEqual({ thingName: 'a', thingAttached: true });
  });
  it('associates nothing otherwise', () => {
    expect(resolveConnectionThing('other', [{ thingName: 'a', exclusive: false }])).toEqual({ thingAttached: false });
  });
});
