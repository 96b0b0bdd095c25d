import { JITR_CERTIFICATE_RULES, type AdmissionPolicy, type Rejection } from '../admission/admit';
import { admitDevice, type Admission } from '../admission/admit-device';
import type { CaLookup } from '../admission/ca-lookup';
import type { RejectionReason } from '../registry/device-entry';
import type { CertificateRegisteredEvent } from '../schemas/certificate-registered-event';
import { bindCertificate, boundFacts, claimDevice, thingFor, type BindingIot, type BindSettings } from './bind-certificate';
import type { CertificateRecord, IotDirectory } from './iot-ports';
import type { ActivationLeases } from './ledger-ports';
import type { Log } from '../log';
import type { DeviceRegistry } from '../registry/ports';
import type { Actor, Timeline } from '../lifecycle/ports';
import { NO_METRICS, type Metrics } from '../metrics-port';

/**
 * Just-in-time registration: decide on a certificate AWS IoT registered as PENDING_ACTIVATION and
 * either provision and activate it, or revoke it (aws-iot-reference §1).
 *
 * Idempotent by construction: the event repeats on every reconnect and Lambda retries failed async
 * invocations, so every step reads or tolerates existing state, and the certificate is activated last —
 * a half-provisioned device cannot connect.
 */

export interface ActivationSettings extends BindSettings {
  admission: AdmissionPolicy;
  /** REVOKED is terminal; INACTIVE quarantines the certificate so an operator can still activate it. */
  rejectAction: 'REVOKED' | 'INACTIVE';
  /**
   * A claim on the device by another certificate still PENDING_ACTIVATION after this long is abandoned, and
   * this certificate may take the device (`STALE_CLAIM_MS`, as the hook). Without it, a device whose first
   * certificate was claimed but never activated had every later certificate REVOKED as device-already-bound.
   */
  staleClaimMs: number;
}

export interface ActivationDeps {
  /** The binding's calls, and ListAttachedPolicies to complete an ACTIVE certificate (`completeActive`). */
  iot: BindingIot & Pick<IotDirectory, 'listAttachedPolicies'>;
  registry: Pick<DeviceRegistry, 'get' | 'claim' | 'markBound' | 'recordRejection'>;
  caLookup: CaLookup;
  settings: ActivationSettings;
  now: () => Date;
  log: Log;
  /**
   * Without leases every duplicate delivery runs the (idempotent) workflow again; with them, a duplicate
   * that arrives while another invocation works on the registration is dropped before any IoT call.
   */
  leases?: ActivationLeases;
  /** The device timeline: JITR's activations and refusals go there too (shared/lifecycle/ports.ts). */
  timeline?: Timeline;
  /** Each decision (metric `Decisions`, flow jitr) and each activation (shared/metrics-port.ts). */
  metrics?: Metrics;
}

/** Who JITR's timeline events name. */
const JITR_ACTOR: Actor = { kind: 'function', id: 'activateCertificate' };

export type ActivationResult =
  | { outcome: 'activated'; certificateId: string; deviceId: string; thingName: string; retiredCertificateId?: string }
  | { outcome: 'already-active'; certificateId: string; deviceId: string; thingName: string }
  | { outcome: 'rejected'; certificateId: string; reason: RejectionReason; deviceId?: string; newStatus: 'REVOKED' | 'INACTIVE' }
  | { outcome: 'ignored'; certificateId: string; reason: IgnoreReason; status?: string };

export type IgnoreReason =
  | 'certificate-not-found'
  | 'certificate-not-pending'
  | 'ca-mismatch'
  | 'active-certificate-not-admissible'
  | 'duplicate-delivery';

export { BindingConflictError } from './bind-certificate';

/**
 * `leaseMs`: how long this invocation may hold the registration — at least what is left of its run time,
 * so that a duplicate never works on it alongside. On success the lease is kept until it ends: duplicates
 * still queued behind the activation are dropped too. On failure it is released before the error is thrown.
 */
