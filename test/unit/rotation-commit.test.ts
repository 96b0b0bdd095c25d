import { handleRotationSignal, type RotationCommitDeps, type RotationCommitRegistry, type RotationSignal } from '../../shared/rotation/commit';
import { recordingMetrics } from '../support/recording-metrics';
import type { DeviceEntry } from '../../shared/registry/device-entry';
import type { Rotation } from '../../shared/rotation/model';
import type { TimelineEvent } from '../../shared/lifecycle/ports';
import type { Retirement } from '../../shared/provisioning/retirement-port';

/**
 * The rotation's commit (S2) and roll back (S3) over in-memory ports whose conditional writes behave as the
 * DynamoDB adapter's (shared/aws/registry/rotation-commit.ts): each is refused unless `rotation.jobId` and the
 * expected `rotation.state` match.
 */

const DEVICE = 'sensor-1';
const JOB = 'rotate-2026-12-01-1';
const OLD = 'a'.repeat(64);
const NEW = 'b'.repeat(64);
const arn = (id: string) => `arn:aws:iot:us-east-1:123456789012:cert/${id}`;
const T0 = new Date('2026-12-01T10:00:00Z');

interface Cert {
  status: 'ACTIVE' | 'INACTIVE' | 'REVOKED';
  things: Set<string>;
}

function world(options: { state?: Rotation['state']; status?: DeviceEntry['status']; newStatus?: Cert['status'] } = {}) {
  let clock = T0.getTime();
  const now = () => new Date((clock += 1000));
  const entry: DeviceEntry = {
    deviceId: DEVICE,
    status: options.status ?? 'allowed',
    certificateId: OLD,
    bindingState: 'bound',
    thingName: DEVICE,
    updatedAt: T0.toISOString(),
    rotation: {
      jobId: JOB,
      state: options.state ?? 'issued',
      startedAt: T0.toISOString(),
      updatedAt: T0.toISOString(),
      previousCertificateId: OLD,
      newCertificateId: NEW,
      newCertificateArn: arn(NEW),
      clientToken: 'token-1',
    },
  } as DeviceEntry;
  const certs = new Map<string, Cert>([
    [OLD, { status: 'ACTIVE', things: new Set([DEVICE]) }],
    [NEW, { status: options.newStatus ?? 'ACTIVE', things: new Set([DEVICE]) }],
  ]);
  const items = new Map<string, DeviceEntry>([[DEVICE, entry]]);
  const rotationOf = (id: string) => items.get(id)!.rotation!;
  const guarded = (id: string, jobId: string, expected: string, extra: (e: DeviceEntry) => boolean, write: (r: Rotation, e: DeviceEntry) => void) => {
    const e = items.get(id);
    if (!e?.rotation || e.rotation.jobId !== jobId || e.rotation.state !== expected || !extra(e)) return Promise.resolve('changed' as const);
    write(e.rotation, e);
    return Promise.resolve('done' as const);
  };
  const calls: string[] = [];
  const registry: RotationCommitRegistry = {
    get: async (id) => structuredClone(items.get(id)),
    claim: async (id, certificateId, { previousCertificateId }) => {
      calls.push('claim');
      const e = items.get(id)!;
      if (e.certificateId === certificateId) return { claimed: true };
      if (e.certificateId !== previousCertificateId) return { claimed: false, current: structuredClone(e) };
      Object.assign(e, { certificateId, bindingState: 'claimed' });
      delete e.thingName;
      return { claimed: true };
    },
    markBound: async (id, certificateId, thingName) => {
      calls.push('markBound');
      const e = items.get(id)!;
      if (e.certificateId !== certificateId) throw Object.assign(new Error('condition'), { name: 'ConditionalCheckFailedException' });
      Object.assign(e, { bindingState: 'bound', thingName });
    },
    recordConnected: async (id, { jobId, newCertificateId, at }) =>
      (await guarded(id, jobId, 'issued', (e) => e.rotation!.newCertificateId === newCertificateId, (r) => {
        r.newConnectedAt ??= at.toISOString();
      })) === 'done'
        ? structuredClone(rotationOf(id))
        : 'changed',
    recordJobStatus: async (id, { jobId, expected, jobStatus }) =>
      (await guarded(id, jobId, expected, () => true, (r) => void (r.jobStatus = jobStatus))) === 'done' ? structuredClone(rotationOf(id)) : 'changed',
    commit: (id, { jobId, newCertificateId, movePinTo, at }) =>
      guarded(id, jobId, 'issued', (e) => e.certificateId === newCertificateId && e.bindingState === 'bound', (r) => {
        calls.push('commit');
        Object.assign(r, { state: 'committed', committedAt: at.toISOString() });
        if (movePinTo) items.get(id)!.pinnedKeySha256 = movePinTo;
      }),
    recordRetirementScheduled: (id, { jobId, at }) => guarded(id, jobId, 'committed', () => true, (r) => void (r.retirementScheduledAt ??= at.toISOString())),
    rollBack: (id, { jobId, expected, reason, jobStatus, at }) =>
      guarded(id, jobId, expected, () => true, (r) => {
        calls.push('rollBack');
        Object.assign(r, { state: 'rolled-back', reason, rolledBackAt: at.toISOString(), ...(jobStatus ? { jobStatus } : {}) });
      }),
  };
  const timeline = new Map<string, TimelineEvent>();
  const retirements: Retirement[] = [];
  const deps: RotationCommitDeps = {
    registry,
    iot: {
      describeCertificate: async (id) => {
        const c = certs.get(id);
        return c && { certificateId: id, certificateArn: arn(id), caCertificateId: undefined, status: c.status, certificatePem: 'not a PEM' };
      },
      updateCertificateStatus: async (id, status) => {
        calls.push(`UpdateCertificate ${status}`);
        certs.get(id)!.status = status;
      },
      listPrincipalThings: async (a) => [...(certs.get(a.split('/')[1]!)?.things ?? [])],
      detachThingPrincipal: async (thing, a) => {
        calls.push('DetachThingPrincipal');
        certs.get(a.split('/')[1]!)!.things.delete(thing);
      },
    },
    retirements: { schedule: async (retirement) => void retirements.push(retirement) },
    timeline: { append: async (event) => void timeline.set(`${event.at.toISOString()}#${event.type}#${event.key}`, event) },
    retireGraceSeconds: 1,
    actor: { kind: 'function', id: 'rotationEvents' },
    now,
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  };
  return { deps, items, certs, rotationOf, timeline, retirements, calls, entry: () => items.get(DEVICE)! };
}

