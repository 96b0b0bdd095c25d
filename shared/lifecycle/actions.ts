import type { DeviceEntry } from '../registry/device-entry';
import type { Actor, LifecycleIot, LifecycleRegistry, Timeline } from './ports';
import { stateOf, transition, TransitionRefusedError, type LifecycleAction } from './states';
import type { Metrics } from '../metrics-port';
import { revokeAndDetach } from '../rotation/commit';
import { OPEN_ROTATION_STATES } from '../rotation/model';

/**
 * The operator's lifecycle actions: suspend, resume, retire. Run by the CLI with the operator's credentials
 * today; written against ports so an API function can run them later.
 *
 * Each is idempotent and safe to retry after a crash, with the same discipline as binding: read the state, do
 * only what is missing. The order of the steps is chosen so that AWS IoT and the registry, while they
 * disagree (until the retry), always disagree on the safe side:
 *
 * - suspend writes the registry FIRST (`suspended`, with the groups to return to), then makes the certificate
 *   INACTIVE and moves the thing to quarantine. The other order would leave a registry saying `provisioned`
 *   beside an INACTIVE certificate — and admission lets a new certificate take over a device whose bound one is
 *   INACTIVE (`checkDevice`), so a crash there would hand the device to whoever connects next. Registry first,
 *   every flow refuses the device (`device-suspended`) from the first step on.
 * - resume does the AWS steps FIRST and writes the registry LAST ("activate last"): until the registry flips,
 *   the flows still refuse the device; the other order would again show `provisioned` with an INACTIVE
 *   certificate.
 * - retire writes the registry FIRST (`retired`, so every flow refuses it), then revokes, detaches and deletes,
 *   and removes the registry's binding LAST, once nothing in AWS IoT holds the device any more.
 *
 * The timeline event of an action is keyed by the time the action's registry write recorded, so a retry
 * writes the same event again (one item), never a second one.
 */

export interface LifecycleDeps {
  registry: LifecycleRegistry;
  iot: LifecycleIot;
  timeline: Timeline;
  /** The stack's quarantine thing group (resources/names.cjs `quarantineThingGroup`). */
  quarantineGroup: string;
  actor: Actor;
  now: () => Date;
  /** Waits between DeleteThing attempts while a detach propagates; tests pass a no-op. */
  sleep?: (ms: number) => Promise<void>;
  /** `LifecycleActions` by action and outcome (done, unchanged, refused, conflict, failed). */
  metrics?: Metrics;
}

export type ActionOutcome = { outcome: 'done' | 'unchanged'; entry: DeviceEntry | undefined };

/** Another writer changed the entry between the read and the conditional write: run the action again. */
export class ConcurrentChangeError extends Error {
  override name = 'ConcurrentChangeError';
  constructor(action: LifecycleAction, deviceId: string) {
    super(`${deviceId} changed while ${action} ran; run it again`);
  }
}

/**
 * The entry as the action must see it. Fleet provisioning ends inside AWS IoT (RegisterThing activates the
 * certificate and attaches it to the thing named by the serial), and nothing tells the registry: the hook's
 * claim stays `claimed`. A claimed certificate that AWS IoT reports ACTIVE and attached to the device's thing
 * is the device's binding, so it is recorded (`markBound`) before the action decides — else a fleet device
 * could never be suspended or retired. The same heals a JITR or vending binding whose last step crashed.
 */
async function current(deps: LifecycleDeps, deviceId: string): Promise<DeviceEntry | undefined> {
  const entry = await deps.registry.get(deviceId);
  if (!entry?.certificateId || entry.bindingState !== 'claimed') return entry;
  const record = await deps.iot.describeCertificate(entry.certificateId);
  if (record?.status !== 'ACTIVE') return entry;
  const thingName = entry.thingName ?? deviceId;
  if (!(await deps.iot.listPrincipalThings(record.certificateArn)).includes(thingName)) return entry;
  await deps.registry.markBound(deviceId, entry.certificateId, thingName, deps.now());
  return deps.registry.get(deviceId);
}

/** Runs one action and counts its outcome; a refused transition or a concurrent change is counted, then thrown. */
async function measured(action: LifecycleAction, deps: LifecycleDeps, run: () => Promise<ActionOutcome>): Promise<ActionOutcome> {
  try {
    const result = await run();
    deps.metrics?.count('LifecycleActions', { action, outcome: result.outcome });
    return result;
  } catch (error) {
    const outcome = error instanceof TransitionRefusedError ? 'refused' : error instanceof ConcurrentChangeError ? 'conflict' : 'failed';
    deps.metrics?.count('LifecycleActions', { action, outcome });
    throw error;
  }
}

export const suspendDevice = (deviceId: string, deps: LifecycleDeps): Promise<ActionOutcome> => measured('suspend', deps, () => suspend(deviceId, deps));