export async function activateRegisteredCertificate(
  event: CertificateRegisteredEvent,
  deps: ActivationDeps,
  options: { leaseMs?: number } = {},
): Promise<ActivationResult> {
  const result = await decideOnce(event, deps, options);
  recordActivation(result, deps.metrics ?? NO_METRICS);
  return result;
}

/** The decision as metrics: outcome and reason, never the device or the certificate. */
function recordActivation(result: ActivationResult, metrics: Metrics): void {
  const reason = result.outcome === 'rejected' || result.outcome === 'ignored' ? result.reason : result.outcome === 'activated' ? 'admitted' : 'already-active';
  metrics.decision({ flow: 'jitr', outcome: result.outcome, reason });
  if (result.outcome === 'activated') metrics.count('Activations', { flow: 'jitr' });
}

async function decideOnce(event: CertificateRegisteredEvent, deps: ActivationDeps, options: { leaseMs?: number }): Promise<ActivationResult> {
  const { leases } = deps;
  if (!leases) return decide(event, deps);
  // A certificate deleted and registered again is a new registration: its timestamp is part of the key.
  const key = `${event.certificateId}#${event.certificateRegistrationTimestamp ?? ''}`;
  const now = deps.now();
  if (!(await leases.takeLease(key, new Date(now.getTime() + (options.leaseMs ?? 60_000)), now))) {
    deps.log.info('duplicate delivery: another invocation holds this registration; dropped');
    return { outcome: 'ignored', certificateId: event.certificateId, reason: 'duplicate-delivery' };
  }
  try {
    return await decide(event, deps);
  } catch (error) {
    await leases.releaseLease(key).catch((releaseError: unknown) => {
      deps.log.warn('lease not released; it ends on its own', { error: String(releaseError) });
    });
    throw error;
  }
}

async function decide(event: CertificateRegisteredEvent, deps: ActivationDeps): Promise<ActivationResult> {
  const { certificateId } = event;
  const record = await deps.iot.describeCertificate(certificateId);
  if (!record) {
    deps.log.warn('certificate no longer exists; nothing to do');
    return { outcome: 'ignored', certificateId, reason: 'certificate-not-found' };
  }
  // The event names the CA; the certificate's own description is the truth. A mismatch means the event
  // is not what AWS IoT published for this certificate: act on neither.
  if (record.caCertificateId?.toLowerCase() !== event.caCertificateId.toLowerCase()) {
    deps.log.warn('event CA does not match the certificate CA; event dropped', {
      certificateCaId: record.caCertificateId,
    });
    return { outcome: 'ignored', certificateId, reason: 'ca-mismatch', status: record.status };
  }
  if (record.status === 'PENDING_ACTIVATION') return provisionPending(record, deps);
  if (record.status === 'ACTIVE') return completeActive(record, deps);
  deps.log.info('certificate is not pending activation; nothing to do', { status: record.status });
  return { outcome: 'ignored', certificateId, reason: 'certificate-not-pending', status: record.status };
}

/** JITR's admission: the certificate names the device; its CA, validity window and key decide first. */
function admit(record: CertificateRecord, deps: ActivationDeps): Promise<Admission> {
  const { admission, staleClaimMs } = deps.settings;
  return admitDevice(
    {
      pem: { kind: 'certificate', text: record.certificatePem },
      certificateId: record.certificateId,
      caCertificateId: record.caCertificateId ?? '',
    },
    { ...admission, certificateRules: JITR_CERTIFICATE_RULES, staleClaimMs },
    deps,
    deps.now(),
  );
}

