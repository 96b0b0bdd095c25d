import { readCertificateFacts } from '../certificates/certificate-facts';
import { CsrUnreadableError, readCsrFacts, type CsrFacts } from '../certificates/csr';
import { keyRejection } from '../admission/admit';
import type { Log } from '../log';
import { NO_METRICS, type Metrics } from '../metrics-port';
import type { Timeline } from '../lifecycle/ports';
import type { CertificateRecord, IssuedCertificate, SettableCertificateStatus } from '../provisioning/iot-ports';
import type { DeviceEntry } from '../registry/device-entry';
import type { RotationCsrEvent } from '../schemas/rotation-csr-event';
import { OPEN_ROTATION_STATES, ROTATION_JOB_PREFIX, type RefusalReason, type Rotation } from './model';

/**
 * S1 of the rotation (docs/rotation-design.md §1 "S1 CSR received"): a device's CSR for its rotation job,
 * admitted in the design's order, then made into a certificate that is attached to the thing and the device
 * policy and activated **last**, recorded `issued` and sent back on `device/<thing>/rotation/certificate`.
 * The old certificate is left as it is (ACTIVE, attached, bound). Every step reads what the registry recorded
 * and does only what is missing, so a retry (Lambda's, or the agent's re-sent CSR with the same clientToken)
 * converges on the same certificate; CreateCertificateFromCsr runs only while no `newCertificateId` is
 * recorded, because it is not idempotent ("Reusing the same certificate signing request (CSR) results in a
 * distinct certificate", https://docs.aws.amazon.com/iot/latest/apireference/API_CreateCertificateFromCsr.html).
 */

/** The answer on the device's certificate topic (protocol §3.4). */
export type RotationAnswer =
  | { jobId: string; clientToken: string; certificatePem: string; certificateId: string }
  | { jobId: string; clientToken: string; error: { reason: RefusalReason; message: string } };

/** A job execution as DescribeJobExecution describes it; `undefined` when the thing has none for the job. */
export interface JobExecutionFacts {
  status: string;
}

export interface RotationIssueIot {
  describeCertificate(certificateId: string): Promise<CertificateRecord | undefined>;
  createCertificateFromCsr(csrPem: string): Promise<IssuedCertificate>;
  attachPolicy(policyName: string, certificateArn: string): Promise<void>;
  attachThingPrincipal(thingName: string, certificateArn: string): Promise<void>;
  updateCertificateStatus(certificateId: string, status: SettableCertificateStatus): Promise<void>;
  describeJobExecution(jobId: string, thingName: string): Promise<JobExecutionFacts | undefined>;
}

/** The conditional writes of the CSR step (shared/aws/registry/rotation-issue.ts): each `'changed'` when the rotation is not in the expected state. */
export interface RotationIssueRegistry {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  /** `queued` → `issuing` with the CSR's clientToken and key. */
  beginIssue(deviceId: string, intent: { jobId: string; clientToken: string; newKeySha256: string; at: Date }): Promise<'done' | 'changed'>;
  /** The new certificate's id and ARN, once (condition: none recorded, or this one). */
  recordNewCertificate(deviceId: string, issued: { jobId: string; newKeySha256: string; certificateId: string; certificateArn: string; at: Date }): Promise<'done' | 'changed'>;
  /** `issuing` → `issued` (or `issued` already): the rotation as written, whose `issuedAt` was set once. */
  markIssued(deviceId: string, issued: { jobId: string; certificateId: string; at: Date }): Promise<Rotation | 'changed'>;
  /** `queued` → `refused` with the reason. */
  recordRefusal(deviceId: string, refusal: { jobId: string; reason: RefusalReason; at: Date }): Promise<'done' | 'changed'>;
}

export interface RotationIssueDeps {
  iot: RotationIssueIot;
  registry: RotationIssueRegistry;
  /** iot-data Publish, QoS 1, of the answer to `device/<thing>/rotation/certificate`. */
  answer(thingName: string, answer: RotationAnswer): Promise<void>;
  timeline?: Timeline;
  metrics?: Metrics;
  settings: { devicePolicyName: string; functionName: string };
  now: () => Date;
  log: Log;
}

