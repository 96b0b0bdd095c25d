import { DescribeJobExecutionCommand, type IoTClient } from '@aws-sdk/client-iot';
import type { JobExecutionFacts } from '../../rotation/issue';
import { isNamed } from '../errors';

/** AWS IoT job executions (control plane): one function per call. */

/** The thing's execution of the job; `undefined` when it has none ("ResourceNotFoundException", API_DescribeJobExecution.html). */
export async function describeJobExecution(client: IoTClient, jobId: string, thingName: string): Promise<JobExecutionFacts | undefined> {
  try {
    const { execution } = await client.send(new DescribeJobExecutionCommand({ jobId, thingName }));
    return execution?.status ? { status: execution.status } : undefined;
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}
