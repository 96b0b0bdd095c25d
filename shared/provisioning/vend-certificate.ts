import { createHash } from 'node:crypto';
import type { AdmissionMode, CertificateRule, DeviceIdSource, Rejection } from '../admission/admit';
import { admitDevice, STALE_CLAIM_MS } from '../admission/admit-device';
import type { Issue } from '../schemas/issues';
import { DEVICE_ID_PATTERN, type DeviceEntry } from '../registry/device-entry';
import type { DeviceRegistry } from '../registry/ports';
import type { Actor, Timeline } from '../lifecycle/ports';
import { NO_METRICS, type Metrics } from '../metrics-port';
import { bindCertificate, retireCertificate, type BindDeps, type BindingIot, type BindSettings, type RetiringIot } from './bind-certificate';
import type { IotDirectory, IssuedCertificate } from './iot-ports';
import type { IdempotencyStore } from './ledger-ports';
import type { Retirement, RetirementQueue } from './retirement-port';

/**
 * Certificate vending for factory and back-office systems: a certificate for a device — from its CSR (the
 * private key never leaves the device) or with a key we generate — bound to the device exactly as JITR binds
 * one (shared `bindCertificate`). One active certificate per device: a second vend is refused unless it
 * rotates, and then the old certificate keeps working for a grace period before it is retired.
 */

export interface VendSettings extends BindSettings {
  mode: AdmissionMode;
  deviceIdSource: DeviceIdSource;
  /** How long a rotated-out certificate keeps working (SQS delay: at most 900 s). */
  retireGraceSeconds: number;
  roleAlias: string;
  rootCaUrl: string;
}

export interface VendDeps extends BindDeps {
  /** The binding's calls, minting (CSR or key pair), and what revoking detaches. */
  iot: BindingIot & Pick<IotDirectory, 'createCertificateFromCsr' | 'createKeysAndCertificate' | 'listAttachedPolicies' | 'detachPolicy'>;
  registry: BindDeps['registry'] & Pick<DeviceRegistry, 'unbind'>;
  settings: VendSettings;
  idempotency: IdempotencyStore;
  retirements: RetirementQueue;
  /** The data and credentials endpoints, looked up once per container. */
  endpoints: () => Promise<{ data: string; credentials: string }>;
  /** The device timeline: vending's refusals and activations go there too (shared/lifecycle/ports.ts). */
  timeline?: Timeline;
  /** Each decision (metric `Decisions`, flow vending) and each vend, rotation and revocation (`VendActions`). */
  metrics?: Metrics;
}

export interface VendRequest {
  deviceId: string;
  csrPem?: string;
  rotate: boolean;
  idempotencyKey?: string;
  /** Who asks (the IAM caller's ARN), for the timeline. */
  caller?: string;
}

export interface VendAnswer {
  deviceId: string;
  thingName: string;
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  /** Only when we generated the key; returned once. */
  privateKey?: string;
  endpoints: { data: string; credentials: string };
  rootCaUrl: string;
  roleAlias: string;
  rotation?: { previousCertificateId: string; retiresAt: string };
}

/**
 * What a vend came to, in the domain's words (`functions/vend-certificate/http.ts` turns it into HTTP):
 * vended (or replayed for its Idempotency-Key); invalid — the request itself is wrong, with what is wrong;
 * refused by admission; or in conflict with the device's state or a request still running.
 */
export type VendOutcome =
  | { kind: 'vended'; answer: VendAnswer; replayed: boolean }
  | { kind: 'invalid'; reason: string; issues: Issue[] }
  | { kind: 'refused'; reason: string }
  | { kind: 'conflict'; reason: 'device-already-bound' | 'request-in-progress' };

export type RevokeOutcome =
  | { kind: 'revoked'; certificateId: string }
  | { kind: 'invalid'; reason: 'device-id-invalid' }
  | { kind: 'not-found'; reason: 'no-certificate' };

const apiActor = (request: VendRequest): Actor => ({ kind: 'api', id: request.caller ?? 'unknown caller' });

/** Requests with the same key must be the same request. */
const fingerprint = (request: VendRequest) =>
  createHash('sha256').update(JSON.stringify({ d: request.deviceId, c: request.csrPem ?? null, r: request.rotate })).digest('hex');

/**
 * What a vend with an Idempotency-Key has minted, kept with the key (`IdempotencyStore.saveProgress`): a
 * retry after a crash carries on with this certificate — and hands out this key — instead of minting a
 * second one and leaving the first behind, possibly ACTIVE, with a key nobody has.
 */
export interface VendProgress {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  privateKey?: string;
  previousCertificateId?: string;
  retirePrevious: boolean;
}

