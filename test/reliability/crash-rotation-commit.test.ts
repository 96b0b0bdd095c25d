import { X509Certificate, createPrivateKey } from 'node:crypto';
import { AttachPolicyCommand, AttachThingPrincipalCommand, CreateCertificateFromCsrCommand, CreateThingCommand, DescribeCertificateCommand } from '@aws-sdk/client-iot';
import { createCsr } from '../../lib/pki';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient, createIotClient, createSqsClient } from '../../shared/aws/clients';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { detachThingPrincipal, listPrincipalThings } from '../../shared/aws/iot/things';
import { claimDevice, getDevice, markBound } from '../../shared/aws/registry/entries';
import {
  commitRotation,
  recordRotationConnected,
  recordRotationJobStatus,
  recordRotationRetirementScheduled,
  rollBackRotation,
} from '../../shared/aws/registry/rotation-commit';
import { SqsRetirementQueue } from '../../shared/aws/retirement-queue';
import { appendTimelineEvent, listTimelineEvents } from '../../shared/aws/timeline/events';
import { handleRotationSignal, type RotationCommitDeps, type RotationSignal } from '../../shared/rotation/commit';
import { writeIssuedRotation } from '../support/rotation-state';
import type { Retirement } from '../../shared/provisioning/retirement-port';
import { FaultInjector, InjectedCrash } from '../support/fault-injection';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { certificatesOf } from './invariants';

/**
 * The rotation's commit (S2) and roll back (S3) when the function dies right after any step — nothing it would
 * have done next happens — and Lambda's async retry runs the same event again in a fresh container (at most 2
 * retries, serverless.yml). Real adapters against the local IoT Core and DynamoDB. After every crash and at the
 * end, the device has an ACTIVE certificate attached to its thing whose private key it holds, and the registry's
 * binding names one such certificate; the retry converges to the same end as a run without a crash, with each
 * timeline event written once.
 */

let stack: LocalStack;
const documents = createDocumentClient();
const iotClient = createIotClient({ maxAttempts: 3 });
const GRACE = 900;

beforeAll(async () => {
  stack = await startLocalStack();
});

afterAll(async () => {
  await stack.close();
});

type Step = `${'iot' | 'registry' | 'retirements' | 'timeline'}.${string}`;

/** One rotationEvents "container", as functions/rotation-events/handler.ts builds it, with a crash after `step`. */
function container(fault: { step: Step } | undefined, scheduled: Retirement[]): { deps: RotationCommitDeps; faults: FaultInjector } {
  const faults = new FaultInjector(fault ? { step: fault.step, how: 'crash' } : undefined);
  const registryTable = { client: documents, tableName: stack.deployed.tableName };
  const queue = new SqsRetirementQueue(createSqsClient({ maxAttempts: 3 }), `${stack.deployed.stack.service}-${stack.deployed.stack.stage}-retirements`);
  const deps: RotationCommitDeps = {
    iot: faults.wrap(iotCalls(iotClient, { describeCertificate, updateCertificateStatus, listPrincipalThings, detachThingPrincipal }), 'iot'),
    registry: faults.wrap(
      bindCalls(registryTable, {
        get: getDevice,
        claim: claimDevice,
        markBound,
        recordConnected: recordRotationConnected,
        recordJobStatus: recordRotationJobStatus,
        commit: commitRotation,
        recordRetirementScheduled: recordRotationRetirementScheduled,
        rollBack: rollBackRotation,
      }),
      'registry',
    ),
    retirements: faults.wrap(
      { schedule: async (retirement: Retirement, delay: number) => (await queue.schedule(retirement, delay), void scheduled.push(retirement)) },
      'retirements',
    ),
    timeline: faults.wrap(bindCalls({ client: documents, tableName: stack.deployed.timelineTableName }, { append: appendTimelineEvent }), 'timeline'),
    retireGraceSeconds: GRACE,
    actor: { kind: 'function', id: 'rotationEvents' },
    now: () => new Date(),
    log: { debug() {}, info() {}, warn() {}, error() {} },
  };
  return { deps, faults };
}

