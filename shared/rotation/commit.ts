import { boundFacts, claimDevice, BindingConflictError, type RetiringIot } from '../provisioning/bind-certificate';
import type { RetirementQueue } from '../provisioning/retirement-port';
import type { DeviceRegistry } from '../registry/ports';
import type { DeviceEntry } from '../registry/device-entry';
import type { Actor, Timeline } from '../lifecycle/ports';
import type { Log } from '../log';
import { NO_METRICS, type Metrics } from '../metrics-port';
import { OPEN_ROTATION_STATES, ROLLBACK_JOB_STATUSES, type Rotation, type RotationStateName } from './model';

/**
 * Certificate rotation, S2 commit and S3 roll back (docs/rotation-design.md §1), over ports. Two signals commit a
 * rotation, each recorded when seen and in any order: the new certificate has connected (a lifecycle event whose
 * `principalIdentifier` is `rotation.newCertificateId`) and the job execution is SUCCEEDED (a Jobs event). The
 * one that arrives second moves the binding to the new certificate (claim, then markBound: the registry's
 * conditional writes decide races), marks the rotation committed, and schedules the old certificate's
 * retirement. A job execution that ends otherwise (FAILED, REJECTED, TIMED_OUT, CANCELED, REMOVED) rolls the
 * rotation back: the new certificate is revoked and detached; the old one and the binding are never touched.
 *
 * Every step reads the entry and does only what is missing, so the Lambda retry of an event after a crash at
 * any step converges; the timeline events are keyed `<jobId>#<state>` at the transition's recorded time, so a
 * retry writes each once. At every step the device keeps an ACTIVE, attached certificate whose key it holds:
 * the old one until the binding has moved, the new one (which connected) after.
 */

/** Lifecycle events arrive late, duplicated or out of order (life-cycle-events.html): only the fact counts. */
export interface ConnectedSignal {
  kind: 'connected';
  deviceId: string;
  principalIdentifier: string;
  at: Date;
}

export interface JobExecutionSignal {
  kind: 'job-execution';
  deviceId: string;
  jobId: string;
  status: string;
  statusDetails: Record<string, string>;
  at: Date;
}

export type RotationSignal = ConnectedSignal | JobExecutionSignal;

/** The registry writes of S2/S3 (`shared/aws/registry/rotation-commit.ts`): `'changed'` when the entry moved meanwhile. */
export interface RotationCommitRegistry extends Pick<DeviceRegistry, 'get' | 'claim' | 'markBound'> {
  /** The two signals' writes answer with the rotation after the write, so that of two at once the later sees both. */
  recordConnected(deviceId: string, input: { jobId: string; newCertificateId: string; at: Date }): Promise<Rotation | 'changed'>;
  recordJobStatus(deviceId: string, input: { jobId: string; expected: RotationStateName; jobStatus: string; at: Date }): Promise<Rotation | 'changed'>;
  /** `movePinTo`: a device with a factory-pinned key keeps a pin, now on the rotated key (its old key is retired). */
  commit(deviceId: string, input: { jobId: string; newCertificateId: string; movePinTo?: string; at: Date }): Promise<'done' | 'changed'>;
  recordRetirementScheduled(deviceId: string, input: { jobId: string; at: Date }): Promise<'done' | 'changed'>;
  rollBack(deviceId: string, input: { jobId: string; expected: RotationStateName; reason: string; jobStatus?: string; at: Date }): Promise<'done' | 'changed'>;
}

export interface RotationCommitDeps {
  registry: RotationCommitRegistry;
  iot: RetiringIot;
  retirements: RetirementQueue;
  timeline?: Timeline;
  /** How long the old certificate keeps working after the commit (RETIRE_GRACE_SECONDS, at most 900). */
  retireGraceSeconds: number;
  actor: Actor;
  metrics?: Metrics;
  now: () => Date;
  log: Log;
}

export type SignalOutcome =
  | { outcome: 'recorded' }
  | { outcome: 'committed' }
  | { outcome: 'rolled-back'; reason: string }
  | { outcome: 'ignored'; reason: 'no-rotation' | 'other-job' | 'other-principal' | 'not-issued' | 'terminal' | 'not-a-signal' };

/** Another writer kept changing the entry: Lambda retries the event (async invocation). */
export class RotationContentionError extends Error {
  override name = 'RotationContentionError';
}

/** Each conditional write that finds the entry changed reads it again; a few rounds settle any real race. */
const ROUNDS = 5;

export async function handleRotationSignal(signal: RotationSignal, deps: RotationCommitDeps): Promise<SignalOutcome> {
  for (let round = 0; round < ROUNDS; round++) {
    const result = await step(signal, deps);
    if (result !== 'changed') return result;
  }
  throw new RotationContentionError(`rotation of ${signal.deviceId} kept changing while its ${signal.kind} signal was handled`);
}