const isVendProgress = (value: unknown): value is VendProgress => {
  const p = value as Partial<VendProgress> | undefined;
  return typeof p?.certificateId === 'string' && typeof p.certificateArn === 'string' && typeof p.certificatePem === 'string' && typeof p.retirePrevious === 'boolean';
};

export async function vendCertificate(request: VendRequest, deps: VendDeps): Promise<VendOutcome> {
  const outcome = await vendOnce(request, deps);
  const metrics = deps.metrics ?? NO_METRICS;
  // A replay hands out the answer of a decision already counted: it is an action, not a second decision.
  if (!(outcome.kind === 'vended' && outcome.replayed)) {
    metrics.decision({ flow: 'vending', outcome: outcome.kind, reason: outcome.kind === 'vended' ? 'admitted' : outcome.reason });
  }
  metrics.count('VendActions', { action: request.rotate ? 'rotate' : 'vend', outcome: outcome.kind === 'vended' && outcome.replayed ? 'replayed' : outcome.kind });
  return outcome;
}

async function vendOnce(request: VendRequest, deps: VendDeps): Promise<VendOutcome> {
  if (!DEVICE_ID_PATTERN.test(request.deviceId)) {
    return { kind: 'invalid', reason: 'device-id-invalid', issues: [{ path: 'deviceId', message: 'must match [a-zA-Z0-9:_-]{1,128}' }] };
  }
  const key = request.idempotencyKey;
  let resumed: VendProgress | undefined;
  if (key) {
    const begun = await deps.idempotency.begin(key, fingerprint(request), deps.now());
    if (begun.state === 'completed') return { kind: 'vended', answer: begun.response as VendAnswer, replayed: true };
    if (begun.state === 'in-progress') return { kind: 'conflict', reason: 'request-in-progress' };
    if (begun.state === 'mismatch') {
      return { kind: 'invalid', reason: 'idempotency-key-reused', issues: [{ path: 'Idempotency-Key', message: 'was used for another request' }] };
    }
    if (begun.state === 'resumed' && isVendProgress(begun.progress)) resumed = begun.progress;
  }
  try {
    const save = key ? (progress: VendProgress) => deps.idempotency.saveProgress(key, progress) : async () => undefined;
    const outcome = await vend(request, deps, resumed, save);
    if (key) {
      if (outcome.kind === 'vended') await deps.idempotency.complete(key, outcome.answer, deps.now());
      else await deps.idempotency.abandon(key);
    }
    return outcome;
  } catch (error) {
    if (key) await deps.idempotency.abandon(key).catch(() => undefined);
    throw error;
  }
}

/** Vending's rules for a CSR: its key, and its subject must name the device of the path (no CA, no validity). */
const VENDING_CSR_RULES: readonly CertificateRule[] = ['key', 'subject'];

/** What is wrong with the CSR, for the 400 answer; `undefined` when the refusal is not about the CSR. */
function csrIssue(rejection: Rejection, deviceId: string, source: DeviceIdSource): Issue | undefined {
  switch (rejection.reason) {
    case 'csr-unreadable':
      return { path: 'csr', message: rejection.detail ?? 'not a PEM certificate signing request' };
    case 'key-too-weak':
    case 'key-type-not-allowed':
      return { path: 'csr', message: 'the key must be RSA of 2048 bits or more, or EC P-256/P-384' };
    case 'csr-subject-mismatch':
      return { path: 'csr', message: `the subject must name the device ${deviceId} (${source})` };
    default:
      return undefined;
  }
}

/**
 * The certificate an earlier attempt minted, if it can still become the device's: not revoked or deleted
 * since, and the device not taken by another certificate meanwhile. One that cannot is taken off the thing.
 */
async function carryOn(resumed: VendProgress, entry: DeviceEntry | undefined, deviceId: string, deps: VendDeps): Promise<VendProgress | undefined> {
  const record = await deps.iot.describeCertificate(resumed.certificateId);
  const holder = entry?.certificateId;
  const deviceUnchanged = holder === resumed.certificateId || holder === resumed.previousCertificateId;
  if (record && (record.status === 'INACTIVE' || record.status === 'ACTIVE') && deviceUnchanged) return resumed;
  if (record && record.status !== 'ACTIVE') await retireCertificate(resumed.certificateId, deviceId, deps);
  deps.log.warn('the certificate of an earlier attempt cannot be used; minting another', { deviceId, certificateId: resumed.certificateId, status: record?.status });
  return undefined;
}

