import type { ExpiryFinding } from '../../shared/expiry/ports';
import type { TimelineEvent } from '../../shared/lifecycle/ports';
import type { DeviceEntry } from '../../shared/registry/device-entry';
import { autoRotate, autoRotationJobId, AUTO_ROTATION_MAX_DEVICES } from '../../shared/rotation/auto';
import type { Rotation } from '../../shared/rotation/model';
import {
  checkJobId,
  defaultJobId,
  resolveTargets,
  rotationStatus,
  RotationStartError,
  STATUS_BATCH,
  startRotation,
  type RotationJob,
  type RotationStartDeps,
} from '../../shared/rotation/start';

/**
 * The rotation's start (design §1 S0) over in-memory ports that keep AWS's semantics where the start relies
 * on them: the registry's conditional write (shared/aws/registry/rotation-start.ts's condition), an idempotent
 * CreateThingGroup and AddThingToThingGroup, CreateJob refusing a taken id. A crash is a port that throws once.
 */

const TEMPLATE = 'arn:aws:iot:us-east-1:123456789012:jobtemplate/iot-provisioner-dev-rotation';
const NOW = new Date('2026-12-01T10:00:00.000Z');

function bound(deviceId: string, extra: Partial<DeviceEntry> = {}): DeviceEntry {
  return { deviceId, status: 'allowed', certificateId: `cert-${deviceId}`, bindingState: 'bound', thingName: deviceId, ...extra };
}

type Crash = 'queue' | 'timeline' | 'group' | 'add' | 'events' | 'createJob';

function world(entries: DeviceEntry[]) {
  const items = new Map(entries.map((e) => [e.deviceId, structuredClone(e)]));
  const groups = new Map<string, Set<string>>();
  const jobs = new Map<string, RotationJob & { targets: string[] }>();
  const events = new Map<string, TimelineEvent>();
  let jobEvents = false;
  const calls: string[] = [];
  const crashes = new Set<Crash>();
  const maybeCrash = (point: Crash) => {
    if (crashes.delete(point)) throw new Error(`crash at ${point}`);
  };
  const deps: RotationStartDeps = {
    registry: {
      async get(deviceId) {
        calls.push(`get ${deviceId}`);
        const item = items.get(deviceId);
        return item ? structuredClone(item) : undefined;
      },
      async queueRotation(deviceId, rotation) {
        calls.push(`queue ${deviceId}`);
        const item = items.get(deviceId);
        const open = item?.rotation && ['queued', 'issuing', 'issued'].includes(item.rotation.state);
        const ok =
          item &&
          item.bindingState === 'bound' &&
          item.certificateId === rotation.previousCertificateId &&
          (item.status === undefined || item.status === 'allowed') &&
          (!item.rotation || (item.rotation.jobId !== rotation.jobId && !open));
        if (!ok) return 'changed';
        item.rotation = { ...rotation, state: 'queued', updatedAt: rotation.startedAt };
        maybeCrash('queue');
        return 'queued';
      },
    },
    iot: {
      async createThingGroup(name) {
        calls.push(`createThingGroup ${name}`);
        maybeCrash('group');
        if (!groups.has(name)) groups.set(name, new Set());
        return `arn:aws:iot:us-east-1:123456789012:thinggroup/${name}`;
      },
      async addThingToThingGroup(thing, group) {
        calls.push(`add ${thing}`);
        groups.get(group)!.add(thing);
        maybeCrash('add');
      },
      async jobExecutionEventsEnabled() {
        calls.push('describeEvents');
        return jobEvents;
      },
      async enableJobExecutionEvents() {
        calls.push('enableEvents');
        maybeCrash('events');
        jobEvents = true;
      },
      async createRotationJob({ jobId, jobTemplateArn, thingGroupArn }) {
        calls.push(`createJob ${jobId}`);
        if (jobs.has(jobId)) return 'exists';
        const group = thingGroupArn.split('thinggroup/')[1]!;
        jobs.set(jobId, { jobId, status: 'IN_PROGRESS', jobTemplateArn, targets: [...groups.get(group)!] });
        maybeCrash('createJob');
        return 'created';
      },
      async describeRotationJob(jobId) {
        calls.push(`describeJob ${jobId}`);
        return jobs.get(jobId);
      },
    },
    timeline: {
      async append(event) {
        maybeCrash('timeline');
        events.set(`${event.deviceId} ${event.at.toISOString()} ${event.type} ${event.key}`, event);
      },
    },
    jobTemplateArn: TEMPLATE,
    actor: { kind: 'cli', id: 'test' },
    now: () => NOW,
    sleep: async () => {},
    devicesPerSecond: 1_000_000,
  };
  return { items, groups, jobs, events, calls, crashes, deps, jobEventsEnabled: () => jobEvents };
}

