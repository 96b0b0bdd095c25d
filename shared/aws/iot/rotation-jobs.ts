import {
  CreateJobCommand,
  CreateThingGroupCommand,
  DescribeEventConfigurationsCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  DescribeJobTemplateCommand,
  ListJobExecutionsForJobCommand,
  ListThingsInThingGroupCommand,
  UpdateEventConfigurationsCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import type { JobExecutionSummary, RotationJob } from '../../rotation/start';
import { isNamed } from '../errors';

/**
 * The AWS IoT calls of a rotation's start and status (shared/rotation/start.ts; design §1 S0): one function
 * per call. AddThingToThingGroup is `./things.ts`'s.
 */

/** The job template's ARN; `undefined` when the stack has none (not deployed, or another stage). */
export async function describeJobTemplateArn(client: IoTClient, jobTemplateId: string): Promise<string | undefined> {
  try {
    const { jobTemplateArn } = await client.send(new DescribeJobTemplateCommand({ jobTemplateId }));
    return jobTemplateArn;
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

/**
 * CreateThingGroup of a static group with no properties: AWS answers a repeated call with the same
 * configuration with the existing group (ResourceAlreadyExistsException only for a different one), so a
 * retried start gets the same ARN.
 */
export async function createThingGroup(client: IoTClient, thingGroupName: string): Promise<string> {
  const { thingGroupArn } = await client.send(new CreateThingGroupCommand({ thingGroupName }));
  if (!thingGroupArn) throw new Error(`CreateThingGroup ${thingGroupName} answered without an ARN`);
  return thingGroupArn;
}

/** The group's things, every page; `undefined` when the group does not exist. */
export async function listThingsInThingGroup(client: IoTClient, thingGroupName: string): Promise<string[] | undefined> {
  const things: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await client.send(new ListThingsInThingGroupCommand({ thingGroupName, nextToken, maxResults: 250 }));
      things.push(...(page.things ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
  return things;
}

/** Whether AWS IoT publishes JOB_EXECUTION events (`$aws/events/jobExecution/…`): off until enabled. */
export async function jobExecutionEventsEnabled(client: IoTClient): Promise<boolean> {
  const { eventConfigurations } = await client.send(new DescribeEventConfigurationsCommand({}));
  return eventConfigurations?.JOB_EXECUTION?.Enabled === true;
}

/** UpdateEventConfigurations JOB_EXECUTION on (the other event types keep their state). */
export async function enableJobExecutionEvents(client: IoTClient): Promise<void> {
  await client.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { JOB_EXECUTION: { Enabled: true } } }));
}

/**
 * CreateJob from the job template, for a thing group, SNAPSHOT. `exists` when the job id is taken
 * (ResourceAlreadyExistsException): the caller decides with DescribeJob whether it is this rotation's job.
 */
export async function createRotationJob(client: IoTClient, job: { jobId: string; jobTemplateArn: string; thingGroupArn: string }): Promise<'created' | 'exists'> {
  try {
    await client.send(
      new CreateJobCommand({ jobId: job.jobId, jobTemplateArn: job.jobTemplateArn, targets: [job.thingGroupArn], targetSelection: 'SNAPSHOT' }),
    );
    return 'created';
  } catch (error) {
    if (isNamed(error, 'ResourceAlreadyExistsException')) return 'exists';
    throw error;
  }
}

/** DescribeJob; `undefined` when there is no such job. */
export async function describeRotationJob(client: IoTClient, jobId: string): Promise<RotationJob | undefined> {
  try {
    const { job } = await client.send(new DescribeJobCommand({ jobId }));
    if (!job) return undefined;
    return {
      jobId,
      status: job.status ?? 'UNKNOWN',
      ...(job.jobTemplateArn ? { jobTemplateArn: job.jobTemplateArn } : {}),
      ...(job.targets ? { targets: job.targets } : {}),
      ...(job.jobExecutionsRolloutConfig ? { rollout: job.jobExecutionsRolloutConfig } : {}),
      ...(job.abortConfig ? { abort: job.abortConfig } : {}),
      ...(job.timeoutConfig ? { timeout: job.timeoutConfig } : {}),
      ...(job.jobProcessDetails ? { processDetails: job.jobProcessDetails as Record<string, unknown> } : {}),
    };
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

/** The job's executions, every page: thing name and status. */
export async function listJobExecutionsForJob(client: IoTClient, jobId: string): Promise<JobExecutionSummary[]> {
  const executions: JobExecutionSummary[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListJobExecutionsForJobCommand({ jobId, nextToken, maxResults: 250 }));
    for (const e of page.executionSummaries ?? []) {
      const thingName = e.thingArn?.split(':thing/')[1];
      if (thingName && e.jobExecutionSummary?.status) executions.push({ thingName, status: e.jobExecutionSummary.status });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return executions;
}

/** One execution as DescribeJobExecution tells it: what a Jobs event of it carries. */
export interface JobExecutionDetail {
  thingArn: string;
  status: string;
  statusDetails: Record<string, string>;
  lastUpdatedAt?: Date;
}

/** DescribeJobExecution; `undefined` when the thing has no execution of the job. */
export async function describeJobExecution(client: IoTClient, jobId: string, thingName: string): Promise<JobExecutionDetail | undefined> {
  try {
    const { execution } = await client.send(new DescribeJobExecutionCommand({ jobId, thingName }));
    if (!execution?.thingArn || !execution.status) return undefined;
    return {
      thingArn: execution.thingArn,
      status: execution.status,
      statusDetails: execution.statusDetails?.detailsMap ?? {},
      ...(execution.lastUpdatedAt ? { lastUpdatedAt: execution.lastUpdatedAt } : {}),
    };
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}
