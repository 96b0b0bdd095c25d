import { checkDevice, type AdmissionPolicy } from '../../shared/admission/admit';
import {
  LIFECYCLE_ACTIONS,
  LIFECYCLE_STATES,
  stateOf,
  transition,
  transitionsMarkdown,
  TransitionRefusedError,
  type LifecycleAction,
  type LifecycleState,
} from '../../shared/lifecycle/states';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/registry/device-entry';

/** The lifecycle table (shared/lifecycle/states.ts): every action from every state, allowed or refused. */

const EXPECTED: Record<LifecycleAction, Partial<Record<LifecycleState, LifecycleState>>> = {
  allow: { unknown: 'allowed', allowed: 'allowed', provisioned: 'provisioned', blocked: 'allowed', retired: 'allowed' },
  block: { unknown: 'blocked', allowed: 'blocked', provisioned: 'blocked', blocked: 'blocked', retired: 'blocked' },
  suspend: { provisioned: 'suspended', suspended: 'suspended' },
  resume: { suspended: 'provisioned' },
  retire: { allowed: 'retired', provisioned: 'retired', suspended: 'retired', blocked: 'retired', retired: 'retired' },
};

const cases = LIFECYCLE_ACTIONS.flatMap((action) => LIFECYCLE_STATES.map((from) => [action, from, EXPECTED[action][from]] as const));

describe('the transition table', () => {
  it.each(cases.filter(([, , to]) => to !== undefined))('%s from %s leads to %s', (action, from, to) => {
    expect(transition(action, from, 'DEVICE-1')).toBe(to);
  });

  it.each(cases.filter(([, , to]) => to === undefined))('%s from %s is refused', (action, from) => {
    expect(() => transition(action, from, 'DEVICE-1')).toThrow(TransitionRefusedError);
    expect(() => transition(action, from, 'DEVICE-1')).toThrow(`cannot ${action} DEVICE-1: it is ${from}`);
  });

  it('renders the same table as markdown for the README', () => {
    const markdown = transitionsMarkdown();
    expect(markdown.split('\n')).toHaveLength(2 + LIFECYCLE_ACTIONS.length);
    expect(markdown).toContain('| `resume` | — | — | — | provisioned | — | — |');
  });
});

describe('stateOf', () => {
  const entry = (fields: Partial<DeviceEntry>): DeviceEntry => ({ deviceId: 'DEVICE-1', ...fields });

  it.each<[string, DeviceEntry | undefined, LifecycleState]>([
    ['no entry', undefined, 'unknown'],
    ['an entry with only a recorded refusal', entry({ lastRejection: { reason: 'ca-not-allowed', certificateId: 'c', at: 'now' } }), 'unknown'],
    ['allowed, not bound', entry({ status: 'allowed' }), 'allowed'],
    ['allowed, claimed only', entry({ status: 'allowed', certificateId: 'c', bindingState: 'claimed' }), 'allowed'],
    ['allowed and bound', entry({ status: 'allowed', certificateId: 'c', bindingState: 'bound' }), 'provisioned'],
    ['undecided and bound (ca mode)', entry({ certificateId: 'c', bindingState: 'bound' }), 'provisioned'],
    ['blocked and bound', entry({ status: 'blocked', certificateId: 'c', bindingState: 'bound' }), 'blocked'],
    ['suspended', entry({ status: 'suspended', certificateId: 'c', bindingState: 'bound' }), 'suspended'],
    ['retired, unfinished', entry({ status: 'retired', certificateId: 'c', bindingState: 'bound' }), 'retired'],
    ['retired', entry({ status: 'retired' }), 'retired'],
  ])('%s is %s', (_what, item, state) => {
    expect(stateOf(item)).toBe(state);
  });

  it('reads an item written before the lifecycle existed, unchanged, as provisioned', () => {
    // The shape items have had since the registry was made: status + binding, no lifecycle fields.
    const old = {
      deviceId: 'OLD-1',
      status: 'allowed',
      thingGroup: 'fleet',
      certificateId: 'f'.repeat(64),
      bindingState: 'bound',
      thingName: 'OLD-1',
      claimedAt: '2026-01-01T00:00:00.000Z',
      boundAt: '2026-01-01T00:00:01.000Z',
      createdAt: '2025-12-31T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:01.000Z',
    };
    const parsed = deviceEntrySchema.parse(old);
    expect(parsed).toEqual(old);
    expect(stateOf(parsed)).toBe('provisioned');
    expect(stateOf(deviceEntrySchema.parse({ deviceId: 'OLD-2', status: 'blocked' }))).toBe('blocked');
  });

  it('refuses an item with a status it does not know', () => {
    expect(deviceEntrySchema.safeParse({ deviceId: 'BAD-1', status: 'paused' }).success).toBe(false);
  });
});

describe('checkDevice refuses suspended and retired devices in every mode', () => {
  const policy = (mode: AdmissionPolicy['mode']): AdmissionPolicy => ({ mode, deviceIdSource: 'serialNumber', boundDevice: 'replace' });

  it.each<[AdmissionPolicy['mode'], 'suspended' | 'retired', string]>([
    ['allowlist', 'suspended', 'device-suspended'],
    ['ca', 'suspended', 'device-suspended'],
    ['allowlist', 'retired', 'device-retired'],
    ['ca', 'retired', 'device-retired'],
  ])('in %s mode, a %s device is refused with %s', (mode, status, reason) => {
    const entry: DeviceEntry = { deviceId: 'DEVICE-1', status, certificateId: 'old', bindingState: 'bound' };
    // Even with boundDevice 'replace' and the bound certificate gone, nothing takes the device over.
    expect(checkDevice({ deviceId: 'DEVICE-1', certificateId: 'new', entry, bound: { certificateId: 'old', status: 'INACTIVE', bindingState: 'bound' } }, policy(mode))).toEqual({
      admitted: false,
      reason,
      deviceId: 'DEVICE-1',
    });
  });
});