export const resumeDevice = (deviceId: string, deps: LifecycleDeps): Promise<ActionOutcome> => measured('resume', deps, () => resume(deviceId, deps));

export const retireDevice = (deviceId: string, options: { keepThing: boolean }, deps: LifecycleDeps): Promise<ActionOutcome> =>
  measured('retire', deps, () => retire(deviceId, options, deps));

async function suspend(deviceId: string, deps: LifecycleDeps): Promise<ActionOutcome> {
  let entry = await current(deps, deviceId);
  const from = stateOf(entry);
  transition('suspend', from, deviceId);
  if (from === 'provisioned') {
    const certificateId = entry!.certificateId!;
    const thingName = entry!.thingName ?? deviceId;
    const groups = (await deps.iot.listThingGroupsForThing(thingName)) ?? [];
    const written = await deps.registry.beginSuspension(
      deviceId,
      {
        at: deps.now(),
        certificateId,
        thingName,
        thingGroups: groups.filter((group) => group !== deps.quarantineGroup),
        ...(entry!.status === 'allowed' ? { previousStatus: 'allowed' as const } : {}),
      },
      entry!.updatedAt,
    );
    if (written === 'changed') throw new ConcurrentChangeError('suspend', deviceId);
    entry = await current(deps, deviceId);
  }
  const suspension = entry?.suspension;
  if (!suspension) throw new Error(`${deviceId} is suspended but its entry has no suspension record`);
  const thingName = suspension.thingName ?? deviceId;
  await closeRotation(deviceId, 'suspended', thingName, new Date(suspension.at), deps);
  // INACTIVE first: it is what cuts the device off (AWS IoT refuses the TLS handshake of an inactive certificate).
  const certificate = await deps.iot.describeCertificate(suspension.certificateId);
  if (certificate && certificate.status === 'ACTIVE') await deps.iot.updateCertificateStatus(suspension.certificateId, 'INACTIVE');
  const groups = await deps.iot.listThingGroupsForThing(thingName);
  if (groups) {
    if (!groups.includes(deps.quarantineGroup)) await deps.iot.addThingToThingGroup(thingName, deps.quarantineGroup);
    for (const group of suspension.thingGroups) if (groups.includes(group)) await deps.iot.removeThingFromThingGroup(thingName, group);
  }
  await deps.timeline.append({
    deviceId,
    at: new Date(suspension.at),
    type: 'suspended',
    actor: deps.actor,
    certificateId: suspension.certificateId,
    key: suspension.certificateId,
  });
  return { outcome: from === 'suspended' ? 'unchanged' : 'done', entry };
}

async function resume(deviceId: string, deps: LifecycleDeps): Promise<ActionOutcome> {
  const entry = await current(deps, deviceId);
  const from = stateOf(entry);
  if (from === 'provisioned' && entry?.lastResume) {
    // A retry of a resume that completed (its crash came after the registry write): record its event, once.
    await appendResumed(deviceId, entry.lastResume, deps);
    return { outcome: 'unchanged', entry };
  }
  transition('resume', from, deviceId);
  const suspension = entry?.suspension;
  if (!suspension) throw new Error(`${deviceId} is suspended but its entry has no suspension record`);
  const thingName = suspension.thingName ?? deviceId;
  const groups = await deps.iot.listThingGroupsForThing(thingName);
  if (groups) {
    for (const group of suspension.thingGroups) if (!groups.includes(group)) await deps.iot.addThingToThingGroup(thingName, group);
    if (groups.includes(deps.quarantineGroup)) await deps.iot.removeThingFromThingGroup(thingName, deps.quarantineGroup);
  }
  const certificate = await deps.iot.describeCertificate(suspension.certificateId);
  if (!certificate || certificate.status === 'REVOKED') {
    // Nothing to resume to: the certificate was revoked or deleted meanwhile. Retire the device (or let it
    // provision a new certificate after `retire` and `allow`).
    throw new TransitionRefusedError('resume', from, deviceId);
  }
  if (certificate.status !== 'ACTIVE') await deps.iot.updateCertificateStatus(suspension.certificateId, 'ACTIVE');
  const at = deps.now();
  const written = await deps.registry.completeResume(deviceId, suspension.certificateId, suspension.previousStatus, at);
  if (written === 'changed') throw new ConcurrentChangeError('resume', deviceId);
  await appendResumed(deviceId, { at: at.toISOString(), certificateId: suspension.certificateId }, deps);
  return { outcome: 'done', entry: await current(deps, deviceId) };
}

function appendResumed(deviceId: string, resume: { at: string; certificateId: string }, deps: LifecycleDeps): Promise<void> {
  return deps.timeline.append({
    deviceId,
    at: new Date(resume.at),
    type: 'resumed',
    actor: deps.actor,
    certificateId: resume.certificateId,
    key: resume.certificateId,
  });
}

