import { ListQueuesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { sqsFailureQueue } from '../../cli/failure-queue';
import { createCa, deviceChain, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { gatherFacts, type DiagnosisPorts } from '../../shared/diagnosis/gather-facts';
import type { DeviceEntry } from '../../shared/registry/device-entry';

/** `devices why`'s fact gathering (which certificate, which CA, what the failure queue says) and its SQS reader. */

const NOW = new Date('2026-06-01T00:00:00.000Z');
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

let ca: KeyedCertificate;
let device: KeyedCertificate;

beforeAll(async () => {
  ca = await createCa({ commonName: 'WhyFactsCA' });
  device = await issueCertificate(ca, { subject: { commonName: 'DEV-1' } });
});

/** Ports over an in-memory registry and AWS IoT; every call is recorded. */
function ports(entry: DeviceEntry | undefined, certificates: Record<string, string> = {}, failures: DiagnosisPorts['failureQueue'] = { peek: async () => [] }) {
  const calls: string[] = [];
  const p: DiagnosisPorts = {
    registry: { get: async () => entry },
    iot: {
      describeCertificate: async (id) => {
        calls.push(`describeCertificate ${id}`);
        return certificates[id] ? { certificateId: id, certificateArn: `arn:cert/${id}`, caCertificateId: ca.certificateId, status: certificates[id]!, certificatePem: device.certificatePem } : undefined;
      },
      listPrincipalThings: async () => ['DEV-1'],
      listAttachedPolicies: async () => ['policy'],
      describeCaCertificate: async (id) => {
        calls.push(`describeCaCertificate ${id}`);
        return id === ca.certificateId ? { status: 'ACTIVE', autoRegistrationStatus: 'DISABLE' } : undefined;
      },
    },
    failureQueue: failures,
  };
  return { ports: p, calls };
}

const request = { deviceId: 'DEV-1', devicePolicy: 'policy', now: NOW };

describe('gatherFacts', () => {
  it('takes the bound certificate when no refusal came after the binding', async () => {
    const entry: DeviceEntry = { deviceId: 'DEV-1', status: 'allowed', certificateId: A, bindingState: 'bound', boundAt: '2026-05-02T00:00:00Z', lastRejection: { reason: 'device-already-bound', certificateId: B, at: '2026-05-01T00:00:00Z' } };
    const facts = await gatherFacts(ports(entry, { [A]: 'ACTIVE' }).ports, request);
    expect(facts.certificate).toMatchObject({ certificateId: A, source: 'registry', registered: { status: 'ACTIVE', things: ['DEV-1'], policies: ['policy'] } });
    expect(facts.decisions).toEqual([{ at: '2026-05-01T00:00:00Z', kind: 'refused', reason: 'device-already-bound', certificateId: B }]);
  });

  it('takes the refused certificate when the refusal is newer than the binding (the device tries another one)', async () => {
    const entry: DeviceEntry = { deviceId: 'DEV-1', status: 'allowed', certificateId: A, bindingState: 'bound', boundAt: '2026-05-01T00:00:00Z', lastRejection: { reason: 'device-already-bound', certificateId: B, at: '2026-05-02T00:00:00Z' } };
    const facts = await gatherFacts(ports(entry, { [B]: 'REVOKED' }).ports, request);
    expect(facts.certificate).toMatchObject({ certificateId: B, source: 'refusal', registered: { status: 'REVOKED' } });
  });

  it('knows no certificate of a device that was never bound nor refused, and does not call AWS IoT', async () => {
    const { ports: p, calls } = ports({ deviceId: 'DEV-1', status: 'allowed' });
    const facts = await gatherFacts(p, request);
    expect(facts.certificate).toBeUndefined();
    expect(facts.failureQueue).toEqual({ read: false, why: 'no certificate to look for' });
    expect(calls).toEqual([]);
  });

  it("reads the CA from the operator's chain file when AWS IoT has not registered the certificate, and the validity from the file", async () => {
    const { ports: p, calls } = ports(undefined);
    const facts = await gatherFacts(p, { ...request, certificate: { certificateId: device.certificateId, pem: deviceChain(device, ca) } });
    expect(calls).toEqual([`describeCertificate ${device.certificateId}`, `describeCaCertificate ${ca.certificateId}`]);
    expect(facts.ca).toEqual({ caCertificateId: ca.certificateId, registered: true, status: 'ACTIVE', autoRegistrationStatus: 'DISABLE' });
    expect(facts.certificate).toMatchObject({ source: 'operator', registered: undefined, validity: { notAfter: device.certificate.notAfter.toISOString() } });
  });

  it("finds the certificate of a device without a record in the failure queue, by the subject of the event's certificate", async () => {
    const other = await issueCertificate(ca, { subject: { commonName: 'DEV-2' } });
    const record = (id: string, pem: string) => ({ certificateId: id, certificateArn: `arn:cert/${id}`, caCertificateId: ca.certificateId, status: 'PENDING_ACTIVATION', certificatePem: pem });
    const lambdaRecord = (certificateId: string) => ({ body: JSON.stringify({ requestContext: { functionArn: 'arn:aws:lambda:r:1:function:f' }, requestPayload: { certificateId }, responsePayload: { errorType: 'E', errorMessage: 'm' } }) });
    const { ports: p, calls } = ports(undefined, {}, { peek: async () => [lambdaRecord(device.certificateId), lambdaRecord(other.certificateId)] });
    p.iot.describeCertificate = async (id) => {
      calls.push(`describeCertificate ${id}`);
      return id === device.certificateId ? record(id, device.certificatePem) : id === other.certificateId ? record(id, other.certificatePem) : undefined;
    };

    const facts = await gatherFacts(p, request);

    expect(facts.certificate).toMatchObject({ certificateId: device.certificateId, source: 'failure-queue', registered: { status: 'PENDING_ACTIVATION' } });
    // Newest message first: DEV-2's certificate is looked at, and passed over.
    expect(calls.slice(0, 2)).toEqual([`describeCertificate ${other.certificateId}`, `describeCertificate ${device.certificateId}`]);
    expect(facts.failureQueue).toMatchObject({ read: true, scanned: 2, messages: [{ origin: 'function f', error: 'E: m' }] });
  });

  it('says the failure queue could not be read, and still diagnoses', async () => {
    const failures = { peek: async () => Promise.reject(new Error('AccessDenied: sqs:ReceiveMessage')) };
    const facts = await gatherFacts(ports({ deviceId: 'DEV-1', status: 'allowed', certificateId: A }, { [A]: 'PENDING_ACTIVATION' }, failures).ports, request);
    expect(facts.failureQueue).toEqual({ read: false, why: 'AccessDenied: sqs:ReceiveMessage' });
    expect(facts.connects).toEqual({ observed: false, why: 'connects are not observable here' });
  });
});

describe('sqsFailureQueue', () => {
  const sqs = mockClient(SQSClient);
  beforeEach(() => sqs.reset());

  it('finds the queue by name prefix and reads without consuming: VisibilityTimeout 0, at most 5 receives of 10, each message once', async () => {
    sqs.on(ListQueuesCommand).resolves({ QueueUrls: ['https://sqs/123/svc-dev-ProvisioningFailureQueue-XYZ'] });
    const batch = (ids: string[]) => ({ Messages: ids.map((id) => ({ MessageId: id, Body: `{"id":"${id}"}`, Attributes: { SentTimestamp: '1780000000000' } })) });
    sqs.on(ReceiveMessageCommand).resolves(batch(['m1', 'm2']));

    const messages = await sqsFailureQueue(new SQSClient({ region: 'eu-west-1' }), { namePrefix: 'svc-dev-ProvisioningFailureQueue' }).peek();

    expect(messages).toEqual([
      { body: '{"id":"m1"}', sentAt: new Date(1780000000000).toISOString() },
      { body: '{"id":"m2"}', sentAt: new Date(1780000000000).toISOString() },
    ]);
    expect(sqs).toHaveReceivedCommandWith(ListQueuesCommand, { QueueNamePrefix: 'svc-dev-ProvisioningFailureQueue' });
    expect(sqs).toHaveReceivedCommandTimes(ReceiveMessageCommand, 5);
    expect(sqs).toHaveReceivedCommandWith(ReceiveMessageCommand, { QueueUrl: 'https://sqs/123/svc-dev-ProvisioningFailureQueue-XYZ', VisibilityTimeout: 0, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 });
  });

  it('stops at an empty receive, uses the given URL, and names the option when the queue cannot be found', async () => {
    sqs.on(ReceiveMessageCommand).resolves({});
    expect(await sqsFailureQueue(new SQSClient({ region: 'eu-west-1' }), { url: 'https://sqs/q', namePrefix: 'x' }).peek()).toEqual([]);
    expect(sqs).toHaveReceivedCommandTimes(ReceiveMessageCommand, 1);
    expect(sqs).not.toHaveReceivedCommand(ListQueuesCommand);

    sqs.on(ListQueuesCommand).resolves({ QueueUrls: [] });
    await expect(sqsFailureQueue(new SQSClient({ region: 'eu-west-1' }), { namePrefix: 'svc-dev-ProvisioningFailureQueue' }).peek()).rejects.toThrow(/no queue named .*--failure-queue-url/);
  });
});
