import { createPrivateKey, X509Certificate } from 'node:crypto';
import { CreateJobCommand, DescribeCertificateCommand, DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { connectOnce, disconnect, publishAcknowledged, type Endpoint } from '../../device/mqtt-connection';
import { createCsr } from '../../lib/pki';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { createCertificateFromCsr } from '../../shared/aws/iot/issuance';
import { describeJobExecution } from '../../shared/aws/iot/job-executions';
import { attachPolicy } from '../../shared/aws/iot/policies';
import { attachThingPrincipal } from '../../shared/aws/iot/things';
import { createIotDataClient } from '../../shared/aws/iot-data/client';
import { publishJson } from '../../shared/aws/iot-data/publish';
import { getDevice } from '../../shared/aws/registry/entries';
import { beginRotationIssue, markRotationIssued, recordRotationCertificate, recordRotationRefusal } from '../../shared/aws/registry/rotation-issue';
import { appendTimelineEvent, listTimelineEvents } from '../../shared/aws/timeline/events';
import { certificateTopic } from '../../shared/rotation/model';
import { issueRotationCertificate, type RotationAnswer, type RotationIssueDeps } from '../../shared/rotation/issue';
import { FaultInjector, InjectedCrash } from '../support/fault-injection';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { certificates, certificatesOf, orphans } from './invariants';

/**
 * The rotation's CSR step when its Lambda dies right after any step (test/support/fault-injection.ts: the
 * process is gone, nothing after runs), then the retry (Lambda's, or the agent's re-sent CSR with the same
 * clientToken) runs it again from what was recorded. The real adapters against the local IoT Core and its
 * DynamoDB, so the registry's conditional writes are DynamoDB's. Whatever the step: one usable new
 * certificate (ACTIVE, the thing's and the policy's, the CSR's key), at most one INACTIVE orphan with no
 * attachments (a crash between CreateCertificateFromCsr and the write of its id), and at every step the device
 * still has an ACTIVE certificate attached to its thing with the policy whose key it holds (the old one).
 */

let stack: LocalStack;
let endpoint: Endpoint;

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
});

afterAll(async () => {
  await stack.close();
});

const STEPS = [
  'registry.beginIssue',
  'iot.createCertificateFromCsr',
  'registry.recordNewCertificate',
  'iot.attachPolicy',
  'iot.attachThingPrincipal',
  'iot.updateCertificateStatus',
  'registry.markIssued',
  'timeline.append',
  'answer.publish',
] as const;

/** One rotateCertificate "container", as the handler builds it, with a crash right after `crashAfter`; `check` runs after every call. */
function container(crashAfter: string | undefined, check: () => void, answers: RotationAnswer[]): RotationIssueDeps {
  const faults = new FaultInjector(crashAfter ? { step: crashAfter, how: 'crash' } : undefined);
  const checked = <T extends object>(target: T, port: string): T => {
    const wrapped = faults.wrap(target, port);
    return new Proxy(wrapped, {
      get: (object, key, receiver) => {
        const value = Reflect.get(object, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(object, args);
          } finally {
            check();
          }
        };
      },
    });
  };
  const documents = createDocumentClient();
  const registry = { client: documents, tableName: stack.deployed.tableName };
  const data = createIotDataClient();
  return {
    iot: checked(iotCalls(createIotClient({ maxAttempts: 3 }), { describeCertificate, createCertificateFromCsr, attachPolicy, attachThingPrincipal, updateCertificateStatus, describeJobExecution }), 'iot'),
    registry: checked(
      { ...bindCalls(registry, { get: getDevice }), ...bindCalls(registry, { beginIssue: beginRotationIssue, recordNewCertificate: recordRotationCertificate, markIssued: markRotationIssued, recordRefusal: recordRotationRefusal }) },
      'registry',
    ),
    answer: checked(
      {
        publish: async (thingName: string, answer: RotationAnswer) => {
          await publishJson(data, certificateTopic(thingName), answer);
          answers.push(answer);
        },
      },
      'answer',
    ).publish,
    timeline: checked(bindCalls({ client: documents, tableName: stack.deployed.timelineTableName }, { append: appendTimelineEvent }), 'timeline'),
    settings: { devicePolicyName: stack.deployed.devicePolicyName, functionName: 'rotateCertificate' },
    now: () => new Date(),
    log: { debug() {}, info() {}, warn() {}, error() {} },
  };
}

