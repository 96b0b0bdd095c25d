import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient, createIotClient, createSnsClient } from '../../shared/aws/clients';
import { describeCertificate } from '../../shared/aws/iot/certificates';
import { iotCalls } from '../../shared/aws/iot/calls';
import { createRotationJob, createThingGroup, describeRotationJob, enableJobExecutionEvents, jobExecutionEventsEnabled } from '../../shared/aws/iot/rotation-jobs';
import { addThingToThingGroup } from '../../shared/aws/iot/things';
import { getDevice } from '../../shared/aws/registry/entries';
import { expiringBy, issuedBy } from '../../shared/aws/registry/expiry-index';
import { queueRotation } from '../../shared/aws/registry/rotation-start';
import { findingsTopic } from '../../shared/aws/sns/findings-topic';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadExpirySweepConfig } from '../../shared/config';
import { allSinks } from '../../shared/expiry/ports';
import { sweepCertificates } from '../../shared/expiry/sweep';
import { timelineSink } from '../../shared/expiry/timeline-sink';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import { autoRotate } from '../../shared/rotation/auto';
import { issuesOf } from '../../shared/schemas/issues';
import { scheduledEventSchema } from '../../shared/schemas/scheduled-event';

/**
 * The daily expiry sweep (issue 11 §3), on the schedule of functions/expiry-sweep/resources.cjs: bound
 * certificates that expire within N days or are at least M days old, one finding per device on the
 * findings topic. A sweep that could not publish every finding throws, and Lambda retries it.
 * Each finding also goes on the device's timeline (`finding`).
 */

const config = loadExpirySweepConfig();
const documents = createDocumentClient();
const iot = createIotClient();
const timeline = bindCalls({ client: documents, tableName: config.timelineTable }, { append: appendTimelineEvent });
const deps = {
  // Query on the registry's two sparse indexes, SNS Publish on the findings topic, PutItem on the timeline,
  // DescribeCertificate (its role grants these).
  index: bindCalls({ client: documents, tableName: config.registryTable }, { expiringBy, issuedBy }),
  // DescribeCertificate for a due fleet device, whose binding the registry holds as `claimed`.
  iot: iotCalls(iot, { describeCertificate }),
  findings: allSinks(findingsTopic(createSnsClient(), config.findingsTopicArn), timelineSink(timeline)),
  policy: config.policy,
  now: () => new Date(),
  log: logger,
  metrics,
};

/**
 * Auto-rotation (autoRotation 'true'): one rotation job per sweep for its due devices (shared/rotation/auto.ts):
 * GetItem and UpdateItem on the registry, CreateThingGroup, AddThingToThingGroup, Describe/UpdateEventConfigurations,
 * CreateJob and DescribeJob (its role grants these).
 */
const rotation = config.autoRotation
  ? {
      registry: bindCalls({ client: documents, tableName: config.registryTable }, { get: getDevice, queueRotation }),
      iot: iotCalls(iot, { createThingGroup, addThingToThingGroup, jobExecutionEventsEnabled, enableJobExecutionEvents, createRotationJob, describeRotationJob }),
      timeline,
      jobTemplateArn: config.autoRotation.jobTemplateArn,
      actor: { kind: 'function' as const, id: 'expirySweep' },
      now: () => new Date(),
      log: logger,
    }
  : undefined;

export type ExpirySweepResult =
  | { outcome: 'swept'; published: number; rotation?: { jobId: string; queued: number; leftOut: number } }
  | { outcome: 'dropped'; reason: 'invalid-event' };

export const lambdaHandler = async (event: unknown): Promise<ExpirySweepResult> => {
  const parsed = scheduledEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.error('not a scheduled event; dropped', { issues: issuesOf(parsed.error) });
    return { outcome: 'dropped', reason: 'invalid-event' };
  }
  const { published, findings } = await sweepCertificates(deps);
  if (!rotation) return { outcome: 'swept', published };
  // The scheduled time names the job: a retried sweep (the same event) finishes the same start.
  const sweptAt = parsed.data.time && !Number.isNaN(Date.parse(parsed.data.time)) ? new Date(parsed.data.time) : new Date();
  const started = await autoRotate(rotation, findings, sweptAt);
  return { outcome: 'swept', published, ...(started ? { rotation: { jobId: started.jobId, queued: started.queued.length, leftOut: started.leftOut.length } } : {}) };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