const connected = (principalIdentifier = NEW): RotationSignal => ({ kind: 'connected', deviceId: DEVICE, principalIdentifier, at: new Date('2026-12-01T10:05:00Z') });
const job = (status: string, statusDetails: Record<string, string> = {}, jobId = JOB): RotationSignal => ({
  kind: 'job-execution',
  deviceId: DEVICE,
  jobId,
  status,
  statusDetails,
  at: new Date('2026-12-01T10:05:01Z'),
});
const eventsOf = (w: ReturnType<typeof world>, type: TimelineEvent['type']) => [...w.timeline.values()].filter((e) => e.type === type);

describe('rotation commit (S2)', () => {
  it.each([
    ['connected first, then SUCCEEDED', [connected(), job('SUCCEEDED')]],
    ['SUCCEEDED first, then connected', [job('SUCCEEDED'), connected()]],
  ])('commits once both signals are in: %s', async (_name, signals) => {
    const w = world();
    const first = await handleRotationSignal(signals[0]!, w.deps);
    expect(first).toEqual({ outcome: 'recorded' });
    expect(w.entry().certificateId).toBe(OLD);

    const second = await handleRotationSignal(signals[1]!, w.deps);

    expect(second).toEqual({ outcome: 'committed' });
    expect(w.entry()).toMatchObject({ certificateId: NEW, bindingState: 'bound', thingName: DEVICE });
    expect(w.rotationOf(DEVICE)).toMatchObject({ state: 'committed', jobStatus: 'SUCCEEDED', newConnectedAt: '2026-12-01T10:05:00.000Z' });
    expect(w.rotationOf(DEVICE).retirementScheduledAt).toBeDefined();
    expect(w.retirements).toEqual([{ deviceId: DEVICE, certificateId: OLD, thingName: DEVICE }]);
    expect(eventsOf(w, 'rotation-committed')).toHaveLength(1);
    // The old certificate keeps working until retireCertificate runs after the grace period.
    expect(w.certs.get(OLD)!.status).toBe('ACTIVE');
  });

  it('moves a factory-pinned key to the rotated key at the commit (and leaves an unpinned device unpinned)', async () => {
    const w = world();
    w.entry().pinnedKeySha256 = 'a'.repeat(64);
    w.rotationOf(DEVICE).newKeySha256 = 'b'.repeat(64);
    await handleRotationSignal(connected(), w.deps);
    expect(w.entry().pinnedKeySha256).toBe('a'.repeat(64));
    await handleRotationSignal(job('SUCCEEDED'), w.deps);
    expect(w.entry().pinnedKeySha256).toBe('b'.repeat(64));
    expect(eventsOf(w, 'rotation-committed')[0]!.detail).toMatch(/pinned key moved/);

    const unpinned = world();
    unpinned.rotationOf(DEVICE).newKeySha256 = 'b'.repeat(64);
    await handleRotationSignal(connected(), unpinned.deps);
    await handleRotationSignal(job('SUCCEEDED'), unpinned.deps);
    expect(unpinned.entry().pinnedKeySha256).toBeUndefined();
  });

  it('commits when both signals are handled at the same time (each read the entry before the other wrote)', async () => {
    const w = world();

    const outcomes = await Promise.all([handleRotationSignal(connected(), w.deps), handleRotationSignal(job('SUCCEEDED'), w.deps)]);

    // Both may see both signals (the later write answers with both): one commits, the other finds it committed.
    expect(outcomes.map((o) => o.outcome)).toContain('committed');
    expect(w.calls.filter((c) => c === 'commit')).toHaveLength(1);
    expect(w.rotationOf(DEVICE).state).toBe('committed');
    expect(w.entry().certificateId).toBe(NEW);
    expect(eventsOf(w, 'rotation-committed')).toHaveLength(1);
  });

  it('treats duplicated signals as one: one commit, one retirement, one timeline event', async () => {
    const w = world();
    for (const signal of [connected(), connected(), job('SUCCEEDED'), job('SUCCEEDED'), connected()]) await handleRotationSignal(signal, w.deps);

    expect(w.calls.filter((c) => c === 'commit')).toHaveLength(1);
    expect(w.retirements).toHaveLength(1);
    expect(eventsOf(w, 'rotation-committed')).toHaveLength(1);
  });

  it('does nothing for a connected event with the OLD principal', async () => {
    const w = world();
    await handleRotationSignal(job('SUCCEEDED'), w.deps);

    const result = await handleRotationSignal(connected(OLD), w.deps);

    expect(result).toEqual({ outcome: 'ignored', reason: 'other-principal' });
    expect(w.rotationOf(DEVICE)).toMatchObject({ state: 'issued', jobStatus: 'SUCCEEDED' });
    expect(w.rotationOf(DEVICE).newConnectedAt).toBeUndefined();
    expect(w.entry().certificateId).toBe(OLD);
  });

  it('never commits on SUCCEEDED alone: both certificates stay ACTIVE and the binding stays', async () => {
    const w = world();

    await handleRotationSignal(job('SUCCEEDED'), w.deps);
    await handleRotationSignal(job('SUCCEEDED'), w.deps);

    expect(w.rotationOf(DEVICE).state).toBe('issued');
    expect(w.entry().certificateId).toBe(OLD);
    expect([w.certs.get(OLD)!.status, w.certs.get(NEW)!.status]).toEqual(['ACTIVE', 'ACTIVE']);
    expect(w.retirements).toHaveLength(0);
  });

  it('records no connection before the rotation is issued (the device cannot have the certificate yet)', async () => {
    const w = world({ state: 'issuing' });

    expect(await handleRotationSignal(connected(), w.deps)).toEqual({ outcome: 'ignored', reason: 'not-issued' });
    expect(w.rotationOf(DEVICE).newConnectedAt).toBeUndefined();
  });

  it('ignores a job event of another job', async () => {
    const w = world();

    expect(await handleRotationSignal(job('FAILED', {}, 'rotate-other'), w.deps)).toEqual({ outcome: 'ignored', reason: 'other-job' });
    expect(w.rotationOf(DEVICE).state).toBe('issued');
  });

  it('rolls back instead of committing when the new certificate is no longer ACTIVE', async () => {
    const w = world({ newStatus: 'INACTIVE' });
    await handleRotationSignal(connected(), w.deps);

    const result = await handleRotationSignal(job('SUCCEEDED'), w.deps);

    expect(result).toEqual({ outcome: 'rolled-back', reason: 'new-certificate-not-active' });
    expect(w.entry().certificateId).toBe(OLD);
    expect(w.certs.get(NEW)!.status).toBe('REVOKED');
  });
});