async function step(signal: RotationSignal, deps: RotationCommitDeps): Promise<SignalOutcome | 'changed'> {
  const entry = await deps.registry.get(signal.deviceId);
  const rotation = entry?.rotation;
  if (!entry || !rotation) return { outcome: 'ignored', reason: 'no-rotation' };
  if (signal.kind === 'job-execution' && signal.jobId !== rotation.jobId) return { outcome: 'ignored', reason: 'other-job' };
  if (signal.kind === 'connected' && signal.principalIdentifier !== rotation.newCertificateId) {
    // The old certificate reconnecting (or any other principal) says nothing about the rotation.
    return { outcome: 'ignored', reason: 'other-principal' };
  }
  if (!OPEN_ROTATION_STATES.has(rotation.state)) {
    // Terminal: late events change nothing; only what a crash left undone after the transition is finished.
    await finishTerminal(entry, rotation, deps);
    return { outcome: 'ignored', reason: 'terminal' };
  }

  // A device suspended or retired before the commit never commits (fail closed).
  if (entry.status === 'suspended' || entry.status === 'retired') return rollBack(entry, rotation, entry.status, undefined, deps);

  let current = rotation;
  if (signal.kind === 'job-execution') {
    if (ROLLBACK_JOB_STATUSES.has(signal.status)) return rollBack(entry, rotation, reasonOf(signal), signal.status, deps);
    if (signal.status !== 'SUCCEEDED') return { outcome: 'ignored', reason: 'not-a-signal' };
    if (rotation.jobStatus !== 'SUCCEEDED') {
      const written = await deps.registry.recordJobStatus(entry.deviceId, { jobId: rotation.jobId, expected: rotation.state, jobStatus: 'SUCCEEDED', at: deps.now() });
      if (written === 'changed') return 'changed';
      current = written;
    }
  } else {
    // Only an issued certificate can have connected for this rotation (the device gets it after `issued`).
    if (rotation.state !== 'issued') return { outcome: 'ignored', reason: 'not-issued' };
    if (!rotation.newConnectedAt) {
      const written = await deps.registry.recordConnected(entry.deviceId, { jobId: rotation.jobId, newCertificateId: signal.principalIdentifier, at: signal.at });
      if (written === 'changed') return 'changed';
      current = written;
    }
  }

  // Whichever signal is written second commits (its write saw the other's). SUCCEEDED alone never does: the device keeps both certificates
  // ACTIVE until it connects with the new one (design §1 S2, "never without one").
  if (current.state === 'issued' && current.newConnectedAt && current.jobStatus === 'SUCCEEDED') return commit(entry, current, deps);
  return { outcome: 'recorded' };
}

/** `FAILED: new-certificate-refused` when the device said why (protocol §4), else the status alone. */
function reasonOf(signal: JobExecutionSignal): string {
  const detail = signal.statusDetails.reason;
  return detail ? `${signal.status}: ${detail}` : signal.status;
}

async function commit(entry: DeviceEntry, rotation: Rotation, deps: RotationCommitDeps): Promise<SignalOutcome | 'changed'> {
  const newCertificateId = rotation.newCertificateId!;
  const record = await deps.iot.describeCertificate(newCertificateId);
  if (record?.status !== 'ACTIVE') {
    // Revoked or deleted meanwhile (an operator): it cannot become the device's identity.
    return rollBack(entry, rotation, 'new-certificate-not-active', undefined, deps);
  }
  try {
    // The binding moves only from the old certificate (claim's condition), or is already the new one's (a retry).
    await claimDevice(deps, { deviceId: entry.deviceId, entry, certificateId: newCertificateId, previousCertificateId: rotation.previousCertificateId });
  } catch (error) {
    if (!(error instanceof BindingConflictError)) throw error;
    // Another certificate took the device meanwhile: that binding stands, this rotation ends.
    return rollBack(entry, rotation, 'binding-changed', undefined, deps);
  }
  const thingName = entry.thingName ?? entry.deviceId;
  await deps.registry.markBound(entry.deviceId, newCertificateId, thingName, deps.now(), boundFacts(record.certificatePem, true, deps.log));
  const committedAt = deps.now();
  // A pinned key (issue 11's factory onboarding) moves to the key the CSR step admitted: otherwise the device's
  // next provisioning with its own current key would be refused as key-not-pinned.
  const movePinTo = entry.pinnedKeySha256 && rotation.newKeySha256 ? rotation.newKeySha256 : undefined;
  const written = await deps.registry.commit(entry.deviceId, { jobId: rotation.jobId, newCertificateId, ...(movePinTo ? { movePinTo } : {}), at: committedAt });
  if (written === 'changed') return 'changed';
  deps.log.info('rotation committed', { deviceId: entry.deviceId, jobId: rotation.jobId, certificateId: newCertificateId });
  (deps.metrics ?? NO_METRICS).count('Rotations', { outcome: 'committed', reason: 'none' });
  await finishCommit(entry.deviceId, thingName, { ...rotation, state: 'committed', committedAt: committedAt.toISOString() }, entry.pinnedKeySha256 !== undefined, deps);
  return { outcome: 'committed' };
}

