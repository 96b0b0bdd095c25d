import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { bindCalls } from '../../shared/aws/bind-calls';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCaCertificate, describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { attachPolicy, listAttachedPolicies } from '../../shared/aws/iot/policies';
import { addThingToThingGroup, attachThingPrincipal, createThing, detachThingPrincipal, listPrincipalThings } from '../../shared/aws/iot/things';
import { releaseLease, takeLease } from '../../shared/aws/ledger/leases';
import { claimDevice, getDevice, markBound, recordRejection } from '../../shared/aws/registry/entries';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadActivationConfig } from '../../shared/config';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import {
  activateRegisteredCertificate,
  type ActivationDeps,
  type ActivationResult,
} from '../../shared/provisioning/activate-certificate';
import { cachedCaLookup } from '../../shared/admission/ca-lookup';
import { issuesOf } from '../../shared/schemas/issues';
import { certificateRegisteredEventSchema } from '../../shared/schemas/certificate-registered-event';

/**
 * JITR: invoked asynchronously by the topic rule on `$aws/events/certificates/registered/+`.
 * Invalid events are dropped (returning, not throwing, so Lambda does not retry them); AWS failures are
 * thrown so that Lambda retries and finally sends the event to the on-failure destination.
 */

const config = loadActivationConfig();
const client = createIotClient();
// Exactly the IoT calls JITR makes (its role grants these): each import brings only its command into the bundle.
const iot = iotCalls(client, {
  describeCertificate,
  updateCertificateStatus,
  createThing,
  addThingToThingGroup,
  attachThingPrincipal,
  detachThingPrincipal,
  listPrincipalThings,
  attachPolicy,
  listAttachedPolicies,
});
const documents = createDocumentClient();
const deps: ActivationDeps = {
  iot,
  registry: bindCalls({ client: documents, tableName: config.registryTable }, { get: getDevice, claim: claimDevice, markBound, recordRejection }),
  leases: bindCalls({ client: documents, tableName: config.ledgerTable }, { takeLease, releaseLease }),
  ...(config.timelineTable ? { timeline: bindCalls({ client: documents, tableName: config.timelineTable }, { append: appendTimelineEvent }) } : {}),
  caLookup: cachedCaLookup(iotCalls(client, { describeCaCertificate }), { ttlMs: 5 * 60_000, now: Date.now }),
  settings: config.settings,
  now: () => new Date(),
  log: logger,
  metrics,
};

export type ActivateCertificateResult = ActivationResult | { outcome: 'dropped'; reason: 'invalid-event' };

// A lease outlives the invocation by this much, so that no duplicate starts while this one still runs.
const LEASE_MARGIN_MS = 5_000;

export const lambdaHandler = async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<ActivateCertificateResult> => {
  const parsed = certificateRegisteredEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.warn('event dropped: not a certificate-registered event', {
      issues: issuesOf(parsed.error),
    });
    return { outcome: 'dropped', reason: 'invalid-event' };
  }
  logger.appendKeys({ certificateId: parsed.data.certificateId, caCertificateId: parsed.data.caCertificateId });
  const remainingMs = context?.getRemainingTimeInMillis() ?? 30_000;
  return activateRegisteredCertificate(parsed.data, deps, { leaseMs: remainingMs + LEASE_MARGIN_MS });
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
