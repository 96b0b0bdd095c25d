import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient, createIotClient, createSnsClient } from '../../shared/aws/clients';
import { describeCertificate } from '../../shared/aws/iot/certificates';
import { iotCalls } from '../../shared/aws/iot/calls';
import { expiringBy, issuedBy } from '../../shared/aws/registry/expiry-index';
import { findingsTopic } from '../../shared/aws/sns/findings-topic';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadExpirySweepConfig } from '../../shared/config';
import { allSinks } from '../../shared/expiry/ports';
import { sweepCertificates } from '../../shared/expiry/sweep';
import { timelineSink } from '../../shared/expiry/timeline-sink';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
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
const deps = {
  // Query on the registry's two sparse indexes, SNS Publish on the findings topic, PutItem on the timeline,
  // DescribeCertificate (its role grants these).
  index: bindCalls({ client: documents, tableName: config.registryTable }, { expiringBy, issuedBy }),
  // DescribeCertificate for a due fleet device, whose binding the registry holds as `claimed`.
  iot: iotCalls(createIotClient(), { describeCertificate }),
  findings: allSinks(
    findingsTopic(createSnsClient(), config.findingsTopicArn),
    timelineSink(bindCalls({ client: documents, tableName: config.timelineTable }, { append: appendTimelineEvent })),
  ),
  policy: config.policy,
  now: () => new Date(),
  log: logger,
  metrics,
};

export type ExpirySweepResult = { outcome: 'swept'; published: number } | { outcome: 'dropped'; reason: 'invalid-event' };

export const lambdaHandler = async (event: unknown): Promise<ExpirySweepResult> => {
  const parsed = scheduledEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.error('not a scheduled event; dropped', { issues: issuesOf(parsed.error) });
    return { outcome: 'dropped', reason: 'invalid-event' };
  }
  const { published } = await sweepCertificates(deps);
  return { outcome: 'swept', published };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