export type RotationIssueResult =
  | { outcome: 'issued'; certificateId: string; resent: boolean }
  | { outcome: 'refused'; reason: RefusalReason; recorded: boolean };

/** The registry changed under a write; Lambda's retry decides again from what is recorded. */
export class RotationConflictError extends Error {
  override name = 'RotationConflictError';
}

class Refusal {
  constructor(
    readonly reason: RefusalReason,
    readonly message: string,
    /**
     * Whether the refusal closes the rotation (recorded `refused`): only a refusal of the CSR itself, sent by the
     * proven device. Identity and status refusals do not (the requester is not proven to be the device, or an
     * operator's state decides), nor does `no-rotation` (about the job's state, which a timely retry may find
     * IN_PROGRESS).
     */
    readonly closes: boolean,
  ) {}
}

interface Admitted {
  entry: DeviceEntry & { certificateId: string };
  rotation: Rotation;
  csr: CsrFacts;
  csrPem: string;
}

/**
 * Admission, in the design's order. Identity first: the item is bound and the thing of the topic, the
 * registry and the MQTT client id are one (`not-bound`); then the lifecycle status; then the principal is the
 * bound certificate (the CSR came over the device's current connection); then the rotation is this job's and
 * its execution is IN_PROGRESS (`no-rotation`); then the CSR itself (`malformed-csr`, `subject-mismatch`,
 * `weak-key`, `key-reused`).
 */
async function admit(event: RotationCsrEvent, entry: DeviceEntry | undefined, deps: RotationIssueDeps): Promise<Admitted | Refusal> {
  const thing = event.thingName;
  if (!entry || entry.bindingState !== 'bound' || !entry.certificateId || entry.thingName !== thing || event.clientId !== thing) {
    return new Refusal('not-bound', `${thing} is not a provisioned device on this connection`, false);
  }
  // `blocked` is an operator's refusal to let the device provision at all: such a device is not a provisioned
  // device (protocol §3.4 `not-bound`), and it is neither suspended (resumable) nor retired.
  if (entry.status === 'blocked') return new Refusal('not-bound', `${thing} is blocked`, false);
  if (entry.status === 'suspended') return new Refusal('suspended', `${thing} is suspended`, false);
  if (entry.status === 'retired') return new Refusal('retired', `${thing} is retired`, false);
  // An absent principal (a publish that did not come over a device connection) is refused like another one.
  if (event.principal === undefined || event.principal.toLowerCase() !== entry.certificateId.toLowerCase()) {
    return new Refusal('not-bound', `the CSR did not come over ${thing}'s current certificate`, false);
  }
  const bound = entry as DeviceEntry & { certificateId: string };
  const rotation = entry.rotation;
  if (!rotation || rotation.jobId !== event.jobId || !event.jobId.startsWith(ROTATION_JOB_PREFIX)) {
    return new Refusal('no-rotation', `no rotation ${event.jobId} for ${thing}`, false);
  }
  if (!OPEN_ROTATION_STATES.has(rotation.state)) return new Refusal('no-rotation', `rotation ${event.jobId} of ${thing} is ${rotation.state}`, false);
  const execution = await deps.iot.describeJobExecution(event.jobId, thing);
  if (execution?.status !== 'IN_PROGRESS') {
    return new Refusal('no-rotation', `job ${event.jobId} is ${execution?.status ?? 'not'} in progress for ${thing}`, false);
  }
  if (typeof event.csr !== 'string') return new Refusal('malformed-csr', 'csr must be a PEM certificate signing request', true);
  let csr: CsrFacts;
  try {
    csr = readCsrFacts(event.csr);
  } catch (error) {
    if (!(error instanceof CsrUnreadableError)) throw error;
    return new Refusal('malformed-csr', error.message, true);
  }
  const { commonName, serialNumber } = csr.subject;
  if (commonName.length !== 1 || commonName[0] !== thing || serialNumber.length !== 1 || serialNumber[0] !== thing) {
    return new Refusal('subject-mismatch', `the subject must be CN=${thing}, serialNumber=${thing}`, true);
  }
  // The shared admission's key rules: RSA ≥ 2048 or EC P-256/P-384, which are also the keys
  // CreateCertificateFromCsr accepts (API reference above).
  const weak = keyRejection(csr.key);
  if (weak) return new Refusal('weak-key', `the key is not acceptable (${weak}): RSA ≥ 2048 or EC P-256/P-384`, true);
  const current = await deps.iot.describeCertificate(bound.certificateId);
  if (!current) throw new Error(`the bound certificate ${bound.certificateId} of ${thing} does not exist`);
  if (readCertificateFacts(current.certificatePem).publicKeySha256 === csr.publicKeySha256) {
    return new Refusal('key-reused', 'the CSR has the key of the current certificate: make a new key', true);
  }
  return { entry: bound, rotation, csr, csrPem: event.csr };
}

