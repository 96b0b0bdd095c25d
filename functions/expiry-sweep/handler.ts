import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient } from '../../shared/aws/clients';
import { expiringBy, issuedBy } from '../../shared/aws/registry/expiry-index';
import { findingsTopic } from '../../shared/aws/sns/findings-topic';
import { loadExpirySweepConfig } from '../../shared/config';
import { sweepCertificates } from '../../shared/expiry/sweep';
import { logger } from '../../shared/logger';
import { issuesOf } from '../../shared/schemas/issues';
import { scheduledEventSchema } from '../../shared/schemas/scheduled-event';

/**
 * The daily expiry sweep (issue 11 §3), on the schedule of functions/expiry-sweep/resources.cjs: bound
 * certificates that expire within N days or are at least M days old, one finding per device on the
 * findings topic. A sweep that could not publish every finding throws, and Lambda retries it.
 *
 * TODO(timeline): once the per-device timeline (shared/lifecycle/, engineer L) is merged, add a second
 * FindingSink that appends a `certificate-expiry` entry to the device's timeline, and publish to both.
 */

const config = loadExpirySweepConfig();
const deps = {
  // Query on the registry's two sparse indexes, and SNS Publish on the findings topic (its role grants these).
  index: bindCalls({ client: createDocumentClient(), tableName: config.registryTable }, { expiringBy, issuedBy }),
  findings: findingsTopic(config.sns, config.findingsTopicArn),
  policy: config.policy,
  now: () => new Date(),
  log: logger,
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

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
