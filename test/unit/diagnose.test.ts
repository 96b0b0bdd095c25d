import { diagnose, type DiagnosisCode } from '../../shared/diagnosis/diagnose';
import { failuresFor } from '../../shared/diagnosis/failure-messages';
import type { DiagnosisFacts, RegisteredCertificate } from '../../shared/diagnosis/facts';

/** `diagnose(facts)`: one diagnosis for each case of issue 11 §4, from facts alone. */

const NOW = new Date('2026-06-01T00:00:00.000Z');
const CERT = 'a'.repeat(64);
const CA = 'c'.repeat(64);
const ARN = `arn:aws:iot:eu-west-1:123456789012:cert/${CERT}`;

const active: RegisteredCertificate = { status: 'ACTIVE', certificateArn: ARN, caCertificateId: CA, things: ['DEV-1'], policies: ['svc-dev-device'] };
const valid = { notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' };

/** A device that is fine on the backend; each case changes what makes it its case. */
const base = (): DiagnosisFacts => ({
  deviceId: 'DEV-1',
  registry: { deviceId: 'DEV-1', state: 'allowed', certificateId: CERT, bindingState: 'bound', thingName: 'DEV-1' },
  decisions: [],
  certificate: { certificateId: CERT, source: 'registry', registered: structuredClone(active), validity: { ...valid } },
  ca: { caCertificateId: CA, registered: true, status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' },
  failureQueue: { read: true, scanned: 0, messages: [] },
  connects: { observed: false, why: 'AWS IoT logs connects to CloudWatch Logs only' },
  expectedThingName: 'DEV-1',
  devicePolicy: 'svc-dev-device',
  dataEndpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
  now: NOW,
});

const registered = (f: DiagnosisFacts) => f.certificate!.registered!;
const unregistered = (f: DiagnosisFacts) => {
  f.certificate = { certificateId: CERT, source: 'operator', registered: undefined, validity: { ...valid } };
};

const cases: Array<[string, (f: DiagnosisFacts) => void, DiagnosisCode, RegExp]> = [
  ['no registry record and no certificate', (f) => { f.registry = undefined; delete f.certificate; delete f.ca; }, 'not-in-registry', /not in the registry/],
  ['allowed, no certificate registered for it', (f) => { f.registry = { deviceId: 'DEV-1', state: 'allowed' }; delete f.certificate; delete f.ca; }, 'never-connected', /never connected: no certificate is registered/],
  ['not decided, no certificate: says to allow it', (f) => { f.registry = { deviceId: 'DEV-1', state: undefined }; delete f.certificate; delete f.ca; }, 'never-connected', /not allowed/],
  ['a certificate AWS IoT never registered, CA unknown', (f) => { unregistered(f); delete f.ca; }, 'never-connected', /has not registered it/],
  ['a certificate whose CA is not registered', (f) => { unregistered(f); f.ca = { caCertificateId: CA, registered: false }; }, 'ca-not-registered', /CA c{64} is not registered/],
  ['a certificate whose CA is INACTIVE', (f) => { unregistered(f); f.ca = { caCertificateId: CA, registered: true, status: 'INACTIVE', autoRegistrationStatus: 'ENABLE' }; }, 'ca-inactive', /is INACTIVE/],
  ['a certificate whose CA has auto-registration off', (f) => { unregistered(f); f.ca = { caCertificateId: CA, registered: true, status: 'ACTIVE', autoRegistrationStatus: 'DISABLE' }; }, 'ca-auto-registration-off', /auto-registration is off/],
  ['PENDING_ACTIVATION with the failure-queue message', (f) => {
    registered(f).status = 'PENDING_ACTIVATION';
    f.failureQueue = { read: true, scanned: 3, messages: [{ origin: 'function svc-dev-activateCertificate', error: 'ResourceNotFoundException: table', at: '2026-05-31T10:00:00Z' }] };
  }, 'event-failed', /reached function svc-dev-activateCertificate, which failed \(ResourceNotFoundException: table\)/],
  ['PENDING_ACTIVATION and no failure-queue message', (f) => { registered(f).status = 'PENDING_ACTIVATION'; }, 'event-not-handled', /has not been handled, and the failure queue has no message/],
  ['PENDING_ACTIVATION and a failure queue that could not be read', (f) => { registered(f).status = 'PENDING_ACTIVATION'; f.failureQueue = { read: false, why: 'AccessDenied' }; }, 'event-not-handled', /has not been handled\.$/],
  ['REVOKED after a refusal: names the reason', (f) => {
    registered(f).status = 'REVOKED';
    f.decisions = [{ at: '2026-05-31T10:00:00Z', kind: 'refused', reason: 'ca-not-allowed', certificateId: CERT }];
  }, 'refused', /refused certificate a{64} \(ca-not-allowed\)/],
  ['INACTIVE after a fleet-provisioning denial: names the reason', (f) => {
    registered(f).status = 'INACTIVE';
    f.decisions = [{ at: '2026-05-31T10:00:00Z', kind: 'denied', reason: 'parameters-invalid', certificateId: CERT }];
  }, 'refused', /\(parameters-invalid\) at .* set it INACTIVE/],
  ['REVOKED, the refusal is of another certificate', (f) => {
    registered(f).status = 'REVOKED';
    f.decisions = [{ at: '2026-05-31T10:00:00Z', kind: 'refused', reason: 'device-blocked', certificateId: 'b'.repeat(64) }];
  }, 'revoked', /is REVOKED \(no refusal of it is recorded/],
  ['INACTIVE without a refusal', (f) => { registered(f).status = 'INACTIVE'; }, 'inactive', /an operator deactivated it/],
  ['suspended (a lifecycle state)', (f) => { f.registry!.state = 'suspended'; registered(f).status = 'INACTIVE'; }, 'suspended', /suspended by an operator/],
  ['retired (a lifecycle state)', (f) => { f.registry!.state = 'retired'; registered(f).status = 'REVOKED'; }, 'retired', /retired/],
  ['expired, ACTIVE', (f) => { f.certificate!.validity = { notBefore: '2025-01-01T00:00:00Z', notAfter: '2026-05-01T00:00:00Z' }; }, 'certificate-expired', /expired on 2026-05-01/],
  ['expired and never registered (AWS IoT does not register it)', (f) => { unregistered(f); f.certificate!.validity = { notBefore: '2025-01-01T00:00:00Z', notAfter: '2026-05-01T00:00:00Z' }; }, 'certificate-expired', /expired/],
  ['not yet valid', (f) => { f.certificate!.validity = { notBefore: '2026-07-01T00:00:00Z', notAfter: '2027-07-01T00:00:00Z' }; }, 'certificate-not-yet-valid', /not valid before 2026-07-01/],
  ['ACTIVE with no thing attached', (f) => { registered(f).things = []; }, 'thing-missing', /not attached to the thing DEV-1/],
  ['ACTIVE, attached to another thing', (f) => { registered(f).things = ['OTHER']; }, 'thing-missing', /attached to OTHER, not to the thing DEV-1/],
  ['ACTIVE without the device policy', (f) => { registered(f).policies = ['something-else']; }, 'policy-missing', /device policy svc-dev-device is not attached/],
  ['PENDING_TRANSFER', (f) => { registered(f).status = 'PENDING_TRANSFER'; }, 'certificate-status', /is PENDING_TRANSFER/],
  ['ACTIVE and fully attached: the client id is what the backend cannot see', () => {}, 'backend-in-order', /everything is in order on the backend/],
  ['ACTIVE, attached, the last connect refused with another client id', (f) => {
    f.connects = { observed: true, attempts: [{ at: '2026-05-31T10:00:00Z', clientId: 'DEV-1', outcome: 'connected' }, { at: '2026-05-31T11:00:00Z', clientId: 'my-laptop', outcome: 'refused', reason: 'iot:Connect not allowed' }] };
  }, 'client-id-mismatch', /connects with client id my-laptop, but the device policy svc-dev-device allows only client id = thing name DEV-1/],
  ['ACTIVE, attached, the last connect in', (f) => {
    f.connects = { observed: true, attempts: [{ at: '2026-05-31T11:00:00Z', clientId: 'DEV-1', outcome: 'connected' }] };
  }, 'backend-in-order', /the device connected as DEV-1 at 2026-05-31T11:00:00Z/],
];

describe('diagnose', () => {
  it.each(cases)('%s → %s', (_, change, code, sentence) => {
    const facts = base();
    change(facts);

    const diagnosis = diagnose(facts);

    expect(diagnosis.code).toBe(code);
    expect(diagnosis.sentence).toMatch(sentence);
    expect(diagnosis.fix.length).toBeGreaterThan(10);
    expect(diagnosis.evidence.length).toBeGreaterThan(0);
  });

  it('tells an in-order device to connect with client id = thing name to the endpoint with SNI', () => {
    const { fix } = diagnose(base());
    expect(fix).toContain('client id = DEV-1');
    expect(fix).toContain('to abc-ats.iot.eu-west-1.amazonaws.com port 8883 with SNI abc-ats.iot.eu-west-1.amazonaws.com');
  });

  it('asks to allow a device refused as not allow-listed before a new certificate', () => {
    const facts = base();
    registered(facts).status = 'REVOKED';
    facts.decisions = [{ at: '2026-05-31T10:00:00Z', kind: 'refused', reason: 'device-not-allowlisted', certificateId: CERT }];
    expect(diagnose(facts).fix).toMatch(/^allow the device \(iot-provisioner devices allow DEV-1\), then give the device a new certificate/);
  });

  it('lists the evidence: registry, decisions, certificate, CA and failure queue', () => {
    const facts = base();
    facts.failureQueue = { read: false, why: 'no queue named svc-dev-ProvisioningFailureQueue…' };
    const evidence = diagnose(facts).evidence.join('\n');
    expect(evidence).toMatch(/registry: DEV-1 is allowed, certificate aaaaaaaaaaaa… bound/);
    expect(evidence).toContain(`certificate: ${CERT} (bound in the registry) is ACTIVE in AWS IoT; things: DEV-1; policies: svc-dev-device`);
    expect(evidence).toContain(`CA: ${CA} is ACTIVE, auto-registration ENABLE`);
    expect(evidence).toContain('failure queue: not read (no queue named svc-dev-ProvisioningFailureQueue…)');
  });
});

describe('failuresFor: the failure-queue messages naming a certificate', () => {
  const lambdaRecord = (certificateId: string) => ({
    version: '1.0',
    timestamp: '2026-05-31T10:00:00.000Z',
    requestContext: { requestId: 'r', functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:svc-dev-activateCertificate:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
    requestPayload: { certificateId, caCertificateId: CA, certificateStatus: 'PENDING_ACTIVATION' },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'ServiceUnavailable', errorMessage: 'DynamoDB is unavailable' },
  });

  it('finds a Lambda on-failure record by its event, with the function and the error', () => {
    const found = failuresFor(CERT.toUpperCase(), [{ body: JSON.stringify(lambdaRecord('b'.repeat(64))) }, { body: JSON.stringify(lambdaRecord(CERT)) }]);
    expect(found).toEqual([
      { origin: 'function svc-dev-activateCertificate', error: 'ServiceUnavailable: DynamoDB is unavailable after 3 attempts (RetriesExhausted)', at: '2026-05-31T10:00:00.000Z' },
    ]);
  });

  it("finds a rule error action's message by its base64 original payload", () => {
    const body = JSON.stringify({
      ruleName: 'svc_dev_certificate_registered',
      base64OriginalPayload: Buffer.from(JSON.stringify({ certificateId: CERT })).toString('base64'),
      failures: [{ failedAction: 'LambdaAction', errorMessage: 'Failed to invoke lambda function' }],
    });
    expect(failuresFor(CERT, [{ body, sentAt: '2026-05-31T11:00:00.000Z' }])).toEqual([
      { origin: 'rule svc_dev_certificate_registered', error: 'Failed to invoke lambda function', at: '2026-05-31T11:00:00.000Z' },
    ]);
  });

  it('finds a dead-lettered message naming the certificate, and ignores bodies that are not JSON or name another', () => {
    const found = failuresFor(CERT, [{ body: 'not json' }, { body: JSON.stringify({ certificateId: CERT, retireAt: 'x' }) }, { body: JSON.stringify({ certificateId: 'b'.repeat(64) }) }]);
    expect(found).toHaveLength(1);
    expect(found[0]!.origin).toBe('a dead-lettered message');
  });
});
