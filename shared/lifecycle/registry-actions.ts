import type { DeviceAttributes, DeviceEntry } from '../registry/device-entry';
import type { Actor, Timeline } from './ports';
import { stateOf, transition, TransitionRefusedError } from './states';

/**
 * `allow` and `block`: the registry decisions of the lifecycle (shared/lifecycle/states.ts), recorded on the
 * device's timeline with who made them. The CLI's `devices allow|block` and the console's actions run this.
 * The transition is checked on the entry as read; the registry's own condition (LIFECYCLE_GUARD in
 * shared/aws/registry/entries.ts) refuses a suspension or retirement that started meanwhile.
 */

export interface RegistryDecisionPort {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  allow(deviceId: string, options: AllowOptions, at: Date): Promise<DeviceEntry>;
  block(deviceId: string, at: Date): Promise<DeviceEntry>;
}

export interface AllowOptions {
  thingGroup?: string;
  thingType?: string;
  attributes?: DeviceAttributes;
  reprovision?: boolean;
}

export interface RegistryDecisionDeps {
  registry: RegistryDecisionPort;
  timeline: Timeline;
  actor: Actor;
  now: () => Date;
}

/** `allow` of a retired device whose retirement has not finished: `retire` must run again first. */
export class RetirementUnfinishedError extends Error {
  override name = 'RetirementUnfinishedError';
  constructor(readonly deviceId: string) {
    super(`cannot allow ${deviceId}: its retirement is unfinished (retire it again first)`);
  }
}

/** Checks that `action` may run on the device's current state; the entry as read. */
export async function checkDecision(action: 'allow' | 'block', deviceId: string, registry: RegistryDecisionPort): Promise<DeviceEntry | undefined> {
  const before = await registry.get(deviceId);
  transition(action, stateOf(before), deviceId);
  if (action === 'allow' && before?.status === 'retired' && before.certificateId) throw new RetirementUnfinishedError(deviceId);
  return before;
}

export async function allowInRegistry(deviceId: string, options: AllowOptions, deps: RegistryDecisionDeps): Promise<DeviceEntry> {
  await checkDecision('allow', deviceId, deps.registry);
  const now = deps.now();
  const entry = await deps.registry.allow(deviceId, options, now);
  await deps.timeline.append({ deviceId, at: new Date(entry.updatedAt ?? now.toISOString()), type: 'allowed', actor: deps.actor, key: 'operator' });
  return entry;
}

export async function blockInRegistry(deviceId: string, deps: RegistryDecisionDeps): Promise<DeviceEntry> {
  await checkDecision('block', deviceId, deps.registry);
  const now = deps.now();
  const entry = await deps.registry.block(deviceId, now);
  await deps.timeline.append({ deviceId, at: new Date(entry.updatedAt ?? now.toISOString()), type: 'blocked', actor: deps.actor, key: 'operator' });
  return entry;
}

