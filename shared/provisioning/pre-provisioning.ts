import type { AdmissionMode, CertificateRule } from '../admission/admit';
import { admitDevice } from '../admission/admit-device';
import { readBoundCertificateFacts } from '../certificates/certificate-facts';
import { DEVICE_ID_PATTERN, type DeviceEntry, type RejectionReason } from '../registry/device-entry';
import { preProvisioningHookEventSchema, type PreProvisioningHookEvent, type PreProvisioningHookResult } from '../schemas/pre-provisioning-hook';
import { DeadlineExceededError, withDeadline } from '../lambda/deadline';
import { issuesOf } from '../schemas/issues';
import type { IotDirectory } from './iot-ports';
import type { IssuedClaim, ProvisioningLedger } from './ledger-ports';
import type { Log } from '../log';
import type { DeviceRegistry } from '../registry/ports';
import type { Timeline } from '../lifecycle/ports';
import { NO_METRICS, type Metrics } from '../metrics-port';

/**
 * The pre-provisioning hook's decision for a fleet-provisioning RegisterThing request
 * (aws-iot-reference §3.3). It applies the JITR admission rules that make sense here, refuses takeovers,
 * and fixes the thing's group, type and attributes from the registry — the device chooses none of them.
 *
 * It must answer within AWS's 5 seconds, so all its I/O runs against a deadline well inside that, and it
 * fails closed: any error or timeout answers `allowProvisioning: false`. It never throws.
 */

export interface HookSettings {
  templateName: string;
  mode: AdmissionMode;
  /** Refuse claim certificates this stack did not vend (factory claims are then not allowed). */
  requireIssuedClaim: boolean;
  /** Defaults for devices whose registry entry names none (the stack's fleet group and thing type). */
  thingGroup: string;
  thingType: string;
  /** Registry attributes that become thing attributes (template parameters `attr_<name>`). */
  attributeNames: readonly string[];
  /** The decision must be made within this many milliseconds of the invocation. */
  deadlineMs: number;
  /** A claim by a certificate still pending after this long is abandoned (its provisioning failed). */
  staleClaimMs: number;
}

export interface HookDeps {
  registry: Pick<DeviceRegistry, 'get' | 'claim' | 'recordProvisioning'>;
  ledger: Pick<ProvisioningLedger, 'getClaim' | 'recordDecision'>;
  iot: Pick<IotDirectory, 'describeCertificate'>;
  settings: HookSettings;
  now: () => Date;
  log: Log;
  /** The device timeline: each decision on a named device goes there too (shared/lifecycle/ports.ts). */
  timeline?: Timeline;
  /** Each decision (metric `Decisions`, flow hook), its latency against the deadline, each allowed provisioning. */
  metrics?: Metrics;
}

/** The parameter a device sends: its serial number, which names the thing. */
export const SERIAL_NUMBER_PARAMETER = 'SerialNumber';

export type HookReason = RejectionReason;

type Verdict =
  | { allowed: true; deviceId: string; overrides: Record<string, string>; claim?: IssuedClaim }
  | { allowed: false; reason: HookReason; deviceId?: string; claim?: IssuedClaim };

/** The hook's certificate rules: AWS IoT made the certificate, so no CA; the device names itself by SerialNumber. */
const HOOK_CERTIFICATE_RULES: readonly CertificateRule[] = ['validity', 'key'];

const templateNameOf = (templateArn: string) => templateArn.slice(templateArn.lastIndexOf('/') + 1);

function overridesFor(entry: DeviceEntry | undefined, settings: HookSettings): Record<string, string> {
  const overrides: Record<string, string> = {
    ThingGroupName: entry?.thingGroup ?? settings.thingGroup,
    ThingTypeName: entry?.thingType ?? settings.thingType,
  };
  for (const name of settings.attributeNames) overrides[`attr_${name}`] = entry?.attributes?.[name] ?? '';
  return overrides;
}

async function evaluate(event: PreProvisioningHookEvent, deps: HookDeps): Promise<Verdict> {
  const { settings } = deps;
  if (templateNameOf(event.templateArn) !== settings.templateName) return { allowed: false, reason: 'template-not-allowed' };

  // Only the serial number comes from the device; group, type and attributes come from the registry.
  const parameters = event.parameters ?? {};
  const unexpected = Object.keys(parameters).filter((name) => name !== SERIAL_NUMBER_PARAMETER);
  const serial = parameters[SERIAL_NUMBER_PARAMETER];
  if (serial === undefined || unexpected.length > 0) return { allowed: false, reason: 'parameters-invalid' };
  if (!DEVICE_ID_PATTERN.test(serial)) return { allowed: false, reason: 'device-id-invalid' };
  const deviceId = serial;

  // The certificate AWS IoT made for this request, then the device's registry entry and binding, alongside
  // the claim checks (which decide before the device rules).
  let claim: IssuedClaim | undefined;
  const decision = await admitDevice(
    { pem: { kind: 'certificate', text: event.certificatePem }, certificateId: event.certificateId, deviceId },
    {
      mode: settings.mode,
      certificateRules: HOOK_CERTIFICATE_RULES,
      deviceIdSource: 'serialNumber',
      // The hook never retires a certificate itself: a device bound to an ACTIVE one needs the registry's
      // re-provisioning mark, never a configuration-wide replace.
      boundDevice: 'refuse',
      staleClaimMs: settings.staleClaimMs,
    },
    deps,
    deps.now(),
    async () => {
      const [found, requested] = await Promise.all([deps.ledger.getClaim(event.claimCertificateId), deps.iot.describeCertificate(event.certificateId)]);
      claim = found;
      // A certificate made over MQTT is PENDING_ACTIVATION until RegisterThing ends (aws-iot-reference §3.1).
      // One already ACTIVE, INACTIVE or REVOKED is some device's identity already: its ownership token was
      // replayed (AWS documents a one-hour lifetime, not single use), and provisioning it again would bind that
      // identity to a second thing.
      if (requested && requested.status !== 'PENDING_ACTIVATION') return { refuse: 'certificate-not-pending' };
      if (claim && claim.templateName !== settings.templateName) return { refuse: 'claim-not-for-template' };
      // A claim vended for one device provisions that device only: a leaked claim cannot provision another.
      if (claim?.deviceId !== undefined && claim.deviceId !== deviceId) return { refuse: 'claim-not-for-device' };
      if (!claim && settings.requireIssuedClaim) return { refuse: 'claim-unknown' };
      return undefined;
    },
  );
  const withClaim = claim ? { claim } : {};
  if (!decision.admitted) return { allowed: false, reason: decision.reason, deviceId, ...withClaim };

  // No takeover: the claim is a conditional write, so two certificates cannot both win this device.
  // It records the certificate's validity and issuer (AWS IoT made it) for the expiry sweep: RegisterThing
  // ends inside AWS IoT, so this is the registry's last write for a fleet device.
  const claimed = await deps.registry.claim(deviceId, event.certificateId, {
    ...(decision.previousCertificateId ? { previousCertificateId: decision.previousCertificateId } : {}),
    at: deps.now(),
    certificate: readBoundCertificateFacts(event.certificatePem, true),
  });
  if (!claimed.claimed) return { allowed: false, reason: 'device-already-bound', deviceId, ...withClaim };
  return { allowed: true, deviceId, overrides: overridesFor(decision.entry, settings), ...withClaim };
}

