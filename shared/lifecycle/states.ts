import type { DeviceEntry } from '../registry/device-entry';

/**
 * A device's lifecycle, in one place: its states, the operator actions, and which action may go from which
 * state to which. The workflows (`./actions.ts`) and the CLI enforce this table; the README shows it.
 *
 * - `unknown`: no decision yet (no entry, or an entry the flows only recorded a refusal on).
 * - `allowed`: may provision. `provisioned`: allowed (or undecided in `ca` mode) and bound to a certificate —
 *   derived, never stored (see `deviceStatusSchema`). `suspended`: its certificate INACTIVE and its thing in
 *   the quarantine group. `blocked`: refused by every flow. `retired`: decommissioned, its certificate revoked;
 *   the serial can be allowed again (refurbishment).
 */
export type LifecycleState = 'unknown' | 'allowed' | 'provisioned' | 'suspended' | 'blocked' | 'retired';

export type LifecycleAction = 'allow' | 'block' | 'suspend' | 'resume' | 'retire';

export const LIFECYCLE_STATES: readonly LifecycleState[] = ['unknown', 'allowed', 'provisioned', 'suspended', 'blocked', 'retired'];
export const LIFECYCLE_ACTIONS: readonly LifecycleAction[] = ['allow', 'block', 'suspend', 'resume', 'retire'];

/**
 * action → from-state → to-state. A pair that is absent is refused. Repeating an action on the state it leads
 * to is allowed (a retry after a crash finishes what is missing). `allow` and `block` keep a binding as it is:
 * on a provisioned device `allow` re-declares its profile (or sets the one-shot `--reprovision` mark), `block`
 * stops future provisioning only. A suspended device must be resumed or retired first: allowing or blocking it
 * would leave its certificate INACTIVE and its thing in quarantine with nothing to undo them.
 */
export const TRANSITIONS: Readonly<Record<LifecycleAction, Partial<Record<LifecycleState, LifecycleState>>>> = {
  allow: { unknown: 'allowed', allowed: 'allowed', provisioned: 'provisioned', blocked: 'allowed', retired: 'allowed' },
  block: { unknown: 'blocked', allowed: 'blocked', provisioned: 'blocked', blocked: 'blocked', retired: 'blocked' },
  suspend: { provisioned: 'suspended', suspended: 'suspended' },
  resume: { suspended: 'provisioned' },
  retire: { allowed: 'retired', provisioned: 'retired', suspended: 'retired', blocked: 'retired', retired: 'retired' },
};

/** The state an entry is in (`undefined`: the registry has no entry for the device). */
export function stateOf(entry: DeviceEntry | undefined): LifecycleState {
  switch (entry?.status) {
    case 'suspended':
    case 'blocked':
      return entry.status;
    case 'retired':
      // A retirement that has not finished is still `retired`: retrying `retire` finishes it.
      return 'retired';
    case 'allowed':
    case undefined:
      if (entry?.certificateId && entry.bindingState === 'bound') return 'provisioned';
      return entry?.status === 'allowed' ? 'allowed' : 'unknown';
  }
}

export class TransitionRefusedError extends Error {
  override name = 'TransitionRefusedError';
  constructor(
    readonly action: LifecycleAction,
    readonly from: LifecycleState,
    readonly deviceId: string,
  ) {
    super(`cannot ${action} ${deviceId}: it is ${from}${hint(action, from)}`);
  }
}

function hint(action: LifecycleAction, from: LifecycleState): string {
  if (from === 'suspended') return ' (resume or retire it first)';
  if (action === 'suspend' && (from === 'allowed' || from === 'unknown')) return ' (it has no bound certificate to suspend)';
  if (action === 'resume') return ' (only a suspended device can be resumed)';
  if (from === 'retired' && action === 'suspend') return ' (allow it again to refurbish it)';
  return '';
}

/** The state `action` leads to from `from`, or a `TransitionRefusedError`. */
export function transition(action: LifecycleAction, from: LifecycleState, deviceId: string): LifecycleState {
  const to = TRANSITIONS[action][from];
  if (!to) throw new TransitionRefusedError(action, from, deviceId);
  return to;
}

/** The table as markdown (what the README shows), generated from `TRANSITIONS` so the two never differ. */
export function transitionsMarkdown(): string {
  const header = `| action \\ from | ${LIFECYCLE_STATES.join(' | ')} |`;
  const rule = `|${' --- |'.repeat(LIFECYCLE_STATES.length + 1)}`;
  const rows = LIFECYCLE_ACTIONS.map((action) => `| \`${action}\` | ${LIFECYCLE_STATES.map((from) => TRANSITIONS[action][from] ?? '—').join(' | ')} |`);
  return [header, rule, ...rows].join('\n');
}