/** After `committed`: the timeline event, then the old certificate's retirement, then `retirementScheduledAt`. */
async function finishCommit(deviceId: string, thingName: string, rotation: Rotation, pinned: boolean, deps: RotationCommitDeps): Promise<void> {
  if (rotation.retirementScheduledAt) return;
  await deps.timeline?.append({
    deviceId,
    at: new Date(rotation.committedAt ?? rotation.updatedAt),
    type: 'rotation-committed',
    actor: deps.actor,
    ...(rotation.newCertificateId ? { certificateId: rotation.newCertificateId } : {}),
    detail: `previous certificate ${rotation.previousCertificateId}${pinned ? '; the pinned key moved to the new key' : ''}`,
    key: `${rotation.jobId}#committed`,
  });
  // Scheduling twice is harmless: retirement is idempotent and refuses the device's current certificate.
  await deps.retirements.schedule({ deviceId, certificateId: rotation.previousCertificateId, thingName }, deps.retireGraceSeconds);
  await deps.registry.recordRetirementScheduled(deviceId, { jobId: rotation.jobId, at: deps.now() });
}

async function finishTerminal(entry: DeviceEntry, rotation: Rotation, deps: RotationCommitDeps): Promise<void> {
  if (rotation.state === 'committed') await finishCommit(entry.deviceId, entry.thingName ?? entry.deviceId, rotation, entry.pinnedKeySha256 !== undefined, deps);
  if (rotation.state === 'rolled-back') await appendRolledBack(entry.deviceId, rotation, deps);
}

/**
 * S3: revoke the new certificate, detach it from the thing, then `rolled-back`. The old certificate and the
 * binding are never touched, so the device connects with its current pair (protocol §3.5).
 */
async function rollBack(
  entry: DeviceEntry,
  rotation: Rotation,
  reason: string,
  jobStatus: string | undefined,
  deps: RotationCommitDeps,
): Promise<SignalOutcome | 'changed'> {
  const thingName = entry.thingName ?? entry.deviceId;
  if (rotation.newCertificateId) await revokeAndDetach(rotation.newCertificateId, thingName, deps.iot);
  const rolledBackAt = deps.now();
  const written = await deps.registry.rollBack(entry.deviceId, { jobId: rotation.jobId, expected: rotation.state, reason, ...(jobStatus ? { jobStatus } : {}), at: rolledBackAt });
  if (written === 'changed') return 'changed';
  deps.log.info('rotation rolled back', { deviceId: entry.deviceId, jobId: rotation.jobId, reason });
  // The job status or the backend's own reason: a bounded set (the device's statusDetails stay out of the dimension).
  (deps.metrics ?? NO_METRICS).count('Rotations', { outcome: 'rolled-back', reason: jobStatus ?? reason });
  await appendRolledBack(entry.deviceId, { ...rotation, state: 'rolled-back', reason, rolledBackAt: rolledBackAt.toISOString() }, deps);
  return { outcome: 'rolled-back', reason };
}

/** REVOKED (terminal: it can never connect again), then detached; each a no-op when done already. */
export async function revokeAndDetach(certificateId: string, thingName: string, iot: RetiringIot): Promise<void> {
  const record = await iot.describeCertificate(certificateId);
  if (!record) return;
  if (record.status !== 'REVOKED') await iot.updateCertificateStatus(certificateId, 'REVOKED');
  if ((await iot.listPrincipalThings(record.certificateArn)).includes(thingName)) await iot.detachThingPrincipal(thingName, record.certificateArn);
}

function appendRolledBack(deviceId: string, rotation: Rotation, deps: RotationCommitDeps): Promise<void> {
  return (
    deps.timeline?.append({
      deviceId,
      at: new Date(rotation.rolledBackAt ?? rotation.updatedAt),
      type: 'rotation-rolled-back',
      actor: deps.actor,
      ...(rotation.newCertificateId ? { certificateId: rotation.newCertificateId } : {}),
      ...(rotation.reason ? { reason: rotation.reason } : {}),
      key: `${rotation.jobId}#rolled-back`,
    }) ?? Promise.resolve()
  );
}
