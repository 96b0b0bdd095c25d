import { createDocumentClient } from '../shared/aws/clients';
import { DynamoDeviceRegistry } from '../shared/aws/device-registry';
import { LifecycleConflictError } from '../shared/aws/registry/entries';
import { allowInRegistry, blockInRegistry, checkDecision, RetirementUnfinishedError } from '../shared/lifecycle/registry-actions';
import { stateOf, TransitionRefusedError } from '../shared/lifecycle/states';
import { deviceAttributesSchema, deviceIdSchema, type DeviceEntry } from '../shared/registry/device-entry';
import { callerActor, timelineOf } from './timeline';
import { CliError, useTarget, type TargetOptions } from './target';

/** `devices allow|block|show`: the operator's side of the device registry. */

// JITR adds its own `provisionedBy` attribute, and a thing without a thing type has at most 3.
const MAX_REGISTRY_ATTRIBUTES_WITHOUT_TYPE = 2;
const NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

export interface DevicesOptions extends TargetOptions {
  thingGroup?: string;
  thingType?: string;
  attribute?: string[];
  json?: boolean;
  /** Let the device take a new certificate once although its current one is ACTIVE. */
  reprovision?: boolean;
}

function parseAttributes(pairs: string[] = []): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`--attribute expects key=value, got "${pair}"`);
    attributes[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const parsed = deviceAttributesSchema.safeParse(attributes);
  if (!parsed.success) throw new CliError(`--attribute: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

export function describeEntry(entry: DeviceEntry): string {
  const lines = [
    `device        ${entry.deviceId}`,
    `status        ${entry.status ?? '(not decided: neither allowed nor blocked)'}`,
    `lifecycle     ${stateOf(entry)}`,
  ];
  if (entry.suspension) lines.push(`suspended     at ${entry.suspension.at} (certificate ${entry.suspension.certificateId}; groups to restore: ${entry.suspension.thingGroups.join(', ') || 'none'})`);
  if (entry.retirement) {
    const r = entry.retirement;
    lines.push(`retired       at ${r.at}${r.certificateId ? ` (certificate ${r.certificateId})` : ''}${r.completedAt ? `, completed ${r.completedAt}` : ', unfinished: run devices retire again'}`);
  }
  if (entry.thingGroup) lines.push(`thing group   ${entry.thingGroup}`);
  if (entry.thingType) lines.push(`thing type    ${entry.thingType}`);
  if (entry.attributes) lines.push(`attributes    ${Object.entries(entry.attributes).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (entry.pinnedKeySha256) lines.push(`pinned key    sha256 ${entry.pinnedKeySha256} (only a certificate or CSR with this key provisions it)`);
  if (entry.certificateId) {
    lines.push(`certificate   ${entry.certificateId} (${entry.bindingState ?? 'unknown'})`);
    if (entry.thingName) lines.push(`thing         ${entry.thingName}`);
    if (entry.notAfter) {
      lines.push(`valid         ${entry.notBefore ?? '?'} to ${entry.notAfter}, issuer ${entry.issuer?.subject || '(unknown)'}${entry.issuer?.awsIot ? ' (AWS IoT)' : ''}`);
    }
  }
  if (entry.reprovision) lines.push('reprovision  allowed once (the next provisioning may replace the active certificate)');
  if (entry.lastProvisioning) {
    const p = entry.lastProvisioning;
    lines.push(`provisioning  ${p.outcome}${p.reason ? ` (${p.reason})` : ''} at ${p.at} via ${p.templateName}, certificate ${p.certificateId}`);
  }
  if (entry.lastRejection) {
    lines.push(`last refusal  ${entry.lastRejection.reason} at ${entry.lastRejection.at} (certificate ${entry.lastRejection.certificateId})`);
  }
  if (entry.updatedAt) lines.push(`updated       ${entry.updatedAt}`);
  return lines.join('\n');
}

export async function devicesCommand(
  action: string | undefined,
  deviceId: string | undefined,
  options: DevicesOptions,
  out: (line: string) => void,
): Promise<number> {
  if (action !== 'allow' && action !== 'block' && action !== 'show') {
    throw new CliError('usage: devices allow|block|show <deviceId> [options]');
  }
  const id = deviceIdSchema.safeParse(deviceId);
  if (!id.success) throw new CliError(`a device id matching [a-zA-Z0-9:_-]{1,128} is required, got "${deviceId ?? ''}"`);
  if (action !== 'allow' && (options.thingGroup || options.thingType || options.attribute?.length || options.reprovision)) {
    throw new CliError('--thing-group, --thing-type, --attribute and --reprovision belong to `devices allow`');
  }
  for (const [flag, value] of [['--thing-group', options.thingGroup], ['--thing-type', options.thingType]] as const) {
    if (value !== undefined && !NAME.test(value)) throw new CliError(`${flag} must match [a-zA-Z0-9:_-]{1,128}`);
  }
  const attributes = parseAttributes(options.attribute);
  if (!options.thingType && Object.keys(attributes).length > MAX_REGISTRY_ATTRIBUTES_WITHOUT_TYPE) {
    throw new CliError(`without --thing-type a device can have at most ${MAX_REGISTRY_ATTRIBUTES_WITHOUT_TYPE} attributes (AWS IoT allows 3, provisioning adds one)`);
  }

  const target = await useTarget(options);
  const registry = new DynamoDeviceRegistry(createDocumentClient(), target.registryTable);
  const print = (entry: DeviceEntry) => out(options.json ? JSON.stringify(entry, null, 2) : describeEntry(entry));
  if (action === 'show') {
    const entry = await registry.get(id.data);
    if (!entry) {
      out(`${id.data} is not in ${target.registryTable} (${target.description})`);
      return 1;
    }
    print(entry);
    return 0;
  }
  // The lifecycle decides (shared/lifecycle/registry-actions.ts, as the console's API does); the registry's
  // condition guards a change meanwhile.
  await decided(() => checkDecision(action, id.data, registry));
  // Who acts is known before anything is written: an action the timeline cannot attribute does not run.
  const deps = { registry, timeline: timelineOf(target), actor: await callerActor(target), now: () => new Date() };
  if (action === 'allow') {
    const entry = await decided(() =>
      allowInRegistry(
        id.data,
        {
          ...(options.thingGroup ? { thingGroup: options.thingGroup } : {}),
          ...(options.thingType ? { thingType: options.thingType } : {}),
          ...(Object.keys(attributes).length ? { attributes } : {}),
          ...(options.reprovision ? { reprovision: true } : {}),
        },
        deps,
      ),
    );
    out(`allowed ${id.data} in ${target.registryTable} (${target.description})`);
    print(entry);
    return 0;
  }
  const entry = await decided(() => blockInRegistry(id.data, deps));
  out(`blocked ${id.data} in ${target.registryTable} (${target.description})`);
  if (entry.certificateId && entry.bindingState === 'bound') {
    out(`note: certificate ${entry.certificateId} stays as it is; blocking stops future provisioning only.`);
    out(`      to cut the device off now: aws iot update-certificate --certificate-id ${entry.certificateId} --new-status INACTIVE`);
  }
  print(entry);
  return 0;
}

/** The lifecycle refused the action, or the registry refused the write (suspended or retiring meanwhile): exit 1 with why. */
async function decided<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TransitionRefusedError || error instanceof LifecycleConflictError) throw new CliError(error.message, { exitCode: 1 });
    if (error instanceof RetirementUnfinishedError) throw new CliError(`cannot allow ${error.deviceId}: its retirement is unfinished (run devices retire ${error.deviceId} again first)`, { exitCode: 1 });
    throw error;
  }
}
