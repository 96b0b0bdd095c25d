import type { ExpiryIndex } from '../expiry/ports';
import { DAY_MS } from '../expiry/sweep';
import type { Actor, Timeline } from '../lifecycle/ports';
import type { DeviceEntry } from '../registry/device-entry';
import { OPEN_ROTATION_STATES, ROTATION_JOB_PREFIX, rotationThingGroup, type Rotation } from './model';

/**
 * Starting a certificate rotation (issue 14; docs/rotation-design.md §1 "S0 start"), for the operator's
 * `rotate` and for the expiry sweep when auto-rotation is on, and the operator's view of it (`rotate status`).
 *
 * (a) each target's registry item gets `rotation = {jobId, state: queued, previousCertificateId}` — only a
 *     bound device that is not suspended, retired or blocked and has no other rotation open; the others are
 *     left out, with why; (b) the queued devices go in the static thing group `rotation-<jobId>`; (c) Jobs
 *     JOB_EXECUTION events are enabled (the commit and roll-back read them), then CreateJob from the stack's
 *     job template for the group, SNAPSHOT.
 *
 * Idempotent and crash-safe: a re-run with the same jobId counts the devices already queued in it as queued
 * (their timeline event is the same key again), re-adds them to the group (AddThingToThingGroup is idempotent),
 * and takes CreateJob's ResourceAlreadyExistsException as done once DescribeJob shows this template. Once the
 * job exists, no device joins it: a SNAPSHOT job does not see later members of its group, so they would be
 * queued and never notified.
 */

export interface RotationJob {
  jobId: string;
  status: string;
  jobTemplateArn?: string;
  targets?: string[];
  rollout?: unknown;
  abort?: unknown;
  timeout?: unknown;
  processDetails?: Record<string, unknown>;
}

export interface JobExecutionSummary {
  thingName: string;
  status: string;
}

/** The registry calls of the start (shared/aws/registry/entries.ts getDevice, ./rotation-start.ts). */
export interface RotationStartRegistry {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  queueRotation(deviceId: string, rotation: Pick<Rotation, 'jobId' | 'startedAt' | 'previousCertificateId'>): Promise<'queued' | 'changed'>;
}

/** The AWS IoT calls of the start (shared/aws/iot/rotation-jobs.ts, shared/aws/iot/things.ts). */
export interface RotationStartIot {
  createThingGroup(thingGroupName: string): Promise<string>;
  addThingToThingGroup(thingName: string, thingGroupName: string): Promise<void>;
  jobExecutionEventsEnabled(): Promise<boolean>;
  enableJobExecutionEvents(): Promise<void>;
  createRotationJob(job: { jobId: string; jobTemplateArn: string; thingGroupArn: string }): Promise<'created' | 'exists'>;
  describeRotationJob(jobId: string): Promise<RotationJob | undefined>;
}

export interface RotationStartDeps {
  registry: RotationStartRegistry;
  iot: RotationStartIot;
  timeline: Timeline;
  /** The stack's AWS::IoT::JobTemplate (resources/rotation.cjs). */
  jobTemplateArn: string;
  actor: Actor;
  now: () => Date;
  /**
   * Waits between two devices' writes (one GetItem, one UpdateItem, one PutItem, one AddThingToThingGroup
   * each): AddThingToThingGroup's default quota is 100 TPS (local/iot-core/traffic.ts DEFAULT_TPS,
   * aws-iot-reference §5), shared with provisioning, which adds each new thing to its group.
   */
  sleep?: (ms: number) => Promise<void>;
  /** Devices per second the start writes (default 50: half of AddThingToThingGroup's quota). */
  devicesPerSecond?: number;
}

/** Why a target was left out of the rotation. */
export type LeftOutReason =
  | 'unknown-device'
  | 'not-bound'
  | 'blocked'
  | 'suspended'
  | 'retired'
  | 'rotation-open'
  | 'already-rotated'
  | 'job-already-created'
  | 'changed';

export interface LeftOut {
  deviceId: string;
  reason: LeftOutReason;
  detail?: string;
}