export async function issueRotationCertificate(event: RotationCsrEvent, deps: RotationIssueDeps): Promise<RotationIssueResult> {
  const { thingName: thing, jobId, clientToken } = event;
  const entry = await deps.registry.get(thing);
  // A refusal already recorded for this job answers a re-sent CSR the same way (and writes its timeline
  // event again, should a crash have come between the two).
  if (entry?.rotation?.jobId === jobId && entry.rotation.state === 'refused' && event.principal === entry.certificateId) {
    return refuse(event, new Refusal((entry.rotation.reason ?? 'no-rotation') as RefusalReason, `rotation ${jobId} was refused`, true), deps, entry.rotation);
  }
  const admitted = await admit(event, entry, deps);
  if (admitted instanceof Refusal) return refuse(event, admitted, deps, entry?.rotation);

  let rotation = admitted.rotation;
  const newKeySha256 = admitted.csr.publicKeySha256;
  if (rotation.state === 'queued') {
    if ((await deps.registry.beginIssue(thing, { jobId, clientToken, newKeySha256, at: deps.now() })) === 'changed') {
      throw new RotationConflictError(`rotation ${jobId} of ${thing} changed while its CSR was admitted`);
    }
    rotation = { ...rotation, state: 'issuing', clientToken, newKeySha256 };
  } else if (rotation.newKeySha256 !== newKeySha256) {
    // The agent changes key only after a failed rotation, which closes this one (design §1 S1.2).
    return refuse(event, new Refusal('no-rotation', `rotation ${jobId} of ${thing} is ${rotation.state} for another key`, false), deps, rotation);
  }

  let created: IssuedCertificate | undefined;
  let certificateId = rotation.newCertificateId;
  let certificateArn = rotation.newCertificateArn;
  if (!certificateId || !certificateArn) {
    created = await deps.iot.createCertificateFromCsr(admitted.csrPem);
    // Recorded at once: a crash before this line leaves an INACTIVE certificate with no thing and no policy
    // (it cannot connect; design §1 crash table), after it the retry reuses this one.
    const recorded = await deps.registry.recordNewCertificate(thing, { jobId, newKeySha256, certificateId: created.certificateId, certificateArn: created.certificateArn, at: deps.now() });
    if (recorded === 'changed') {
      deps.log.warn('rotation certificate left unused: another invocation recorded its own', { orphanCertificateId: created.certificateId, jobId });
      throw new RotationConflictError(`rotation ${jobId} of ${thing} recorded another certificate meanwhile`);
    }
    ({ certificateId, certificateArn } = created);
  }

  if (rotation.state !== 'issued') {
    await deps.iot.attachPolicy(deps.settings.devicePolicyName, certificateArn);
    // The thing keeps its current certificate attached too: both work until the commit (design §1 S1.4).
    await deps.iot.attachThingPrincipal(thing, certificateArn);
    // Activation last, as bind-certificate does: before it, the new certificate cannot connect.
    await deps.iot.updateCertificateStatus(certificateId, 'ACTIVE');
    const written = await deps.registry.markIssued(thing, { jobId, certificateId, at: deps.now() });
    if (written === 'changed') {
      // Rolled back (S3) or closed by a suspension or retirement while this step ran: the roll-back may have
      // revoked the certificate before this step activated it, so it is revoked again here (fail closed; the
      // retry then answers no-rotation). The device keeps its current certificate.
      await deps.iot.updateCertificateStatus(certificateId, 'REVOKED');
      throw new RotationConflictError(`rotation ${jobId} of ${thing} changed before it was issued; certificate ${certificateId} revoked`);
    }
    rotation = written;
  }
  await appendIssued(deps, thing, rotation, certificateId, entry?.pinnedKeySha256 !== undefined);

  const certificatePem = created?.certificatePem ?? (await deps.iot.describeCertificate(certificateId))?.certificatePem;
  if (!certificatePem) throw new Error(`rotation certificate ${certificateId} of ${thing} does not exist`);
  await deps.answer(thing, { jobId, clientToken, certificatePem, certificateId });
  deps.log.info('rotation certificate issued', { jobId, newCertificateId: certificateId, resent: !created });
  if (created) (deps.metrics ?? NO_METRICS).count('Rotations', { outcome: 'issued', reason: 'none' });
  return { outcome: 'issued', certificateId, resent: !created };
}