export async function decideProvisioning(event: unknown, deps: HookDeps): Promise<PreProvisioningHookResult> {
  const started = Date.now();
  const metrics = deps.metrics ?? NO_METRICS;
  const { result, reason, claimCertificateId } = await decideAndRecord(event, deps, started + deps.settings.deadlineMs);
  // AWS IoT waits 5 s for the answer (aws-iot-reference §3.3); the latency is measured against that budget.
  metrics.milliseconds('HookDecisionLatency', Date.now() - started);
  metrics.decision({ flow: 'hook', outcome: result.allowProvisioning ? 'allowed' : 'denied', reason, ...(claimCertificateId ? { claimCertificateId } : {}) });
  if (result.allowProvisioning) metrics.count('Activations', { flow: 'hook' });
  return result;
}

async function decideAndRecord(
  event: unknown,
  deps: HookDeps,
  deadline: number,
): Promise<{ result: PreProvisioningHookResult; reason: string; claimCertificateId?: string }> {
  const parsed = preProvisioningHookEventSchema.safeParse(event);
  if (!parsed.success) {
    deps.log.warn('provisioning denied: not a pre-provisioning hook event', {
      reason: 'invalid-event',
      issues: issuesOf(parsed.error),
    });
    return { result: { allowProvisioning: false }, reason: 'invalid-event' };
  }
  const request = parsed.data;
  let verdict: Verdict;
  try {
    verdict = await withDeadline(evaluate(request, deps), deadline);
  } catch (error) {
    const reason: HookReason = error instanceof DeadlineExceededError ? 'deadline-exceeded' : 'internal-error';
    deps.log.error('provisioning denied: the decision failed', { reason, error: (error as Error).message });
    verdict = { allowed: false, reason };
  }

  const record = {
    at: deps.now(),
    outcome: verdict.allowed ? ('allowed' as const) : ('denied' as const),
    ...(verdict.allowed ? {} : { reason: verdict.reason }),
    templateName: templateNameOf(request.templateArn),
    claimCertificateId: request.claimCertificateId,
    certificateId: request.certificateId,
    clientId: request.clientId,
  };
  const recording = Promise.all([
    deps.ledger.recordDecision({
      ...record,
      ...(verdict.deviceId ? { deviceId: verdict.deviceId } : {}),
      ...(verdict.claim ? { requestedBy: verdict.claim.requestedBy } : {}),
    }),
    verdict.deviceId ? deps.registry.recordProvisioning(verdict.deviceId, record) : undefined,
    // Part of the record, under the same deadline: an allowed decision it cannot write is denied.
    verdict.deviceId && deps.timeline
      ? deps.timeline.append({
          deviceId: verdict.deviceId,
          at: record.at,
          type: 'decided',
          actor: { kind: 'function', id: 'preProvisioningHook' },
          certificateId: request.certificateId,
          reason: verdict.allowed ? 'allowed' : verdict.reason,
          detail: `fleet provisioning, template ${record.templateName}`,
          key: request.certificateId,
        })
      : undefined,
  ]);
  try {
    await withDeadline(recording, deadline);
  } catch (error) {
    deps.log.error('the provisioning decision could not be recorded', { error: (error as Error).message, outcome: record.outcome });
    // An allowed decision that leaves no record is not allowed.
    if (verdict.allowed) verdict = { allowed: false, reason: 'internal-error', deviceId: verdict.deviceId };
  }

  const logKeys = { deviceId: verdict.deviceId, clientId: request.clientId, claimCertificateId: request.claimCertificateId, certificateId: request.certificateId };
  if (!verdict.allowed) {
    deps.log.warn('provisioning denied', { ...logKeys, reason: verdict.reason });
    return { result: { allowProvisioning: false }, reason: verdict.reason, claimCertificateId: request.claimCertificateId };
  }
  deps.log.info('provisioning allowed', { ...logKeys, requestedBy: verdict.claim?.requestedBy?.sub });
  return { result: { allowProvisioning: true, parameterOverrides: verdict.overrides }, reason: 'admitted', claimCertificateId: request.claimCertificateId };
}