/** A JITR device with a rotation `queued` and its job execution IN_PROGRESS (taken over MQTT). */
async function deviceInRotation(thing: string, jobId: string) {
  const device = await stack.device(thing, { registry: 'allow' });
  const identity = { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem };
  const first = await connectOnce(endpoint, identity, thing);
  if (first.client) await disconnect(first.client);
  await stack.core.idle();
  const at = new Date().toISOString();
  await createDocumentClient().send(
    new UpdateCommand({
      TableName: stack.deployed.tableName,
      Key: { deviceId: thing },
      UpdateExpression: 'SET rotation = :rotation',
      ConditionExpression: 'certificateId = :certificateId AND bindingState = :bound',
      ExpressionAttributeValues: { ':rotation': { jobId, state: 'queued', startedAt: at, updatedAt: at, previousCertificateId: device.certificateId }, ':certificateId': device.certificateId, ':bound': 'bound' },
    }),
  );
  const thingArn = stack.core.registry.account(stack.accountId).arn(`thing/${thing}`);
  await stack.iot.send(new CreateJobCommand({ jobId, targets: [thingArn], document: JSON.stringify({ operation: 'rotate-certificate', keyAlgorithm: 'EC-P256' }) }));
  const { client } = await connectOnce(endpoint, identity, thing);
  await publishAcknowledged(client!, `$aws/things/${thing}/jobs/start-next`, JSON.stringify({ clientToken: 'start' }));
  for (let i = 0; (await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }))).execution?.status !== 'IN_PROGRESS'; i++) {
    if (i > 100) throw new Error(`${jobId} never became IN_PROGRESS for ${thing}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await disconnect(client!);
  return device;
}

describe('the rotation CSR step, crashed after each step, then retried', () => {
  it.each(STEPS)('converges after a crash right after %s', async (step) => {
    const index = STEPS.indexOf(step);
    const thing = `ROT-CRASH-${index}`;
    const jobId = `rotate-crash-${index}`;
    const device = await deviceInRotation(thing, jobId);
    const policy = stack.deployed.devicePolicyName;
    const { csrPem, privateKeyPem } = await createCsr({ commonName: thing, serialNumber: thing });
    const newKey = createPrivateKey(privateKeyPem);
    const before = new Set(certificates(stack.core).map((c) => c.certificateId));
    const violations: string[] = [];
    // At every step: the old certificate still works for the device (ACTIVE, its thing's, the policy's), and
    // no certificate is ACTIVE without a thing and the policy.
    const check = () => {
      const old = certificatesOf(stack.core, thing).find((c) => c.certificateId === device.certificateId);
      if (!old || old.status !== 'ACTIVE' || !old.policies.includes(policy)) violations.push(`old certificate not usable: ${JSON.stringify(old)}`);
      if (orphans(stack.core, policy).length) violations.push(`ACTIVE orphans: ${JSON.stringify(orphans(stack.core, policy))}`);
    };
    const event = { thingName: thing, jobId, clientToken: 'tok', csr: csrPem, principal: device.certificateId, clientId: thing };
    const answers: RotationAnswer[] = [];

    await expect(issueRotationCertificate(event, container(step, check, answers))).rejects.toThrow(InjectedCrash);
    const retried = await issueRotationCertificate(event, container(undefined, check, answers));

    expect(violations).toEqual([]);
    expect(retried.outcome).toBe('issued');
    const newId = (retried as { certificateId: string }).certificateId;
    const made = certificates(stack.core).filter((c) => !before.has(c.certificateId));
    const usable = made.filter((c) => c.status === 'ACTIVE');
    expect(usable).toEqual([{ certificateId: newId, status: 'ACTIVE', things: [thing], policies: [policy] }]);
    const pem = (await stack.iot.send(new DescribeCertificateCommand({ certificateId: newId }))).certificateDescription!.certificatePem!;
    expect(new X509Certificate(pem).checkPrivateKey(newKey)).toBe(true);
    const leftOver = made.filter((c) => c.certificateId !== newId);
    expect(leftOver).toHaveLength(step === 'iot.createCertificateFromCsr' ? 1 : 0);
    for (const orphan of leftOver) expect(orphan).toMatchObject({ status: 'INACTIVE', things: [], policies: [] });
    // The answer the device keeps is the same certificate whenever it was sent.
    expect(answers.length).toBeGreaterThanOrEqual(1);
    for (const answer of answers) expect(answer).toMatchObject({ jobId, clientToken: 'tok', certificateId: newId });
    const entry = await stack.registry.get(thing);
    expect(entry).toMatchObject({ certificateId: device.certificateId, bindingState: 'bound', rotation: { state: 'issued', newCertificateId: newId } });
    const events = (await listTimelineEvents({ client: createDocumentClient(), tableName: stack.deployed.timelineTableName }, thing)).filter((e) => e.type === 'rotation-issued');
    expect(events).toHaveLength(1);
  }, 60_000);
});