/** The `rotation-issued` event, at the recorded `issuedAt` and keyed by job and state: a retry writes it once. */
async function appendIssued(deps: RotationIssueDeps, thing: string, rotation: Rotation, certificateId: string, pinned: boolean): Promise<void> {
  if (!deps.timeline) return;
  await deps.timeline.append({
    deviceId: thing,
    at: new Date(rotation.issuedAt ?? rotation.updatedAt),
    type: 'rotation-issued',
    actor: { kind: 'function', id: deps.settings.functionName },
    certificateId,
    // A pinned key is admitted here; the pin moves to the new key at the commit (design §1 S1.1).
    detail: `job ${rotation.jobId}${pinned ? '; the pinned key moves to the new key at the commit' : ''}`,
    key: `${rotation.jobId}#issued`,
  });
}

async function refuse(event: RotationCsrEvent, refusal: Refusal, deps: RotationIssueDeps, rotation: Rotation | undefined): Promise<RotationIssueResult> {
  const { thingName: thing, jobId, clientToken } = event;
  let recorded = false;
  // Recorded only for the device's own open rotation of this job with no certificate made yet (`queued`):
  // once a certificate exists, S3 (roll back) closes the rotation, not a refused CSR.
  const mayRecord = refusal.closes && rotation?.jobId === jobId && (rotation.state === 'queued' || rotation.state === 'refused');
  if (mayRecord && deps.timeline) {
    let at = deps.now();
    if (rotation.state === 'queued') {
      recorded = (await deps.registry.recordRefusal(thing, { jobId, reason: refusal.reason, at })) === 'done';
    } else {
      at = new Date(rotation.updatedAt);
      recorded = true;
    }
    if (recorded) {
      await deps.timeline.append({
        deviceId: thing,
        at,
        type: 'rotation-refused',
        actor: { kind: 'function', id: deps.settings.functionName },
        reason: refusal.reason,
        detail: refusal.message,
        key: `${jobId}#refused`,
      });
    }
  } else if (mayRecord && rotation.state === 'queued') {
    recorded = (await deps.registry.recordRefusal(thing, { jobId, reason: refusal.reason, at: deps.now() })) === 'done';
  }
  await deps.answer(thing, { jobId, clientToken, error: { reason: refusal.reason, message: refusal.message } });
  deps.log.info('rotation CSR refused', { jobId, reason: refusal.reason, recorded });
  (deps.metrics ?? NO_METRICS).count('Rotations', { outcome: 'refused', reason: refusal.reason });
  return { outcome: 'refused', reason: refusal.reason, recorded };
}