export interface RotationStartResult {
  jobId: string;
  thingGroup: string;
  queued: string[];
  leftOut: LeftOut[];
  /** created: CreateJob made it now; exists: it was made by an earlier run; none: nothing to rotate (or a dry run). */
  job: 'created' | 'exists' | 'none';
  dryRun: boolean;
}

export class RotationStartError extends Error {
  override name = 'RotationStartError';
}

const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/** The default job id: `rotate-<yyyymmdd-hhmmss>` (UTC). */
export function defaultJobId(at: Date): string {
  const iso = at.toISOString();
  return `${ROTATION_JOB_PREFIX}${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

/** A rotation job id: CreateJob's pattern, and the prefix the roles grant (`job/rotate-*`). */
export function checkJobId(jobId: string): string {
  if (!JOB_ID.test(jobId) || !jobId.startsWith(ROTATION_JOB_PREFIX)) {
    throw new RotationStartError(`job id "${jobId}" must start with "${ROTATION_JOB_PREFIX}" and be 1-64 of [a-zA-Z0-9_-]`);
  }
  // The thing group's name (`rotation-<jobId>`) is at most 128 characters: always true for a 64-character id.
  return jobId;
}

/**
 * Whether the device can join rotation `jobId`: `queue` (write the rotation), `already` (queued in this job
 * by an earlier run: nothing to write), or left out with why.
 */
export function eligibility(entry: DeviceEntry | undefined, jobId: string): { decision: 'queue'; certificateId: string } | { decision: 'already'; rotation: Rotation } | LeftOut {
  if (!entry) return { deviceId: '', reason: 'unknown-device' };
  const deviceId = entry.deviceId;
  if (entry.status === 'blocked' || entry.status === 'suspended' || entry.status === 'retired') return { deviceId, reason: entry.status };
  const rotation = entry.rotation;
  if (rotation?.jobId === jobId) {
    if (OPEN_ROTATION_STATES.has(rotation.state)) return { decision: 'already', rotation };
    return { deviceId, reason: 'already-rotated', detail: `${rotation.state}${rotation.reason ? ` (${rotation.reason})` : ''} in this job` };
  }
  if (rotation && OPEN_ROTATION_STATES.has(rotation.state)) return { deviceId, reason: 'rotation-open', detail: `${rotation.jobId} is ${rotation.state}` };
  // Only a binding the registry holds as bound (an ACTIVE certificate, attached): the CSR step admits only those.
  if (entry.bindingState !== 'bound' || !entry.certificateId || !entry.thingName) {
    return { deviceId, reason: 'not-bound', ...(entry.bindingState ? { detail: `binding ${entry.bindingState}` } : {}) };
  }
  return { decision: 'queue', certificateId: entry.certificateId };
}

const isLeftOut = (value: ReturnType<typeof eligibility>): value is LeftOut => 'reason' in value;

export async function startRotation(deps: RotationStartDeps, request: { jobId: string; deviceIds: readonly string[]; dryRun?: boolean }): Promise<RotationStartResult> {
  const jobId = checkJobId(request.jobId);
  const thingGroup = rotationThingGroup(jobId);
  const dryRun = request.dryRun === true;
  const deviceIds = [...new Set(request.deviceIds)].sort();
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const interval = 1000 / (deps.devicesPerSecond ?? 50);

  // A job of this id already there: an earlier run got to (c). It must be ours (this template).
  const existing = await deps.iot.describeRotationJob(jobId);
  if (existing && existing.jobTemplateArn !== deps.jobTemplateArn) {
    throw new RotationStartError(`job ${jobId} exists and was not made from the rotation template ${deps.jobTemplateArn}: choose another --job-id`);
  }

  const queued: string[] = [];
  const leftOut: LeftOut[] = [];
  // (a) the registry, device by device, paced.
  let last = 0;
  for (const deviceId of deviceIds) {
    const wait = last + interval - Date.now();
    if (!dryRun && last > 0 && wait > 0) await sleep(wait);
    last = Date.now();
    const entry = await deps.registry.get(deviceId);
    const decision = eligibility(entry, jobId);
    if (isLeftOut(decision)) {
      leftOut.push({ ...decision, deviceId });
      continue;
    }
    if (decision.decision === 'already') {
      queued.push(deviceId);
      if (!dryRun) await recordQueued(deps, deviceId, decision.rotation);
      continue;
    }
    if (existing) {
      leftOut.push({ deviceId, reason: 'job-already-created', detail: `job ${jobId} is ${existing.status}; start another job for it` });
      continue;
    }
    if (dryRun) {
      queued.push(deviceId);
      continue;
    }
    const rotation = { jobId, startedAt: deps.now().toISOString(), previousCertificateId: decision.certificateId };
    if ((await deps.registry.queueRotation(deviceId, rotation)) === 'changed') {
      // Changed since the read (a suspension, a new binding, another start): decide again on what is there now.
      const again = eligibility(await deps.registry.get(deviceId), jobId);
      if (isLeftOut(again)) leftOut.push({ ...again, deviceId });
      else if (again.decision === 'already') {
        queued.push(deviceId);
        await recordQueued(deps, deviceId, again.rotation);
      } else leftOut.push({ deviceId, reason: 'changed', detail: 'the registry item changed while the rotation started; run again' });
      continue;
    }
    queued.push(deviceId);
    await recordQueued(deps, deviceId, { ...rotation, state: 'queued', updatedAt: rotation.startedAt });
  }
  if (dryRun || queued.length === 0) return { jobId, thingGroup, queued, leftOut, job: existing ? 'exists' : 'none', dryRun };

  // (b) the job's static group: the targets of a SNAPSHOT job are its members when CreateJob runs.
  const thingGroupArn = await deps.iot.createThingGroup(thingGroup);
  last = 0;
  for (const deviceId of queued) {
    const wait = last + interval - Date.now();
    if (last > 0 && wait > 0) await sleep(wait);
    last = Date.now();
    await deps.iot.addThingToThingGroup(deviceId, thingGroup);
  }

  // (c) the commit and roll-back need the job-execution events; then the job.
  if (!(await deps.iot.jobExecutionEventsEnabled())) await deps.iot.enableJobExecutionEvents();
  if (existing) return { jobId, thingGroup, queued, leftOut, job: 'exists', dryRun };
  const created = await deps.iot.createRotationJob({ jobId, jobTemplateArn: deps.jobTemplateArn, thingGroupArn });
  if (created === 'exists') {
    // Made between our DescribeJob and CreateJob (a concurrent run of the same start): ours only if from this template.
    const job = await deps.iot.describeRotationJob(jobId);
    if (job?.jobTemplateArn !== deps.jobTemplateArn) throw new RotationStartError(`job ${jobId} exists and was not made from the rotation template ${deps.jobTemplateArn}`);
  }
  return { jobId, thingGroup, queued, leftOut, job: created, dryRun };
}

/** The `rotation-queued` event, once per (device, job): its time and key are the rotation's own. */
async function recordQueued(deps: RotationStartDeps, deviceId: string, rotation: Rotation): Promise<void> {
  await deps.timeline.append({
    deviceId,
    at: new Date(rotation.startedAt),
    type: 'rotation-queued',
    actor: deps.actor,
    certificateId: rotation.previousCertificateId,
    detail: `job ${rotation.jobId}`,
    key: `${rotation.jobId}#queued`,
  });
}