/** How long a retirement waits, in all, for a DetachThingPrincipal to propagate before DeleteThing. */
const DELETE_THING_ATTEMPTS = [0, 500, 1_000, 2_000, 4_000];

async function retire(deviceId: string, options: { keepThing: boolean }, deps: LifecycleDeps): Promise<ActionOutcome> {
  let entry = await current(deps, deviceId);
  const from = stateOf(entry);
  transition('retire', from, deviceId);
  if (from !== 'retired' || !entry?.retirement) {
    const certificateId = entry?.certificateId;
    const thingName = entry?.thingName ?? entry?.suspension?.thingName ?? (certificateId ? deviceId : undefined);
    const written = await deps.registry.beginRetirement(
      deviceId,
      { at: deps.now(), keepThing: options.keepThing, ...(certificateId ? { certificateId } : {}), ...(thingName ? { thingName } : {}) },
      entry?.updatedAt,
    );
    if (written === 'changed') throw new ConcurrentChangeError('retire', deviceId);
    entry = await current(deps, deviceId);
  }
  const retirement = entry!.retirement!;
  const unchanged = from === 'retired' && retirement.completedAt !== undefined;
  if (!retirement.completedAt) {
    await closeRotation(deviceId, 'retired', retirement.thingName ?? deviceId, new Date(retirement.at), deps);
    if (retirement.certificateId) {
      const certificate = await deps.iot.describeCertificate(retirement.certificateId);
      if (certificate) {
        if (certificate.status !== 'REVOKED') await deps.iot.updateCertificateStatus(retirement.certificateId, 'REVOKED');
        for (const policy of await deps.iot.listAttachedPolicies(certificate.certificateArn)) {
          await deps.iot.detachPolicy(policy, certificate.certificateArn);
        }
        for (const thing of await deps.iot.listPrincipalThings(certificate.certificateArn)) {
          await deps.iot.detachThingPrincipal(thing, certificate.certificateArn);
        }
      }
    }
    if (retirement.thingName && !retirement.keepThing) await deleteThing(retirement.thingName, deps);
    const written = await deps.registry.completeRetirement(deviceId, retirement.certificateId, deps.now());
    if (written === 'changed') throw new ConcurrentChangeError('retire', deviceId);
  }
  await deps.timeline.append({
    deviceId,
    at: new Date(retirement.at),
    type: 'retired',
    actor: deps.actor,
    ...(retirement.certificateId ? { certificateId: retirement.certificateId } : {}),
    ...(retirement.keepThing ? { detail: 'thing kept' } : {}),
    key: retirement.certificateId ?? 'unbound',
  });
  return { outcome: unchanged ? 'unchanged' : 'done', entry: await current(deps, deviceId) };
}

/**
 * An open certificate rotation (docs/rotation-design.md §1) may have a new certificate ACTIVE and attached to the
 * thing (the CSR step activates it before the commit): left alone, a suspended or retired device could still
 * connect with it. So, right after the registry write that makes every flow refuse the device, the rotation's new
 * certificate is revoked and detached and the rotation rolled back (fail closed) — the commit would refuse to
 * commit it anyway (shared/rotation/commit.ts). `at` is the action's recorded time, so a retry writes one
 * timeline event. A rotation the CSR step moves meanwhile is read again.
 */
async function closeRotation(deviceId: string, reason: 'suspended' | 'retired', thingName: string, at: Date, deps: LifecycleDeps): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const rotation = (await deps.registry.get(deviceId))?.rotation;
    if (!rotation || !OPEN_ROTATION_STATES.has(rotation.state)) return;
    if (rotation.newCertificateId) await revokeAndDetach(rotation.newCertificateId, thingName, deps.iot);
    if ((await deps.registry.rollBackRotation(deviceId, { jobId: rotation.jobId, expected: rotation.state, reason, at })) === 'changed') continue;
    await deps.timeline.append({
      deviceId,
      at,
      type: 'rotation-rolled-back',
      actor: deps.actor,
      ...(rotation.newCertificateId ? { certificateId: rotation.newCertificateId } : {}),
      reason,
      key: `${rotation.jobId}#rolled-back`,
    });
    return;
  }
  throw new ConcurrentChangeError(reason === 'suspended' ? 'suspend' : 'retire', deviceId);
}

/** DeleteThing, waiting out the propagation of the detach that came just before (aws-iot-reference §4). */
async function deleteThing(thingName: string, deps: LifecycleDeps): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (const wait of DELETE_THING_ATTEMPTS) {
    if (wait) await sleep(wait);
    if ((await deps.iot.deleteThing(thingName)) === 'deleted') return;
  }
  throw new Error(`thing ${thingName} still has principals attached after its certificate was detached; run retire again`);
}