async function vend(
  request: VendRequest,
  deps: VendDeps,
  resumed: VendProgress | undefined,
  save: (progress: VendProgress) => Promise<void>,
): Promise<VendOutcome> {
  const { settings, iot } = deps;
  const { deviceId } = request;

  let carried: VendProgress | undefined;
  const decision = await admitDevice(
    { ...(request.csrPem !== undefined ? { pem: { kind: 'csr', text: request.csrPem } } : {}), deviceId },
    {
      mode: settings.mode,
      certificateRules: VENDING_CSR_RULES,
      deviceIdSource: settings.deviceIdSource,
      boundDevice: request.rotate ? 'replace' : 'refuse',
      staleClaimMs: STALE_CLAIM_MS,
    },
    deps,
    deps.now(),
    // A retry carries on with the certificate an earlier attempt minted, if it can still become the device's.
    async (entryRead) => {
      if (!resumed) return undefined;
      carried = await carryOn(resumed, await entryRead, deviceId, deps);
      return { certificateId: carried?.certificateId };
    },
  );
  if (!decision.admitted) {
    const issue = csrIssue(decision, deviceId, settings.deviceIdSource);
    if (issue) return { kind: 'invalid', reason: decision.reason, issues: [issue] };
    await deps.timeline?.append({ deviceId, at: deps.now(), type: 'refused', actor: apiActor(request), reason: decision.reason, detail: 'certificate vending' });
    return decision.reason === 'device-already-bound' ? { kind: 'conflict', reason: decision.reason } : { kind: 'refused', reason: decision.reason };
  }
  const { entry } = decision;

  let issued: VendProgress;
  if (carried && entry?.certificateId === carried.certificateId) {
    // The earlier attempt claimed the device already: what it decided about the previous certificate stands.
    issued = carried;
  } else {
    const previous = { ...(decision.previousCertificateId ? { previousCertificateId: decision.previousCertificateId } : {}), retirePrevious: decision.retirePrevious };
    if (carried) issued = { ...carried, ...previous };
    else {
      const minted: IssuedCertificate & { privateKey?: string } =
        request.csrPem !== undefined ? await iot.createCertificateFromCsr(request.csrPem) : await iot.createKeysAndCertificate();
      issued = {
        certificateId: minted.certificateId,
        certificateArn: minted.certificateArn,
        certificatePem: minted.certificatePem,
        ...(minted.privateKey ? { privateKey: minted.privateKey } : {}),
        ...previous,
      };
    }
    await save(issued);
  }
  const { thingName } = await bindCertificate(
    {
      deviceId,
      entry,
      certificateId: issued.certificateId,
      certificateArn: issued.certificateArn,
      ...(issued.previousCertificateId ? { previousCertificateId: issued.previousCertificateId } : {}),
      // A rotated-out certificate keeps working for the grace period; the retirement queue ends it.
      retirePrevious: false,
      provisionedBy: 'vending',
      // CreateKeysAndCertificate and CreateCertificateFromCsr: AWS IoT signs either way (valid until 2049).
      certificatePem: issued.certificatePem,
      issuedByAwsIot: true,
    },
    deps,
  );
  if (issued.previousCertificateId && !issued.retirePrevious) {
    // The previous certificate was not ACTIVE (revoked, or left by a request that failed half-way): it
    // must not stay on the thing next to the device's certificate.
    await retireCertificate(issued.previousCertificateId, thingName, deps);
  }
  let rotation: VendAnswer['rotation'];
  if (issued.retirePrevious && issued.previousCertificateId) {
    await deps.retirements.schedule({ deviceId, certificateId: issued.previousCertificateId, thingName }, settings.retireGraceSeconds);
    rotation = {
      previousCertificateId: issued.previousCertificateId,
      retiresAt: new Date(deps.now().getTime() + settings.retireGraceSeconds * 1000).toISOString(),
    };
  }
  // After the activation, and not allowed to fail the request: the certificate is the device's already.
  await deps.timeline
    ?.append({
      deviceId,
      at: deps.now(),
      type: rotation ? 'rotated' : 'activated',
      actor: apiActor(request),
      certificateId: issued.certificateId,
      detail: 'certificate vending',
      key: issued.certificateId,
    })
    .catch((error: unknown) => deps.log.warn('timeline event not recorded', { error: String(error) }));
  deps.log.info('certificate vended', { deviceId, certificateId: issued.certificateId, csr: request.csrPem !== undefined, rotatedFrom: rotation?.previousCertificateId });
  return {
    kind: 'vended',
    replayed: false,
    answer: {
      deviceId,
      thingName,
      certificateId: issued.certificateId,
      certificateArn: issued.certificateArn,
      certificatePem: issued.certificatePem,
      ...(issued.privateKey ? { privateKey: issued.privateKey } : {}),
      endpoints: await deps.endpoints(),
      rootCaUrl: settings.rootCaUrl,
      roleAlias: settings.roleAlias,
      ...(rotation ? { rotation } : {}),
    },
  };
}