const FLEET = [
  bound('d1'),
  bound('d2'),
  bound('d3', { status: undefined }), // ca mode: no status, provisioned
  bound('claimed', { bindingState: 'claimed' }),
  { deviceId: 'allowed-only', status: 'allowed' } as DeviceEntry,
  bound('susp', { status: 'suspended' }),
  bound('ret', { status: 'retired' }),
  bound('blk', { status: 'blocked' }),
  bound('busy', { rotation: { jobId: 'rotate-other', state: 'issued', startedAt: 'x', updatedAt: 'x', previousCertificateId: 'cert-busy' } }),
  bound('done', { rotation: { jobId: 'rotate-old', state: 'committed', startedAt: 'x', updatedAt: 'x', previousCertificateId: 'cert-0' } }),
];
const TARGETS = ['d1', 'd2', 'd3', 'claimed', 'allowed-only', 'susp', 'ret', 'blk', 'busy', 'done', 'ghost'];

describe('startRotation', () => {
  it('queues the devices that can rotate, groups them, enables job-execution events and creates the job from the template', async () => {
    const w = world(FLEET);
    const result = await startRotation(w.deps, { jobId: 'rotate-w1', deviceIds: TARGETS });
    expect(result.queued).toEqual(['d1', 'd2', 'd3', 'done']);
    expect(Object.fromEntries(result.leftOut.map((l) => [l.deviceId, l.reason]))).toEqual({
      claimed: 'not-bound',
      'allowed-only': 'not-bound',
      susp: 'suspended',
      ret: 'retired',
      blk: 'blocked',
      busy: 'rotation-open',
      ghost: 'unknown-device',
    });
    expect(result.leftOut.find((l) => l.deviceId === 'busy')!.detail).toBe('rotate-other is issued');
    expect(result.job).toBe('created');
    expect(w.items.get('d1')!.rotation).toEqual({ jobId: 'rotate-w1', state: 'queued', startedAt: NOW.toISOString(), updatedAt: NOW.toISOString(), previousCertificateId: 'cert-d1' });
    // A device whose last rotation is over starts a new one from its current certificate.
    expect(w.items.get('done')!.rotation).toMatchObject({ jobId: 'rotate-w1', state: 'queued', previousCertificateId: 'cert-done' });
    // The left-out ones are untouched.
    expect(w.items.get('busy')!.rotation!.jobId).toBe('rotate-other');
    expect(w.items.get('susp')!.rotation).toBeUndefined();
    expect([...w.groups.get('rotation-rotate-w1')!].sort()).toEqual(['d1', 'd2', 'd3', 'done']);
    expect(w.jobs.get('rotate-w1')).toMatchObject({ jobTemplateArn: TEMPLATE, targets: ['d1', 'd2', 'd3', 'done'] });
    expect(w.jobEventsEnabled()).toBe(true);
    const queuedEvents = [...w.events.values()].filter((e) => e.type === 'rotation-queued');
    expect(queuedEvents.map((e) => e.deviceId).sort()).toEqual(['d1', 'd2', 'd3', 'done']);
    expect(queuedEvents[0]).toMatchObject({ key: 'rotate-w1#queued', certificateId: expect.stringMatching(/^cert-/), at: NOW });
    // Order of the steps: every registry write, then the group, then the events and the job.
    const firstAdd = w.calls.indexOf('add d1');
    expect(w.calls.lastIndexOf('queue done')).toBeLessThan(w.calls.indexOf('createThingGroup rotation-rotate-w1'));
    expect(firstAdd).toBeGreaterThan(w.calls.indexOf('createThingGroup rotation-rotate-w1'));
    expect(w.calls.indexOf('enableEvents')).toBeLessThan(w.calls.indexOf('createJob rotate-w1'));
  });

  it('does not enable job events again when they are on', async () => {
    const w = world([bound('d1')]);
    await startRotation(w.deps, { jobId: 'rotate-a', deviceIds: ['d1'] });
    await startRotation(w.deps, { jobId: 'rotate-b', deviceIds: ['d1'] }); // left out: rotation open
    const w2 = world([bound('d1'), bound('d2')]);
    await startRotation(w2.deps, { jobId: 'rotate-a', deviceIds: ['d1'] });
    await startRotation(w2.deps, { jobId: 'rotate-b', deviceIds: ['d2'] });
    expect(w2.calls.filter((c) => c === 'enableEvents')).toHaveLength(1);
    expect(w2.calls.filter((c) => c === 'describeEvents')).toHaveLength(2);
  });

  it('creates no job and writes nothing when no device can rotate', async () => {
    const w = world([bound('susp', { status: 'suspended' })]);
    const result = await startRotation(w.deps, { jobId: 'rotate-none', deviceIds: ['susp', 'ghost'] });
    expect(result).toMatchObject({ queued: [], job: 'none' });
    expect(w.jobs.size).toBe(0);
    expect(w.groups.size).toBe(0);
    expect(w.events.size).toBe(0);
  });

  it('a dry run decides the same and writes nothing', async () => {
    const w = world(FLEET);
    const result = await startRotation(w.deps, { jobId: 'rotate-dry', deviceIds: TARGETS, dryRun: true });
    expect(result.queued).toEqual(['d1', 'd2', 'd3', 'done']);
    expect(result.leftOut).toHaveLength(7);
    expect(w.calls.filter((c) => !c.startsWith('get ') && !c.startsWith('describeJob'))).toEqual([]);
    expect(w.items.get('d1')!.rotation).toBeUndefined();
  });

  it('a re-run with the same job id changes nothing and reports the same devices', async () => {
    const w = world(FLEET);
    const first = await startRotation(w.deps, { jobId: 'rotate-w1', deviceIds: TARGETS });
    const itemsAfterFirst = structuredClone([...w.items.entries()]);
    const eventsAfterFirst = w.events.size;
    const again = await startRotation(w.deps, { jobId: 'rotate-w1', deviceIds: TARGETS });
    expect(again.queued).toEqual(first.queued);
    expect(again.job).toBe('exists');
    expect([...w.items.entries()]).toEqual(itemsAfterFirst);
    expect(w.events.size).toBe(eventsAfterFirst);
    expect(w.jobs.size).toBe(1);
    // Once the job exists (SNAPSHOT), no device joins it: it would be queued and never notified.
    w.items.set('late', bound('late'));
    const late = await startRotation(w.deps, { jobId: 'rotate-w1', deviceIds: ['late'] });
    expect(late.leftOut).toEqual([expect.objectContaining({ deviceId: 'late', reason: 'job-already-created' })]);
    expect(w.items.get('late')!.rotation).toBeUndefined();
  });

  it('a device already progressed in this job (issuing) is counted, never reset to queued', async () => {
    const issuing: Rotation = { jobId: 'rotate-w1', state: 'issuing', startedAt: '2026-11-30T00:00:00.000Z', updatedAt: '2026-11-30T00:01:00.000Z', previousCertificateId: 'cert-d1', newKeySha256: 'k' };
    const w = world([bound('d1', { rotation: issuing })]);
    const result = await startRotation(w.deps, { jobId: 'rotate-w1', deviceIds: ['d1'] });
    expect(result.queued).toEqual(['d1']);
    expect(w.items.get('d1')!.rotation).toEqual(issuing);
  });

  it('a device that changed between the read and the write is decided again on what is there', async () => {
    const w = world([bound('d1')]);
    const get = w.deps.registry.get;
    let reads = 0;
    w.deps.registry.get = async (id) => {
      const entry = await get(id);
      // The first read sees it bound; the device is suspended before the write.
      if (++reads === 1) w.items.get(id)!.status = 'suspended';
      return entry;
    };
    const result = await startRotation(w.deps, { jobId: 'rotate-c', deviceIds: ['d1'] });
    expect(result.leftOut).toEqual([{ deviceId: 'd1', reason: 'suspended' }]);
    expect(result.job).toBe('none');
  });

  it.each<Crash>(['queue', 'timeline', 'group', 'add', 'events', 'createJob'])('a crash at %s, then the same start again, converges', async (point) => {
    const reference = world(FLEET);
    await startRotation(reference.deps, { jobId: 'rotate-w1', deviceIds: TARGETS });
    const w = world(FLEET);
    w.crashes.add(point);
    await expect(startRotation(w.deps, { jobId: 'rotate-w1', deviceIds: TARGETS })).rejects.toThrow(`crash at ${point}`);
    const result = await startRotation(w.deps, { jobId: 'rotate-w1', deviceIds: TARGETS });
    expect(result.queued).toEqual(['d1', 'd2', 'd3', 'done']);
    expect([...w.items.entries()]).toEqual([...reference.items.entries()]);
    expect([...w.groups.get('rotation-rotate-w1')!].sort()).toEqual(['d1', 'd2', 'd3', 'done']);
    expect(w.jobs.size).toBe(1);
    expect(w.jobs.get('rotate-w1')!.targets.sort()).toEqual(['d1', 'd2', 'd3', 'done']);
    expect([...w.events.keys()].sort()).toEqual([...reference.events.keys()].sort());
    expect(w.jobEventsEnabled()).toBe(true);
  });

  it('refuses a job id taken by a job of another template', async () => {
    const w = world([bound('d1')]);
    w.jobs.set('rotate-x', { jobId: 'rotate-x', status: 'IN_PROGRESS', jobTemplateArn: 'arn:aws:iot:us-east-1:123456789012:jobtemplate/other', targets: [] });
    await expect(startRotation(w.deps, { jobId: 'rotate-x', deviceIds: ['d1'] })).rejects.toThrow(RotationStartError);
    expect(w.items.get('d1')!.rotation).toBeUndefined();
  });

  it('paces the per-device writes', async () => {
    const w = world([bound('d1'), bound('d2'), bound('d3')]);
    const waits: number[] = [];
    w.deps.sleep = async (ms) => {
      waits.push(ms);
    };
    w.deps.devicesPerSecond = 0.5; // one device every 2 s
    await startRotation(w.deps, { jobId: 'rotate-p', deviceIds: ['d1', 'd2', 'd3'] });
    // Two waits before the 2nd and 3rd registry writes, two before the 2nd and 3rd AddThingToThingGroup.
    expect(waits).toHaveLength(4);
    for (const ms of waits) expect(ms).toBeGreaterThan(1_900);
  });
});