describe('rotation roll back (S3)', () => {
  it.each(['FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED', 'DELETED'])('rolls back on %s: new REVOKED and detached, old and binding untouched', async (status) => {
    const w = world();

    const result = await handleRotationSignal(job(status), w.deps);

    expect(result).toEqual({ outcome: 'rolled-back', reason: status });
    expect(w.certs.get(NEW)).toEqual({ status: 'REVOKED', things: new Set() });
    expect(w.certs.get(OLD)).toEqual({ status: 'ACTIVE', things: new Set([DEVICE]) });
    expect(w.entry()).toMatchObject({ certificateId: OLD, bindingState: 'bound' });
    expect(w.rotationOf(DEVICE)).toMatchObject({ state: 'rolled-back', reason: status, jobStatus: status });
    expect(eventsOf(w, 'rotation-rolled-back')).toEqual([expect.objectContaining({ reason: status, certificateId: NEW, key: `${JOB}#rolled-back` })]);
  });

  it('keeps the reason the device gave — on the rotation, not in the metric (a device must not make new series)', async () => {
    const w = world();
    const metrics = recordingMetrics();

    await handleRotationSignal(job('FAILED', { reason: 'new-certificate-refused' }), { ...w.deps, metrics });

    expect(w.rotationOf(DEVICE).reason).toBe('FAILED: new-certificate-refused');
    expect(metrics.recorded.map((m) => [m.name, m.dimensions])).toEqual([['Rotations', { outcome: 'rolled-back', reason: 'FAILED' }]]);
  });

  it('counts a commit once (Rotations{committed}), however many duplicate signals follow', async () => {
    const w = world();
    const metrics = recordingMetrics();
    for (const signal of [connected(), job('SUCCEEDED'), connected(), job('SUCCEEDED')]) await handleRotationSignal(signal, { ...w.deps, metrics });
    expect(metrics.recorded.map((m) => [m.name, m.dimensions])).toEqual([['Rotations', { outcome: 'committed', reason: 'none' }]]);
  });

  it('rolls back a queued rotation (no certificate yet) by writing the state only', async () => {
    const w = world({ state: 'queued' });
    delete w.entry().rotation!.newCertificateId;

    expect(await handleRotationSignal(job('TIMED_OUT'), w.deps)).toEqual({ outcome: 'rolled-back', reason: 'TIMED_OUT' });
    expect(w.calls.filter((c) => c.startsWith('UpdateCertificate'))).toEqual([]);
    expect(w.certs.get(NEW)!.status).toBe('ACTIVE');
  });

  it.each([
    ['suspended', 'suspended'],
    ['retired', 'retired'],
  ] as const)('does not commit a %s device: it rolls the rotation back', async (status, reason) => {
    const w = world({ status });

    const result = await handleRotationSignal(job('SUCCEEDED'), w.deps);
    const late = await handleRotationSignal(connected(), w.deps);

    expect(result).toEqual({ outcome: 'rolled-back', reason });
    expect(late).toEqual({ outcome: 'ignored', reason: 'terminal' });
    expect(w.entry().certificateId).toBe(OLD);
    expect(w.certs.get(NEW)!.status).toBe('REVOKED');
  });
});