// ---- targets ----

export type RotationTargets =
  | { kind: 'devices'; deviceIds: string[] }
  | { kind: 'thing-group'; thingGroup: string }
  | { kind: 'expiring-within'; days: number }
  | { kind: 'older-than'; days: number };

export interface TargetSources {
  /** ListThingsInThingGroup (thing name = device id); `undefined` for a group that does not exist. */
  listThingsInThingGroup(thingGroupName: string): Promise<string[] | undefined>;
  /** The registry's expiry indexes (shared/aws/registry/expiry-index.ts). */
  index: ExpiryIndex;
}

/** The device ids a rotation's targets name, sorted and once each. */
export async function resolveTargets(targets: RotationTargets, sources: TargetSources, now: Date): Promise<string[]> {
  const ids = new Set<string>();
  switch (targets.kind) {
    case 'devices':
      for (const id of targets.deviceIds) ids.add(id);
      break;
    case 'thing-group': {
      const things = await sources.listThingsInThingGroup(targets.thingGroup);
      if (things === undefined) throw new RotationStartError(`thing group ${targets.thingGroup} does not exist`);
      for (const thing of things) ids.add(thing);
      break;
    }
    case 'expiring-within':
      for await (const c of sources.index.expiringBy(new Date(now.getTime() + targets.days * DAY_MS))) ids.add(c.deviceId);
      break;
    case 'older-than':
      for await (const c of sources.index.issuedBy(new Date(now.getTime() - targets.days * DAY_MS))) ids.add(c.deviceId);
      break;
  }
  return [...ids].sort();
}