describe('job ids', () => {
  it('defaults to rotate-<yyyymmdd-hhmmss> and accepts only rotate-… ids of CreateJob’s pattern', () => {
    expect(defaultJobId(new Date('2026-12-01T09:08:07.654Z'))).toBe('rotate-20261201-090807');
    expect(checkJobId('rotate-a_b-1')).toBe('rotate-a_b-1');
    expect(() => checkJobId('wave-1')).toThrow(/must start with "rotate-"/);
    expect(() => checkJobId('rotate-a b')).toThrow(RotationStartError);
    expect(() => checkJobId(`rotate-${'x'.repeat(60)}`)).toThrow(RotationStartError);
  });
});

describe('resolveTargets', () => {
  const certificate = (deviceId: string) => ({ deviceId, certificateId: 'c', notBefore: new Date(0), notAfter: new Date(0), issuer: { subject: '', awsIot: false } });
  const asyncOf = async function* <T>(values: T[]) {
    yield* values;
  };
  it('reads a thing group, and the expiry indexes at the right bound', async () => {
    const asked: Array<[string, string]> = [];
    const sources = {
      listThingsInThingGroup: async (g: string) => (g === 'line-3' ? ['b', 'a', 'b'] : undefined),
      index: {
        expiringBy: (at: Date) => (asked.push(['expiringBy', at.toISOString()]), asyncOf([certificate('x'), certificate('y')])),
        issuedBy: (at: Date) => (asked.push(['issuedBy', at.toISOString()]), asyncOf([certificate('z')])),
      },
    };
    expect(await resolveTargets({ kind: 'devices', deviceIds: ['b', 'a', 'a'] }, sources, NOW)).toEqual(['a', 'b']);
    expect(await resolveTargets({ kind: 'thing-group', thingGroup: 'line-3' }, sources, NOW)).toEqual(['a', 'b']);
    await expect(resolveTargets({ kind: 'thing-group', thingGroup: 'nope' }, sources, NOW)).rejects.toThrow('thing group nope does not exist');
    expect(await resolveTargets({ kind: 'expiring-within', days: 30 }, sources, NOW)).toEqual(['x', 'y']);
    expect(await resolveTargets({ kind: 'older-than', days: 365 }, sources, NOW)).toEqual(['z']);
    expect(asked).toEqual([
      ['expiringBy', '2026-12-31T10:00:00.000Z'],
      ['issuedBy', '2025-12-01T10:00:00.000Z'],
    ]);
  });
});

