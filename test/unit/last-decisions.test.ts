import type { TimelineReader } from '../../shared/lifecycle/ports';
import { lastDecisions } from '../../shared/diagnosis/last-decisions';
import type { DeviceEntry } from '../../shared/registry/device-entry';

/** `devices why` reads a device's last decisions from its timeline, else from what the registry entry records. */

const entry: DeviceEntry = {
  deviceId: 'WHY-1',
  status: 'allowed',
  lastRejection: { reason: 'device-not-allowlisted', certificateId: 'a'.repeat(64), at: '2026-11-01T00:00:00.000Z' },
};

const timelineOf = (events: Awaited<ReturnType<TimelineReader['list']>>): TimelineReader => ({ list: async () => events });
const actor = { kind: 'function' as const, id: 'activateCertificate' };

describe('lastDecisions', () => {
  it('reads the timeline, newest first, leaving out what is no decision and naming the hook’s outcome', async () => {
    const decisions = await lastDecisions(
      entry,
      timelineOf([
        { deviceId: 'WHY-1', at: '2026-12-01T08:00:00.000Z', type: 'claimed', actor },
        { deviceId: 'WHY-1', at: '2026-12-01T08:00:01.000Z', type: 'decided', actor, reason: 'allowed', certificateId: 'b'.repeat(64) },
        { deviceId: 'WHY-1', at: '2026-12-01T08:00:02.000Z', type: 'decided', actor, reason: 'device-blocked', certificateId: 'c'.repeat(64) },
        { deviceId: 'WHY-1', at: '2026-12-01T08:00:03.000Z', type: 'suspended', actor: { kind: 'cli', id: 'local:123456789012' } },
      ]),
    );
    expect(decisions).toEqual([
      { at: '2026-12-01T08:00:03.000Z', kind: 'suspended' },
      { at: '2026-12-01T08:00:02.000Z', kind: 'denied', reason: 'device-blocked', certificateId: 'c'.repeat(64) },
      { at: '2026-12-01T08:00:01.000Z', kind: 'provisioned', certificateId: 'b'.repeat(64) },
    ]);
  });

  it.each([
    ['no timeline', undefined],
    ['an empty timeline (a device recorded before the timeline existed)', timelineOf([])],
  ])('falls back to the registry entry’s own records with %s', async (_, timeline) => {
    expect(await lastDecisions(entry, timeline)).toEqual([
      { at: '2026-11-01T00:00:00.000Z', kind: 'refused', reason: 'device-not-allowlisted', certificateId: 'a'.repeat(64) },
    ]);
  });

  it('keeps only the newest decisions', async () => {
    const events = Array.from({ length: 30 }, (_, i) => ({ deviceId: 'WHY-1', at: `2026-12-01T08:00:${String(i).padStart(2, '0')}.000Z`, type: 'refused' as const, actor, reason: 'key-too-weak' }));
    const decisions = await lastDecisions(entry, timelineOf(events), 5);
    expect(decisions.map((d) => d.at)).toEqual(['29', '28', '27', '26', '25'].map((s) => `2026-12-01T08:00:${s}.000Z`));
  });
});