// ---- status and repair ----

export type DeviceRotationView = 'queued' | 'in progress' | 'succeeded' | 'rolled back' | 'refused' | 'not in this job';

export interface DeviceRotationStatus {
  deviceId: string;
  view: DeviceRotationView;
  state?: Rotation['state'];
  execution?: string;
  reason?: string;
  /** Set by --repair: this device went back to no open rotation. */
  repaired?: boolean;
  /** Set by --repair: the execution's final status, handed to the commit function again (it had not applied it). */
  redelivered?: string;
}

export interface RotationStatus {
  jobId: string;
  job?: RotationJob;
  devices: DeviceRotationStatus[];
  counts: Record<DeviceRotationView, number>;
}

export interface RotationStatusDeps {
  registry: Pick<RotationStartRegistry, 'get'> & {
    /** Up to STATUS_BATCH devices' rotations in one read (BatchGetItem); without it, one `get` per device. */
    rotationsOf?(deviceIds: readonly string[]): Promise<Map<string, Rotation | undefined>>;
    rollBackQueuedRotation?(deviceId: string, jobId: string, reason: string, at: Date): Promise<'rolled-back' | 'changed'>;
  };
  iot: {
    describeRotationJob(jobId: string): Promise<RotationJob | undefined>;
    listJobExecutionsForJob(jobId: string): Promise<JobExecutionSummary[]>;
    listThingsInThingGroup(thingGroupName: string): Promise<string[] | undefined>;
  };
  timeline?: Timeline;
  actor?: Actor;
  /**
   * --repair: hands the thing's job execution, as a Jobs event, to the commit function (rotationEvents) again;
   * answers the status it handed over, `undefined` when the execution is not final after all.
   */
  redeliver?(jobId: string, thingName: string): Promise<string | undefined>;
  now: () => Date;
}

/** The job execution statuses that are final (a Jobs event is published for each). */
export const TERMINAL_EXECUTION: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED']);
/** A job still handing out executions: a target without one may still get it. */
const LIVE_JOB = new Set(['IN_PROGRESS', 'SCHEDULED']);

function viewOf(rotation: Rotation | undefined, jobId: string, execution: string | undefined): DeviceRotationView {
  if (!rotation || rotation.jobId !== jobId) return 'not in this job';
  switch (rotation.state) {
    case 'queued':
      return execution === 'IN_PROGRESS' ? 'in progress' : 'queued';
    case 'issuing':
    case 'issued':
      return 'in progress';
    case 'committed':
      return 'succeeded';
    case 'rolled-back':
      return 'rolled back';
    case 'refused':
      return 'refused';
  }
}

/** BatchGetItem's most keys a request (DynamoDB quotas). */
export const STATUS_BATCH = 100;

/** The rotation of each device: STATUS_BATCH a read when the registry reads in batches, else one at a time. */
async function readRotations(registry: RotationStatusDeps['registry'], deviceIds: readonly string[]): Promise<Map<string, Rotation | undefined>> {
  const rotations = new Map<string, Rotation | undefined>();
  if (registry.rotationsOf) {
    for (let i = 0; i < deviceIds.length; i += STATUS_BATCH) {
      const batch = deviceIds.slice(i, i + STATUS_BATCH);
      const read = await registry.rotationsOf(batch);
      for (const deviceId of batch) rotations.set(deviceId, read.get(deviceId));
    }
    return rotations;
  }
  for (const deviceId of deviceIds) rotations.set(deviceId, (await registry.get(deviceId))?.rotation);
  return rotations;
}