describe('rotationStatus', () => {
  const rot = (state: Rotation['state'], extra: Partial<Rotation> = {}): Rotation => ({ jobId: 'rotate-s', state, startedAt: 's', updatedAt: 'u', previousCertificateId: 'old', ...extra });
  function statusWorld(jobStatus: string, executions: Record<string, string>) {
    const items = new Map<string, DeviceEntry>([
      ['q1', bound('q1', { rotation: rot('queued') })],
      ['q2', bound('q2', { rotation: rot('queued') })],
      ['q3', bound('q3', { rotation: rot('queued') })],
      ['ip', bound('ip', { rotation: rot('issued') })],
      ['ok', bound('ok', { rotation: rot('committed') })],
      ['rb', bound('rb', { rotation: rot('rolled-back', { reason: 'TIMED_OUT' }) })],
      ['rf', bound('rf', { rotation: rot('refused', { reason: 'key-reused' }) })],
      ['other', bound('other', { rotation: { ...rot('queued'), jobId: 'rotate-later' } })],
    ]);
    const appended: TimelineEvent[] = [];
    const deps = {
      registry: {
        get: async (id: string) => structuredClone(items.get(id)),
        rollBackQueuedRotation: async (id: string, jobId: string, reason: string, at: Date) => {
          const r = items.get(id)?.rotation;
          if (r?.jobId !== jobId || r.state !== 'queued') return 'changed' as const;
          Object.assign(r, { state: 'rolled-back', reason, updatedAt: at.toISOString() });
          return 'rolled-back' as const;
        },
      },
      iot: {
        describeRotationJob: async () => ({ jobId: 'rotate-s', status: jobStatus, jobTemplateArn: TEMPLATE }),
        listJobExecutionsForJob: async () => Object.entries(executions).map(([thingName, status]) => ({ thingName, status })),
        listThingsInThingGroup: async () => [...items.keys()],
      },
      timeline: { append: async (e: TimelineEvent) => void appended.push(e) },
      now: () => NOW,
    };
    return { items, appended, deps };
  }

  it('shows each device of the job with its registry state, execution and reason, and the counts', async () => {
    const w = statusWorld('IN_PROGRESS', { q1: 'QUEUED', q2: 'IN_PROGRESS', ip: 'IN_PROGRESS', ok: 'SUCCEEDED', rb: 'TIMED_OUT', rf: 'FAILED' });
    const status = await rotationStatus(w.deps, 'rotate-s');
    const by = Object.fromEntries(status.devices.map((d) => [d.deviceId, d]));
    expect(by.q1).toMatchObject({ view: 'queued', execution: 'QUEUED', state: 'queued' });
    expect(by.q2).toMatchObject({ view: 'in progress' });
    expect(by.q3).toMatchObject({ view: 'queued' });
    expect(by.q3!.execution).toBeUndefined();
    expect(by.ip).toMatchObject({ view: 'in progress', state: 'issued' });
    expect(by.ok).toMatchObject({ view: 'succeeded' });
    expect(by.rb).toMatchObject({ view: 'rolled back', reason: 'TIMED_OUT' });
    expect(by.rf).toMatchObject({ view: 'refused', reason: 'key-reused' });
    expect(by.other).toMatchObject({ view: 'not in this job', reason: 'its rotation is rotate-later (queued)' });
    expect(status.counts).toEqual({ queued: 2, 'in progress': 2, succeeded: 1, 'rolled back': 1, refused: 1, 'not in this job': 1 });
    expect(status.job?.status).toBe('IN_PROGRESS');
  });

  it('--repair: queued devices whose execution ended, or that have none in an ended job, go back to no open rotation', async () => {
    const w = statusWorld('CANCELED', { q1: 'CANCELED', q2: 'QUEUED' });
    const status = await rotationStatus(w.deps, 'rotate-s', { repair: true });
    const by = Object.fromEntries(status.devices.map((d) => [d.deviceId, d]));
    expect(by.q1).toMatchObject({ view: 'rolled back', reason: 'not-notified', repaired: true });
    expect(by.q3).toMatchObject({ view: 'rolled back', reason: 'not-notified', repaired: true });
    // An execution still QUEUED may still be delivered: left alone.
    expect(by.q2).toMatchObject({ view: 'queued' });
    expect(by.q2!.repaired).toBeUndefined();
    expect(w.items.get('q1')!.rotation).toMatchObject({ state: 'rolled-back', reason: 'not-notified' });
    expect(w.items.get('q2')!.rotation!.state).toBe('queued');
    expect(w.items.get('other')!.rotation!.state).toBe('queued');
    expect(w.appended.map((e) => [e.deviceId, e.type, e.key])).toEqual([
      ['q1', 'rotation-rolled-back', 'rotate-s#rolled-back'],
      ['q3', 'rotation-rolled-back', 'rotate-s#rolled-back'],
    ]);
  });

  it('--repair: a device past the CSR whose execution ended without the rotation showing it gets the Jobs event again', async () => {
    const w = statusWorld('IN_PROGRESS', { ip: 'CANCELED', sx: 'SUCCEEDED', sr: 'SUCCEEDED', is: 'FAILED', ip2: 'IN_PROGRESS', ok: 'SUCCEEDED', rb: 'TIMED_OUT' });
    // sx: SUCCEEDED not recorded (its event lost); sr: recorded, waiting for the new certificate's connect.
    w.items.set('sx', bound('sx', { rotation: rot('issued', { newConnectedAt: 'c' }) }));
    w.items.set('sr', bound('sr', { rotation: rot('issued', { jobStatus: 'SUCCEEDED' }) }));
    w.items.set('is', bound('is', { rotation: rot('issuing') }));
    w.items.set('ip2', bound('ip2', { rotation: rot('issued') }));
    const resent: string[] = [];
    const deps = { ...w.deps, redeliver: async (jobId: string, thing: string) => (resent.push(`${jobId}/${thing}`), ({ ip: 'CANCELED', sx: 'SUCCEEDED', is: 'FAILED' })[thing]) };
    const status = await rotationStatus(deps, 'rotate-s', { repair: true });
    const by = Object.fromEntries(status.devices.map((d) => [d.deviceId, d]));
    expect(resent.sort()).toEqual(['rotate-s/ip', 'rotate-s/is', 'rotate-s/sx']);
    expect(by.ip).toMatchObject({ view: 'in progress', execution: 'CANCELED', redelivered: 'CANCELED' });
    expect(by.sx).toMatchObject({ redelivered: 'SUCCEEDED' });
    expect(by.is).toMatchObject({ redelivered: 'FAILED' });
    // What the backend has applied, or what has not ended, is not re-sent; the registry is the commit function's to write.
    for (const id of ['sr', 'ip2', 'ok', 'rb']) expect(by[id]!.redelivered).toBeUndefined();
    expect(w.items.get('ip')!.rotation!.state).toBe('issued');
    expect(w.appended).toEqual([]);
    // Without --repair nothing is re-sent.
    resent.length = 0;
    await rotationStatus(deps, 'rotate-s');
    expect(resent).toEqual([]);
  });

  it('reads the registry STATUS_BATCH devices a request when it can (a wave of 100,000 is 1,000 reads), with the same answer', async () => {
    const ids = Array.from({ length: 2 * STATUS_BATCH + 50 }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    const items = new Map(ids.map((id, i) => [id, bound(id, { rotation: rot(i % 2 ? 'committed' : 'queued') })]));
    const batches: number[] = [];
    let gets = 0;
    const deps = (batched: boolean) => ({
      registry: {
        get: async (id: string) => (gets++, structuredClone(items.get(id))),
        ...(batched ? { rotationsOf: async (batch: readonly string[]) => (batches.push(batch.length), new Map(batch.map((id) => [id, structuredClone(items.get(id)?.rotation)]))) } : {}),
      },
      iot: {
        describeRotationJob: async () => ({ jobId: 'rotate-s', status: 'IN_PROGRESS', jobTemplateArn: TEMPLATE }),
        listJobExecutionsForJob: async () => [],
        listThingsInThingGroup: async () => ids,
      },
      now: () => NOW,
    });
    const batched = await rotationStatus(deps(true), 'rotate-s');
    expect(batches).toEqual([STATUS_BATCH, STATUS_BATCH, 50]);
    expect(gets).toBe(0);
    const oneByOne = await rotationStatus(deps(false), 'rotate-s');
    expect(gets).toBe(ids.length);
    expect(batched).toEqual(oneByOne);
    expect(batched.counts).toMatchObject({ queued: 125, succeeded: 125 });
  });

  it('without --repair, or while the job still hands out executions, nothing is written', async () => {
    const live = statusWorld('IN_PROGRESS', {});
    await rotationStatus(live.deps, 'rotate-s', { repair: true });
    expect(live.appended).toEqual([]);
    const ended = statusWorld('COMPLETED', {});
    await rotationStatus(ended.deps, 'rotate-s');
    expect(ended.appended).toEqual([]);
    expect(ended.items.get('q1')!.rotation!.state).toBe('queued');
  });
});

describe('autoRotate', () => {
  it('starts one job named by the sweep time for the due devices, at most AUTO_ROTATION_MAX_DEVICES of them', async () => {
    const ids = Array.from({ length: AUTO_ROTATION_MAX_DEVICES + 3 }, (_, i) => `dev-${String(i).padStart(5, '0')}`);
    const w = world(ids.map((id) => bound(id)));
    const logged: unknown[] = [];
    const log = { debug() {}, info: (_m: string, a: unknown) => void logged.push(a), warn() {}, error() {} };
    const finding = (deviceId: string) => ({ deviceId }) as ExpiryFinding;
    const sweptAt = new Date('2026-12-01T06:00:00.000Z');
    expect(await autoRotate({ ...w.deps, log }, [], sweptAt)).toBeUndefined();
    expect(w.jobs.size).toBe(0);
    const result = await autoRotate({ ...w.deps, log }, [...ids].reverse().map(finding), sweptAt);
    expect(autoRotationJobId(sweptAt)).toBe('rotate-auto-20261201-060000');
    expect(result).toMatchObject({ jobId: 'rotate-auto-20261201-060000', job: 'created' });
    expect(result!.queued).toEqual(ids.slice(0, AUTO_ROTATION_MAX_DEVICES));
    expect(w.items.get(ids.at(-1)!)!.rotation).toBeUndefined();
    expect(logged).toEqual([expect.objectContaining({ queued: AUTO_ROTATION_MAX_DEVICES, deferred: 3 })]);
    // The same sweep retried (the same event): the same job, nothing new.
    const again = await autoRotate({ ...w.deps, log }, ids.map(finding), sweptAt);
    expect(again).toMatchObject({ job: 'exists' });
    expect(w.jobs.size).toBe(1);
  });
});
