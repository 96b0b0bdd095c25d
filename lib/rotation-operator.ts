import { randomUUID } from 'node:crypto';
import type { IoTClient } from '@aws-sdk/client-iot';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { invokeAsync } from '../shared/aws/function-invoke';
import { bindCalls } from '../shared/aws/bind-calls';
import { iotCalls } from '../shared/aws/iot/calls';
import {
  createRotationJob,
  createThingGroup,
  describeJobExecution,
  describeRotationJob,
  enableJobExecutionEvents,
  jobExecutionEventsEnabled,
  listJobExecutionsForJob,
  listThingsInThingGroup,
} from '../shared/aws/iot/rotation-jobs';
import { addThingToThingGroup } from '../shared/aws/iot/things';
import { batchGetDevices } from '../shared/aws/registry/batch';
import { getDevice, parseDeviceItem } from '../shared/aws/registry/entries';
import { queueRotation, rollBackQueuedRotation } from '../shared/aws/registry/rotation-start';
import type { Table } from '../shared/aws/table';
import type { Actor, Timeline } from '../shared/lifecycle/ports';
import { TERMINAL_EXECUTION, type RotationStartDeps, type RotationStatus, type RotationStatusDeps } from '../shared/rotation/start';

/**
 * The operator's side of a rotation, as the tools share it: `iot-provisioner rotate` (cli/rotate.ts) and the
 * sandbox's rotation wave (local/sandbox/rotation.ts) start a wave with the same calls and print its status
 * the same way, so `npm start` shows what the operator's command does.
 */

/** The start's calls (shared/rotation/start.ts startRotation) on the operator's IoT client and registry table. */
export function rotationStartDeps(options: {
  iot: IoTClient;
  registryTable: Table;
  timeline: Timeline;
  jobTemplateArn: string;
  actor: Actor;
}): RotationStartDeps {
  const { iot } = options;
  return {
    registry: bindCalls(options.registryTable, { get: getDevice, queueRotation }),
    iot: {
      ...iotCalls(iot, { createThingGroup, jobExecutionEventsEnabled, enableJobExecutionEvents, createRotationJob, describeRotationJob }),
      addThingToThingGroup: (thing, group) => addThingToThingGroup(iot, thing, group),
    },
    timeline: options.timeline,
    jobTemplateArn: options.jobTemplateArn,
    actor: options.actor,
    now: () => new Date(),
  };
}

/** `rotate status`'s calls (shared/rotation/start.ts rotationStatus); with an actor, `--repair` may write. */
export function rotationStatusDeps(options: {
  iot: IoTClient;
  registryTable: Table;
  timeline: Timeline;
  actor?: Actor;
  /** `--repair`'s re-delivery of a final job execution: the stack's rotationEvents function (Invoke, asynchronous). */
  commitFunction?: { lambda: LambdaClient; functionName: string };
}): RotationStatusDeps {
  const { iot, commitFunction } = options;
  return {
    registry: {
      ...bindCalls(options.registryTable, { get: getDevice, rollBackQueuedRotation }),
      // A wave of 100,000 devices is 1,000 reads, not 100,000.
      rotationsOf: async (deviceIds) => {
        const { items } = await batchGetDevices(options.registryTable, deviceIds);
        return new Map(deviceIds.map((deviceId) => {
          const item = items.get(deviceId);
          return [deviceId, item ? parseDeviceItem(deviceId, item).rotation : undefined];
        }));
      },
    },
    iot: iotCalls(iot, { describeRotationJob, listJobExecutionsForJob, listThingsInThingGroup }),
    timeline: options.timeline,
    ...(options.actor ? { actor: options.actor } : {}),
    ...(commitFunction
      ? {
          redeliver: async (jobId: string, thingName: string) => {
            const execution = await describeJobExecution(iot, jobId, thingName);
            if (!execution || !TERMINAL_EXECUTION.has(execution.status)) return undefined;
            await invokeAsync(commitFunction.lambda, commitFunction.functionName, JSON.stringify(jobExecutionEvent(jobId, execution)));
            return execution.status;
          },
        }
      : {}),
    now: () => new Date(),
  };
}

/**
 * The Jobs event AWS IoT publishes when an execution ends (`$aws/events/jobExecution/<jobId>/<operation>`,
 * events-jobs.html: eventType, eventId, timestamp in epoch seconds, operation, jobId, thingArn, status,
 * statusDetails), as the rule hands it to rotationEvents (`SELECT *`), from DescribeJobExecution.
 */
function jobExecutionEvent(jobId: string, execution: { thingArn: string; status: string; statusDetails: Record<string, string>; lastUpdatedAt?: Date }) {
  return {
    eventType: 'JOB_EXECUTION',
    eventId: randomUUID(),
    timestamp: Math.floor((execution.lastUpdatedAt ?? new Date()).getTime() / 1000),
    operation: execution.status.toLowerCase(),
    jobId,
    thingArn: execution.thingArn,
    status: execution.status,
    ...(Object.keys(execution.statusDetails).length ? { statusDetails: execution.statusDetails } : {}),
  };
}

/** The lines `rotate status <jobId>` prints: the job, the counts per view, one line per device. */
export function formatRotationStatus(jobId: string, status: RotationStatus, description: string): string[] {
  const lines = [`job ${jobId}: ${status.job ? status.job.status : 'not found (no such job)'} (${description})`];
  lines.push(
    Object.entries(status.counts)
      .filter(([view, n]) => n > 0 || view !== 'not in this job')
      .map(([view, n]) => `${view} ${n}`)
      .join(', '),
  );
  const rows = [['DEVICE', 'STATUS', 'STATE', 'EXECUTION', 'REASON'], ...status.devices.map((d) => [d.deviceId, d.view, d.state ?? '-', d.execution ?? '-', `${d.reason ?? ''}${d.repaired ? ' (repaired)' : ''}${d.redelivered ? ` (re-sent ${d.redelivered} to the commit)` : ''}`.trim()])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) lines.push(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd());
  return lines;
}