/**
 * Per device of the job (the members of its thing group, and every thing with an execution): what the
 * registry says of its rotation, and its job execution's status. With `repair`, a device still `queued` whose
 * execution ended, or that has none in a job that no longer hands them out, was never going to send a CSR:
 * it goes back to no open rotation (`rolled-back`, reason `not-notified`) so that another rotation can take it.
 * A device past the CSR (`issuing`, `issued`) whose execution ended but whose rotation does not show it (the Jobs
 * event was lost, or its rule disabled at the time) gets that event again: the commit function applies it as it
 * would have (commit, or roll back), and a repeat is harmless (it converges on the same state).
 */
export async function rotationStatus(deps: RotationStatusDeps, jobId: string, options: { repair?: boolean } = {}): Promise<RotationStatus> {
  checkJobId(jobId);
  const job = await deps.iot.describeRotationJob(jobId);
  const executions = job ? await deps.iot.listJobExecutionsForJob(jobId) : [];
  const byThing = new Map(executions.map((e) => [e.thingName, e.status]));
  const members = (await deps.iot.listThingsInThingGroup(rotationThingGroup(jobId))) ?? [];
  const deviceIds = [...new Set([...members, ...byThing.keys()])].sort();
  const rotations = await readRotations(deps.registry, deviceIds);
  const devices: DeviceRotationStatus[] = [];
  for (const deviceId of deviceIds) {
    const rotation = rotations.get(deviceId);
    const execution = byThing.get(deviceId);
    let view = viewOf(rotation, jobId, execution);
    const status: DeviceRotationStatus = { deviceId, view, ...(rotation?.jobId === jobId ? { state: rotation.state } : {}), ...(execution ? { execution } : {}) };
    if (rotation?.jobId === jobId && rotation.reason) status.reason = rotation.reason;
    if (rotation?.jobId !== jobId && rotation) status.reason = `its rotation is ${rotation.jobId} (${rotation.state})`;
    const stranded = rotation?.jobId === jobId && rotation.state === 'queued' && (execution ? TERMINAL_EXECUTION.has(execution) : !LIVE_JOB.has(job?.status ?? 'GONE'));
    if (options.repair && stranded && deps.registry.rollBackQueuedRotation) {
      const at = deps.now();
      if ((await deps.registry.rollBackQueuedRotation(deviceId, jobId, 'not-notified', at)) === 'rolled-back') {
        await deps.timeline?.append({
          deviceId,
          at,
          type: 'rotation-rolled-back',
          actor: deps.actor ?? { kind: 'cli', id: 'rotate-status-repair' },
          certificateId: rotation.previousCertificateId,
          reason: 'not-notified',
          detail: `job ${jobId}: ${execution ? `execution ${execution}` : 'no execution'} without a CSR`,
          key: `${jobId}#rolled-back`,
        });
        view = 'rolled back';
        Object.assign(status, { view, state: 'rolled-back', reason: 'not-notified', repaired: true });
      }
    }
    const unapplied =
      rotation?.jobId === jobId &&
      (rotation.state === 'issuing' || rotation.state === 'issued') &&
      execution !== undefined &&
      TERMINAL_EXECUTION.has(execution) &&
      !(execution === 'SUCCEEDED' && rotation.jobStatus === 'SUCCEEDED');
    if (options.repair && unapplied && deps.redeliver) {
      const redelivered = await deps.redeliver(jobId, deviceId);
      if (redelivered) status.redelivered = redelivered;
    }
    devices.push(status);
  }
  const counts: Record<DeviceRotationView, number> = { queued: 0, 'in progress': 0, succeeded: 0, 'rolled back': 0, refused: 0, 'not in this job': 0 };
  for (const d of devices) counts[d.view]++;
  return { jobId, ...(job ? { job } : {}), devices, counts };
}