describe('terminal states', () => {
  it('ignores late events after a commit', async () => {
    const w = world();
    await handleRotationSignal(connected(), w.deps);
    await handleRotationSignal(job('SUCCEEDED'), w.deps);
    const calls = w.calls.length;

    expect(await handleRotationSignal(job('FAILED'), w.deps)).toEqual({ outcome: 'ignored', reason: 'terminal' });
    expect(await handleRotationSignal(connected(), w.deps)).toEqual({ outcome: 'ignored', reason: 'terminal' });

    expect(w.calls.slice(calls)).toEqual([]);
    expect(w.certs.get(NEW)!.status).toBe('ACTIVE');
    expect(w.rotationOf(DEVICE).state).toBe('committed');
    expect(w.retirements).toHaveLength(1);
  });

  it('ignores late events after a roll back: a SUCCEEDED never revives it', async () => {
    const w = world();
    await handleRotationSignal(job('TIMED_OUT'), w.deps);

    expect(await handleRotationSignal(job('SUCCEEDED'), w.deps)).toEqual({ outcome: 'ignored', reason: 'terminal' });

    expect(w.rotationOf(DEVICE)).toMatchObject({ state: 'rolled-back', reason: 'TIMED_OUT' });
    expect(w.entry().certificateId).toBe(OLD);
    expect(eventsOf(w, 'rotation-rolled-back')).toHaveLength(1);
  });

  it('ignores a device without a rotation', async () => {
    const w = world();
    delete w.entry().rotation;

    expect(await handleRotationSignal(connected(), w.deps)).toEqual({ outcome: 'ignored', reason: 'no-rotation' });
  });
});