async function provisionPending(record: CertificateRecord, deps: ActivationDeps): Promise<ActivationResult> {
  const { certificateId, certificateArn } = record;
  const admission = await admit(record, deps);
  if (!admission.admitted) return reject(record, admission, deps);

  const { deviceId, entry, previousCertificateId } = admission;
  const bound = await bindCertificate(
    {
      deviceId,
      entry,
      certificateId,
      certificateArn,
      ...(previousCertificateId ? { previousCertificateId } : {}),
      retirePrevious: admission.retirePrevious,
      provisionedBy: 'jitr',
      // JITR certificates are signed by a CA registered in the account, never by AWS IoT.
      certificatePem: record.certificatePem,
      issuedByAwsIot: false,
    },
    deps,
  );
  deps.log.info('certificate activated', { deviceId, ...bound });
  // After the activation, and not allowed to fail it: the certificate is ACTIVE and the registry bound, so a
  // retry would find it already active and never come back here. A lost event is logged, not retried.
  await deps.timeline
    ?.append({ deviceId, at: deps.now(), type: 'activated', actor: JITR_ACTOR, certificateId, key: certificateId })
    .catch((error: unknown) => deps.log.warn('timeline event not recorded', { error: String(error) }));
  return { outcome: 'activated', certificateId, deviceId, ...bound };
}

async function reject(record: CertificateRecord, rejection: Rejection, deps: ActivationDeps): Promise<ActivationResult> {
  const { certificateId } = record;
  const { reason, deviceId } = rejection;
  const newStatus = deps.settings.rejectAction;
  // Record first: once the certificate is revoked the event stops repeating, so a crash between the two
  // steps must leave the revocation, not the record, to the retry.
  if (deviceId) {
    const at = deps.now();
    await deps.registry.recordRejection(deviceId, { reason, certificateId, at });
    // Before the revocation, like the record, so a crash leaves it to the retry (the event repeats while the
    // certificate is PENDING); a crash between the two writes can record the refusal twice, never not at all.
    await deps.timeline?.append({ deviceId, at, type: 'refused', actor: JITR_ACTOR, certificateId, reason, key: certificateId });
  }
  await deps.iot.updateCertificateStatus(certificateId, newStatus);
  deps.log.warn('certificate rejected', { reason, deviceId, newStatus });
  return { outcome: 'rejected', certificateId, reason, newStatus, ...(deviceId ? { deviceId } : {}) };
}

/**
 * An ACTIVE certificate: activation is our last step, so everything before it is normally done and only
 * the registry's binding may be missing (a crash after activation). Verify the attachments, add what is
 * missing, and record the binding. An ACTIVE certificate is never revoked from here — someone decided to
 * activate it.
 */
async function completeActive(record: CertificateRecord, deps: ActivationDeps): Promise<ActivationResult> {
  const { certificateId, certificateArn } = record;
  const admission = await admit(record, deps);
  if (!admission.admitted) {
    deps.log.warn('active certificate would not be admitted; left unchanged', { reason: admission.reason });
    return { outcome: 'ignored', certificateId, reason: 'active-certificate-not-admissible', status: record.status };
  }
  const { deviceId, entry } = admission;
  if (entry?.certificateId === certificateId && entry.bindingState === 'bound' && entry.thingName) {
    return { outcome: 'already-active', certificateId, deviceId, thingName: entry.thingName };
  }

  const { iot, registry, settings } = deps;
  const thing = thingFor(deviceId, entry, settings, 'jitr');
  await claimDevice(deps, {
    deviceId,
    entry,
    certificateId,
    ...(admission.previousCertificateId ? { previousCertificateId: admission.previousCertificateId } : {}),
  });
  const [things, policies] = await Promise.all([
    iot.listPrincipalThings(certificateArn),
    iot.listAttachedPolicies(certificateArn),
  ]);
  if (!things.includes(thing.thingName)) {
    await iot.createThing(thing);
    const thingGroup = entry?.thingGroup ?? settings.thingGroup;
    if (thingGroup) await iot.addThingToThingGroup(thing.thingName, thingGroup);
    await iot.attachThingPrincipal(thing.thingName, certificateArn);
  }
  if (!policies.includes(settings.devicePolicyName)) await iot.attachPolicy(settings.devicePolicyName, certificateArn);
  await registry.markBound(deviceId, certificateId, thing.thingName, deps.now(), boundFacts(record.certificatePem, false, deps.log));
  deps.log.info('active certificate completed', { deviceId, thingName: thing.thingName });
  return { outcome: 'already-active', certificateId, deviceId, thingName: thing.thingName };
}
