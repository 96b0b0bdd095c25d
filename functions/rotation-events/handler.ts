import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient, createSqsClient } from '../../shared/aws/clients';
import { bindCalls } from '../../shared/aws/bind-calls';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { detachThingPrincipal, listPrincipalThings } from '../../shared/aws/iot/things';
import { claimDevice, getDevice, markBound } from '../../shared/aws/registry/entries';
import {
  commitRotation,
  recordRotationConnected,
  recordRotationJobStatus,
  recordRotationRetirementScheduled,
  rollBackRotation,
} from '../../shared/aws/registry/rotation-commit';
import { SqsRetirementQueue } from '../../shared/aws/retirement-queue';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadRotationEventsConfig } from '../../shared/config';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import { handleRotationSignal, type RotationCommitDeps, type RotationSignal, type SignalOutcome } from '../../shared/rotation/commit';
import { ROTATION_JOB_PREFIX } from '../../shared/rotation/model';
import { issuesOf } from '../../shared/schemas/issues';
import { jobExecutionEventSchema, presenceConnectedEventSchema, thingNameOfArn } from '../../shared/schemas/rotation-events';

/**
 * Certificate rotation's commit (S2) and roll back (S3), docs/rotation-design.md §1: invoked asynchronously by
 * two topic rules, on `$aws/events/presence/connected/+` and on `$aws/events/jobExecution/+/+`. A malformed event
 * is dropped with a warning (returned, not thrown, so Lambda does not retry it); AWS failures are thrown, so
 * Lambda retries (2 more attempts) and then sends the event to the failure queue.
 */

const config = loadRotationEventsConfig();
const documents = createDocumentClient();
const registryTable = { client: documents, tableName: config.registryTable };
const deps: RotationCommitDeps = {
  iot: iotCalls(createIotClient(), { describeCertificate, updateCertificateStatus, listPrincipalThings, detachThingPrincipal }),
  registry: {
    ...bindCalls(registryTable, { get: getDevice, claim: claimDevice, markBound }),
    ...bindCalls(registryTable, {
      recordConnected: recordRotationConnected,
      recordJobStatus: recordRotationJobStatus,
      commit: commitRotation,
      recordRetirementScheduled: recordRotationRetirementScheduled,
      rollBack: rollBackRotation,
    }),
  },
  retirements: new SqsRetirementQueue(createSqsClient({ maxAttempts: 3 }), config.retirementQueueName),
  ...(config.timelineTable ? { timeline: bindCalls({ client: documents, tableName: config.timelineTable }, { append: appendTimelineEvent }) } : {}),
  retireGraceSeconds: config.retireGraceSeconds,
  actor: { kind: 'function', id: 'rotationEvents' },
  now: () => new Date(),
  log: logger,
  metrics,
};

export type RotationEventsResult = SignalOutcome | { outcome: 'dropped'; reason: 'invalid-event' | 'not-a-rotation-job' };

/** The event as a rotation signal, or why it is dropped. */
export function signalOf(event: unknown): RotationSignal | { dropped: 'invalid-event' | 'not-a-rotation-job'; issues?: unknown } {
  const type = (event as { eventType?: unknown } | null)?.eventType;
  if (type === 'JOB_EXECUTION') {
    const parsed = jobExecutionEventSchema.safeParse(event);
    if (!parsed.success) return { dropped: 'invalid-event', issues: issuesOf(parsed.error) };
    // The rule sees every job's executions; rotations' jobs are `rotate-*` (shared/rotation/model.ts).
    if (!parsed.data.jobId.startsWith(ROTATION_JOB_PREFIX)) return { dropped: 'not-a-rotation-job' };
    return {
      kind: 'job-execution',
      deviceId: thingNameOfArn(parsed.data.thingArn),
      jobId: parsed.data.jobId,
      // A job deleted with the execution still pending (`deleted`, status as before the deletion): the rotation
      // can never be confirmed any more, so it is DELETED, which rolls it back (shared/rotation/model.ts).
      status: parsed.data.operation === 'deleted' && ['QUEUED', 'IN_PROGRESS'].includes(parsed.data.status) ? 'DELETED' : parsed.data.status,
      statusDetails: parsed.data.statusDetails ?? {},
      // Jobs events' timestamp is epoch seconds (events-jobs.html).
      at: new Date(parsed.data.timestamp * 1000),
    };
  }
  const parsed = presenceConnectedEventSchema.safeParse(event);
  if (!parsed.success) return { dropped: 'invalid-event', issues: issuesOf(parsed.error) };
  return {
    kind: 'connected',
    deviceId: parsed.data.thingName ?? parsed.data.clientId,
    principalIdentifier: parsed.data.principalIdentifier,
    // Lifecycle events' timestamp is epoch milliseconds (life-cycle-events.html).
    at: new Date(parsed.data.timestamp),
  };
}

export const lambdaHandler = async (event: unknown): Promise<RotationEventsResult> => {
  const signal = signalOf(event);
  if ('dropped' in signal) {
    if (signal.dropped === 'invalid-event') logger.warn('event dropped: neither a connected nor a job-execution event', { issues: signal.issues });
    else logger.debug('event dropped: not a rotation job');
    return { outcome: 'dropped', reason: signal.dropped };
  }
  logger.appendKeys({ deviceId: signal.deviceId, signal: signal.kind, ...(signal.kind === 'job-execution' ? { jobId: signal.jobId, jobStatus: signal.status } : {}) });
  const result = await handleRotationSignal(signal, deps);
  logger.info('rotation signal handled', { ...result });
  return result;
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
