import { createDocumentClient, createIotClient } from '../shared/aws/clients';
import { DynamoDeviceRegistry } from '../shared/aws/device-registry';
import { lifecycleIotCalls } from '../shared/aws/iot/lifecycle-calls';
import { ConcurrentChangeError, resumeDevice, retireDevice, suspendDevice, type LifecycleDeps } from '../shared/lifecycle/actions';
import type { Actor } from '../shared/lifecycle/ports';
import { TransitionRefusedError } from '../shared/lifecycle/states';
import { deviceIdSchema } from '../shared/registry/device-entry';
import { describeEntry } from './devices';
import { CliError, useTarget, type Target, type TargetOptions } from './target';
import { callerActor, timelineOf } from './timeline';

/**
 * `devices suspend|resume|retire|timeline`: the lifecycle actions of shared/lifecycle/actions.ts, run with the
 * operator's own credentials (as `devices allow` is), recorded on the device's timeline with who ran them.
 */

export interface LifecycleCliOptions extends TargetOptions {
  keepThing?: boolean;
  json?: boolean;
  limit?: string;
}

function lifecycleDeps(target: Target, actor: Actor): LifecycleDeps {
  return {
    registry: new DynamoDeviceRegistry(createDocumentClient(), target.registryTable),
    iot: lifecycleIotCalls(createIotClient()),
    timeline: timelineOf(target),
    quarantineGroup: target.quarantineGroup,
    actor,
    now: () => new Date(),
  };
}

export async function devicesLifecycleCommand(
  action: 'suspend' | 'resume' | 'retire' | 'timeline',
  deviceId: string | undefined,
  options: LifecycleCliOptions,
  out: (line: string) => void,
): Promise<number> {
  const id = deviceIdSchema.safeParse(deviceId);
  if (!id.success) throw new CliError(`a device id matching [a-zA-Z0-9:_-]{1,128} is required, got "${deviceId ?? ''}"`);
  if (options.keepThing && action !== 'retire') throw new CliError('--keep-thing belongs to `devices retire`');
  if (options.limit !== undefined && action !== 'timeline') throw new CliError('--limit belongs to `devices timeline`');
  const limit = options.limit === undefined ? 100 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit must be a whole number from 1 to 1000');

  const target = await useTarget(options);
  if (action === 'timeline') {
    const events = await timelineOf(target).list(id.data, { limit });
    if (options.json) out(JSON.stringify(events, null, 2));
    else if (events.length === 0) out(`no timeline events for ${id.data} in ${target.timelineTable} (${target.description})`);
    else {
      for (const e of events) {
        const what = [e.reason ? `reason ${e.reason}` : '', e.certificateId ? `certificate ${e.certificateId}` : '', e.detail ?? ''].filter(Boolean).join(', ');
        out(`${e.at}  ${e.type.padEnd(9)}  ${`${e.actor.kind}:${e.actor.id}`.padEnd(40)}  ${what}`.trimEnd());
      }
    }
    return 0;
  }

  const deps = lifecycleDeps(target, await callerActor(target));
  try {
    const result =
      action === 'suspend'
        ? await suspendDevice(id.data, deps)
        : action === 'resume'
          ? await resumeDevice(id.data, deps)
          : await retireDevice(id.data, { keepThing: options.keepThing === true }, deps);
    const past = { suspend: 'suspended', resume: 'resumed', retire: 'retired' }[action];
    out(result.outcome === 'unchanged' ? `${id.data} was already ${past} (nothing left to do)` : `${past} ${id.data} (${target.description})`);
    if (result.entry) out(options.json ? JSON.stringify(result.entry, null, 2) : describeEntry(result.entry));
    return 0;
  } catch (error) {
    if (error instanceof TransitionRefusedError) throw new CliError(error.message, { exitCode: 1 });
    if (error instanceof ConcurrentChangeError) throw new CliError(error.message, { exitCode: 1 });
    throw error;
  }
}
