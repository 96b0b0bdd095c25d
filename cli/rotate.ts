import { readFileSync } from 'node:fs';
import { formatRotationStatus, rotationStartDeps, rotationStatusDeps } from '../lib/rotation-operator';
import { bindCalls } from '../shared/aws/bind-calls';
import { createDocumentClient, createIotClient, createLambdaClient } from '../shared/aws/clients';
import { describeJobTemplateArn, listThingsInThingGroup } from '../shared/aws/iot/rotation-jobs';
import { expiringBy, issuedBy } from '../shared/aws/registry/expiry-index';
import { DEVICE_ID_PATTERN } from '../shared/registry/device-entry';
import {
  defaultJobId,
  resolveTargets,
  rotationStatus,
  RotationStartError,
  startRotation,
  type RotationStatus,
  type RotationTargets,
} from '../shared/rotation/start';
import { CliError, useTarget, type TargetOptions } from './target';
import { callerActor, timelineOf } from './timeline';

/**
 * `rotate`: starts a certificate rotation (shared/rotation/start.ts, design §1 S0) with the operator's own
 * credentials, and `rotate status <jobId>`: where each device of it is. Devices that cannot rotate are
 * reported with why; they do not stop the others.
 */

export interface RotateOptions extends TargetOptions {
  devices?: string;
  thingGroup?: string;
  expiringWithin?: string;
  olderThan?: string;
  jobId?: string;
  dryRun?: boolean;
  json?: boolean;
}

const wholeDays = (flag: string, value: string): number => {
  if (!/^\d{1,5}$/.test(value)) throw new CliError(`${flag} must be a whole number of days (0-99999), got "${value}"`);
  return Number(value);
};

/** `--devices a,b` or `--devices @file` (ids separated by commas, spaces or lines; `#` starts a comment). */
export function parseDeviceList(value: string): string[] {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new CliError(`--devices ${value}: ${(error as Error).message}`);
    }
  }
  const ids = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(',')
    .split(/[,\s]+/)
    .map((id) => id.trim())
    .filter(Boolean);
  const invalid = ids.filter((id) => !DEVICE_ID_PATTERN.test(id));
  if (invalid.length > 0) throw new CliError(`--devices: not device ids (each [a-zA-Z0-9:_-]{1,128}): ${invalid.slice(0, 10).join(', ')}${invalid.length > 10 ? ', …' : ''}`);
  if (ids.length === 0) throw new CliError('--devices names no device');
  return ids;
}

export function targetsOf(options: RotateOptions): RotationTargets {
  const given = [options.devices !== undefined, options.thingGroup !== undefined, options.expiringWithin !== undefined, options.olderThan !== undefined].filter(Boolean).length;
  if (given !== 1) throw new CliError('name the devices to rotate with exactly one of --devices, --thing-group, --expiring-within, --older-than');
  if (options.devices !== undefined) return { kind: 'devices', deviceIds: parseDeviceList(options.devices) };
  if (options.thingGroup !== undefined) return { kind: 'thing-group', thingGroup: options.thingGroup };
  if (options.expiringWithin !== undefined) return { kind: 'expiring-within', days: wholeDays('--expiring-within', options.expiringWithin) };
  return { kind: 'older-than', days: wholeDays('--older-than', options.olderThan!) };
}

export async function rotateCommand(options: RotateOptions, out: (line: string) => void): Promise<number> {
  const targets = targetsOf(options);
  const jobId = options.jobId ?? defaultJobId(new Date());
  const target = await useTarget(options);
  const iotClient = createIotClient();
  const documents = createDocumentClient();
  const registryTable = { client: documents, tableName: target.registryTable };
  const jobTemplateArn = await describeJobTemplateArn(iotClient, target.rotationJobTemplate);
  if (!jobTemplateArn) throw new CliError(`no job template ${target.rotationJobTemplate} (${target.description}): deploy the stack of stage ${target.stage} first`, { exitCode: 1 });
  try {
    const deviceIds = await resolveTargets(targets, { listThingsInThingGroup: (group) => listThingsInThingGroup(iotClient, group), index: bindCalls(registryTable, { expiringBy, issuedBy }) }, new Date());
    const result = await startRotation(
      rotationStartDeps({ iot: iotClient, registryTable, timeline: timelineOf(target), jobTemplateArn, actor: await callerActor(target) }),
      { jobId, deviceIds, dryRun: options.dryRun === true },
    );
    if (options.json) {
      out(JSON.stringify(result, null, 2));
      return result.queued.length > 0 || result.dryRun ? 0 : 1;
    }
    const jobLine = result.dryRun
      ? `dry run: job ${result.jobId} would rotate ${result.queued.length} device(s); nothing written`
      : result.job === 'none'
        ? `job ${result.jobId} not created: no device can rotate`
        : `job ${result.jobId} ${result.job === 'created' ? 'created' : 'already created'} from ${jobTemplateArn} for thing group ${result.thingGroup} (${target.description})`;
    out(jobLine);
    out(`queued: ${result.queued.length}${result.queued.length > 0 ? ` (${result.queued.join(', ')})` : ''}`);
    out(`left out: ${result.leftOut.length}`);
    for (const l of result.leftOut) out(`  ${l.deviceId}  ${l.reason}${l.detail ? `  ${l.detail}` : ''}`);
    if (!result.dryRun && result.queued.length > 0) out(`progress: iot-provisioner rotate status ${result.jobId}${options.local ? ' --local' : ''}`);
    return result.queued.length > 0 || result.dryRun ? 0 : 1;
  } catch (error) {
    if (error instanceof RotationStartError) throw new CliError(error.message, { exitCode: 1 });
    throw error;
  }
}

export interface RotateStatusOptions extends TargetOptions {
  json?: boolean;
  repair?: boolean;
}

export async function rotateStatusCommand(jobId: string | undefined, options: RotateStatusOptions, out: (line: string) => void): Promise<number> {
  if (!jobId) throw new CliError('usage: rotate status <jobId> [--json] [--repair]');
  const target = await useTarget(options);
  const iotClient = createIotClient();
  const registryTable = { client: createDocumentClient(), tableName: target.registryTable };
  let status: RotationStatus;
  try {
    status = await rotationStatus(
      rotationStatusDeps({
        iot: iotClient,
        registryTable,
        timeline: timelineOf(target),
        ...(options.repair ? { actor: await callerActor(target), commitFunction: { lambda: createLambdaClient(), functionName: target.rotationEventsFunction } } : {}),
      }),
      jobId,
      { repair: options.repair === true },
    );
  } catch (error) {
    if (error instanceof RotationStartError) throw new CliError(error.message);
    throw error;
  }
  if (!status.job && status.devices.length === 0) throw new CliError(`no rotation job ${jobId} (${target.description})`, { exitCode: 1 });
  if (options.json) {
    out(JSON.stringify(status, null, 2));
    return 0;
  }
  for (const line of formatRotationStatus(jobId, status, target.description)) out(line);
  return 0;
}
