import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { bindCalls } from '../../shared/aws/bind-calls';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCertificate } from '../../shared/aws/iot/certificates';
import { getClaim } from '../../shared/aws/ledger/claims';
import { recordDecision } from '../../shared/aws/ledger/decisions';
import { claimDevice, getDevice, recordProvisioning } from '../../shared/aws/registry/entries';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadHookConfig } from '../../shared/config';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import { decideProvisioning, type HookDeps } from '../../shared/provisioning/pre-provisioning';
import type { PreProvisioningHookResult } from '../../shared/schemas/pre-provisioning-hook';

/**
 * Fleet provisioning's pre-provisioning hook, invoked synchronously by AWS IoT for every RegisterThing
 * request of the stack's template. Answers within the deadline and fails closed; never throws.
 */

const config = loadHookConfig();
// Work on a deadline: two attempts, short timeouts (the decision has ~3 s of AWS's 5).
const fast = { maxAttempts: 2, connectionTimeoutMs: 1_000, requestTimeoutMs: 1_500 };
const documents = createDocumentClient(fast);
const deps: HookDeps = {
  registry: bindCalls({ client: documents, tableName: config.registryTable }, { get: getDevice, claim: claimDevice, recordProvisioning }),
  ledger: bindCalls({ client: documents, tableName: config.ledgerTable }, { getClaim, recordDecision }),
  iot: iotCalls(createIotClient(fast), { describeCertificate }),
  ...(config.timelineTable ? { timeline: bindCalls({ client: documents, tableName: config.timelineTable }, { append: appendTimelineEvent }) } : {}),
  settings: config.settings,
  now: () => new Date(),
  log: logger,
  metrics,
};

export const lambdaHandler = (event: unknown): Promise<PreProvisioningHookResult> => decideProvisioning(event, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