/** Revokes the device's certificate, detaches it from the thing and the policy, and unbinds it. */
export async function revokeDeviceCertificate(
  deviceId: string,
  deps: Pick<VendDeps, 'iot' | 'registry' | 'settings' | 'now' | 'log' | 'metrics'>,
): Promise<RevokeOutcome> {
  const outcome = await revokeOnce(deviceId, deps);
  deps.metrics?.count('VendActions', { action: 'revoke', outcome: outcome.kind });
  return outcome;
}

async function revokeOnce(deviceId: string, deps: Pick<VendDeps, 'iot' | 'registry' | 'settings' | 'now' | 'log'>): Promise<RevokeOutcome> {
  if (!DEVICE_ID_PATTERN.test(deviceId)) return { kind: 'invalid', reason: 'device-id-invalid' };
  const entry = await deps.registry.get(deviceId);
  if (!entry?.certificateId) return { kind: 'not-found', reason: 'no-certificate' };
  const { certificateId } = entry;
  const record = await deps.iot.describeCertificate(certificateId);
  if (record) {
    // Revoke first: from here on the device cannot connect, whatever else fails.
    if (record.status !== 'REVOKED') await deps.iot.updateCertificateStatus(certificateId, 'REVOKED');
    const things = await deps.iot.listPrincipalThings(record.certificateArn);
    for (const thing of things) await deps.iot.detachThingPrincipal(thing, record.certificateArn);
    const policies = await deps.iot.listAttachedPolicies(record.certificateArn);
    if (policies.includes(deps.settings.devicePolicyName)) await deps.iot.detachPolicy(deps.settings.devicePolicyName, record.certificateArn);
  }
  await deps.registry.unbind(deviceId, certificateId, deps.now());
  deps.log.info('certificate revoked', { deviceId, certificateId });
  return { kind: 'revoked', certificateId };
}

/** The grace period is over: retire the old certificate, unless it became the device's certificate again. */
/**
 * The retireDelete option: after INACTIVE, the device policy is detached and the certificate deleted.
 * "A certificate cannot be deleted if it has a policy or IoT thing attached to it or if its status is set to
 * ACTIVE" (https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteCertificate.html): so DetachPolicy, then
 * DeleteCertificate (its forceDelete also takes policies attached by someone else; never a thing).
 */
export interface RetiredCertificateDeletion {
  policyName: string;
  iot: Pick<IotDirectory, 'detachPolicy' | 'deleteCertificate'>;
}

/** The thing's detach has not propagated yet (aws-iot-reference §4): SQS delivers the retirement again. */
export class RetiredCertificateStillAttachedError extends Error {
  override name = 'RetiredCertificateStillAttachedError';
}

export async function retireRotatedCertificate(
  retirement: Retirement,
  deps: { iot: RetiringIot; registry: Pick<BindDeps['registry'], 'get'>; log: BindDeps['log']; metrics?: Metrics; deletion?: RetiredCertificateDeletion },
): Promise<void> {
  const metrics = deps.metrics ?? NO_METRICS;
  try {
    const entry = await deps.registry.get(retirement.deviceId);
    if (entry?.certificateId === retirement.certificateId) {
      deps.log.warn('rotated certificate is the device’s certificate again; not retired', { ...retirement });
      metrics.count('Retirements', { outcome: 'kept' });
      return;
    }
    await retireCertificate(retirement.certificateId, retirement.thingName, deps);
    if (deps.deletion) await deleteRetiredCertificate(retirement.certificateId, deps.iot, deps.deletion);
  } catch (error) {
    // SQS delivers it again; after the queue's maxReceiveCount it is moved to the failure queue (resources/storage.cjs).
    metrics.count('Retirements', { outcome: 'failed' });
    throw error;
  }
  metrics.count('Retirements', { outcome: 'retired' });
  deps.log.info('rotated certificate retired', { ...retirement });
}

/** DetachPolicy, then DeleteCertificate, of a certificate retireCertificate made INACTIVE and detached. */
async function deleteRetiredCertificate(certificateId: string, iot: RetiringIot, deletion: RetiredCertificateDeletion): Promise<void> {
  const record = await iot.describeCertificate(certificateId);
  // Gone already (a retry), or ACTIVE again (reactivated by an operator meanwhile: not ours to delete).
  if (!record || record.status === 'ACTIVE') return;
  await deletion.iot.detachPolicy(deletion.policyName, record.certificateArn);
  const deleted = await deletion.iot.deleteCertificate(certificateId);
  if (deleted === 'things-attached') throw new RetiredCertificateStillAttachedError(`certificate ${certificateId} is still attached to a thing; retried`);
}