interface Pair {
  certificateId: string;
  certificateArn: string;
  privateKeyPem: string;
}

/** A certificate for the device's own key (CreateCertificateFromCsr), ACTIVE, on its thing with the device policy. */
async function attachedCertificate(deviceId: string): Promise<Pair> {
  const csr = await createCsr({ serialNumber: deviceId });
  const made = await stack.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr.csrPem, setAsActive: true }));
  await stack.iot.send(new AttachPolicyCommand({ policyName: stack.deployed.devicePolicyName, target: made.certificateArn! }));
  await stack.iot.send(new AttachThingPrincipalCommand({ thingName: deviceId, principal: made.certificateArn! }));
  return { certificateId: made.certificateId!, certificateArn: made.certificateArn!, privateKeyPem: csr.privateKeyPem };
}

/** A bound device (old certificate) with an `issued` rotation to a new one: both ACTIVE and attached. */
async function issuedRotation(deviceId: string, jobId: string): Promise<{ old: Pair; next: Pair; keys: Map<string, string> }> {
  await stack.registry.allow(deviceId, {}, new Date());
  await stack.iot.send(new CreateThingCommand({ thingName: deviceId }));
  const old = await attachedCertificate(deviceId);
  await stack.registry.claim(deviceId, old.certificateId, { at: new Date() });
  await stack.registry.markBound(deviceId, old.certificateId, deviceId, new Date());
  const next = await attachedCertificate(deviceId);
  await writeIssuedRotation(documents, stack.deployed.tableName, deviceId, {
    jobId,
    previousCertificateId: old.certificateId,
    newCertificateId: next.certificateId,
    newCertificateArn: next.certificateArn,
  });
  return { old, next, keys: new Map([[old.certificateId, old.privateKeyPem], [next.certificateId, next.privateKeyPem]]) };
}

/**
 * The invariant: the certificate the registry binds is ACTIVE, attached to the thing, and its key is one the
 * device holds — so the device can connect, whatever step the crash came after.
 */
async function expectWorkingCertificate(deviceId: string, keys: Map<string, string>) {
  const entry = await stack.registry.get(deviceId);
  const bound = entry!.certificateId!;
  expect(keys.has(bound)).toBe(true);
  const attachedActive = certificatesOf(stack.core, deviceId).filter((c) => c.status === 'ACTIVE').map((c) => c.certificateId);
  expect(attachedActive).toContain(bound);
  const pem = (await stack.iot.send(new DescribeCertificateCommand({ certificateId: bound }))).certificateDescription!.certificatePem!;
  expect(new X509Certificate(pem).checkPrivateKey(createPrivateKey(keys.get(bound)!))).toBe(true);
}

/** The event, first in a container that crashes after `step`, then Lambda's retries (each a fresh container) until one returns. */
async function throughCrash(signal: RotationSignal, step: Step, keys: Map<string, string>, scheduled: Retirement[]) {
  const crashing = container({ step }, scheduled);
  await expect(handleRotationSignal(signal, crashing.deps)).rejects.toThrow(InjectedCrash);
  expect(crashing.faults.crashed).toBe(true);
  await expectWorkingCertificate(signal.deviceId, keys);
  for (let retry = 1; ; retry++) {
    try {
      return await handleRotationSignal(signal, container(undefined, scheduled).deps);
    } catch (error) {
      if (retry >= 2) throw error;
    }
  }
}

const connected = (deviceId: string, principalIdentifier: string): RotationSignal => ({ kind: 'connected', deviceId, principalIdentifier, at: new Date() });
const jobEvent = (deviceId: string, jobId: string, status: string): RotationSignal => ({ kind: 'job-execution', deviceId, jobId, status, statusDetails: {}, at: new Date() });
const timelineOf = (deviceId: string) => listTimelineEvents({ client: documents, tableName: stack.deployed.timelineTableName }, deviceId);

describe('a crash after each commit step (S2), then the retry', () => {
  it.each<[Step, 'connected-second' | 'succeeded-second']>([
    ['registry.recordConnected', 'connected-second'],
    ['registry.recordJobStatus', 'succeeded-second'],
    ['registry.claim', 'succeeded-second'],
    ['registry.markBound', 'succeeded-second'],
    ['registry.commit', 'succeeded-second'],
    ['timeline.append', 'succeeded-second'],
    ['retirements.schedule', 'connected-second'],
    ['registry.recordRetirementScheduled', 'succeeded-second'],
  ])('converges to committed after a crash after %s (%s)', async (step, order) => {
    const deviceId = `RC-S2-${step.replace('.', '-')}`;
    const jobId = `rotate-crash-${deviceId}`;
    const { old, next, keys } = await issuedRotation(deviceId, jobId);
    const scheduled: Retirement[] = [];
    const [first, second] =
      order === 'connected-second' ? [jobEvent(deviceId, jobId, 'SUCCEEDED'), connected(deviceId, next.certificateId)] : [connected(deviceId, next.certificateId), jobEvent(deviceId, jobId, 'SUCCEEDED')];
    expect(await handleRotationSignal(first, container(undefined, scheduled).deps)).toEqual({ outcome: 'recorded' });
    await expectWorkingCertificate(deviceId, keys);

    const result = await throughCrash(second, step, keys, scheduled);

    // The retry finishes the commit itself, or finds it committed and finishes what the crash left.
    expect(['committed', 'ignored']).toContain(result.outcome);
    const entry = await stack.registry.get(deviceId);
    expect(entry).toMatchObject({ certificateId: next.certificateId, bindingState: 'bound', thingName: deviceId });
    expect(entry!.rotation).toMatchObject({ state: 'committed', jobStatus: 'SUCCEEDED' });
    expect(entry!.rotation!.retirementScheduledAt).toBeDefined();
    expect(entry!.rotation!.newConnectedAt).toBeDefined();
    expect(scheduled.length).toBeGreaterThanOrEqual(1);
    expect(new Set(scheduled.map((r) => r.certificateId))).toEqual(new Set([old.certificateId]));
    expect((await timelineOf(deviceId)).filter((e) => e.type === 'rotation-committed')).toHaveLength(1);
    await expectWorkingCertificate(deviceId, keys);
    // The old certificate stays ACTIVE and attached until the retirement's grace is over (900 s, which the local
    // SQS runs 1,000× faster: a slow run may already see it retired — by the retirement only, after the commit).
    const oldNow = await stack.describe(old.certificateId);
    // (mid-retirement it is detached first, then set INACTIVE)
    if (oldNow.status === 'ACTIVE') expect([[deviceId], []]).toContainEqual(oldNow.things);
    else expect(oldNow).toMatchObject({ status: 'INACTIVE', things: [] });
  });
});

describe('a crash after each roll-back step (S3), then the retry', () => {
  it.each<Step>(['iot.updateCertificateStatus', 'iot.detachThingPrincipal', 'registry.rollBack', 'timeline.append'])(
    'converges to rolled back after a crash after %s: new REVOKED and detached, old and binding untouched',
    async (step) => {
      const deviceId = `RC-S3-${step.replace('.', '-')}`;
      const jobId = `rotate-crash-${deviceId}`;
      const { old, next, keys } = await issuedRotation(deviceId, jobId);
      const scheduled: Retirement[] = [];

      const result = await throughCrash(jobEvent(deviceId, jobId, 'FAILED'), step, keys, scheduled);

      expect(['rolled-back', 'ignored']).toContain(result.outcome);
      const entry = await stack.registry.get(deviceId);
      expect(entry).toMatchObject({ certificateId: old.certificateId, bindingState: 'bound' });
      expect(entry!.rotation).toMatchObject({ state: 'rolled-back', reason: 'FAILED' });
      expect(await stack.describe(next.certificateId)).toMatchObject({ status: 'REVOKED', things: [] });
      expect(await stack.describe(old.certificateId)).toMatchObject({ status: 'ACTIVE', things: [deviceId] });
      expect((await timelineOf(deviceId)).filter((e) => e.type === 'rotation-rolled-back')).toHaveLength(1);
      expect(scheduled).toEqual([]);
      await expectWorkingCertificate(deviceId, keys);
    },
  );
});
