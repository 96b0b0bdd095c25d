import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient, createSqsClient } from '../../shared/aws/clients';
import { bindCalls } from '../../shared/aws/bind-calls';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { describeEndpoint } from '../../shared/aws/iot/endpoints';
import { createCertificateFromCsr, createKeysAndCertificate } from '../../shared/aws/iot/issuance';
import { attachPolicy, detachPolicy, listAttachedPolicies } from '../../shared/aws/iot/policies';
import { addThingToThingGroup, attachThingPrincipal, createThing, detachThingPrincipal, listPrincipalThings } from '../../shared/aws/iot/things';
import { abandonIdempotent, beginIdempotent, completeIdempotent, saveProgress } from '../../shared/aws/ledger/idempotency';
import { claimDevice, getDevice, markBound, unbindDevice } from '../../shared/aws/registry/entries';
import { SqsRetirementQueue } from '../../shared/aws/retirement-queue';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadVendingConfig } from '../../shared/config';
import type { HttpApiResult } from '../../shared/http/response';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import type { VendDeps } from '../../shared/provisioning/vend-certificate';
import { memoizeAsync } from '../../shared/lambda/memoize';
import { handleVendingRequest } from './http';

/** POST and DELETE /devices/{deviceId}/certificate (HTTP API, IAM-authorized): certificate vending. */

const config = loadVendingConfig();
// A caller waits on the answer (API Gateway gives up after 30 s): few retries, so throttling surfaces
// as 429 in seconds and the caller retries with its Idempotency-Key.
const iot = iotCalls(createIotClient({ maxAttempts: 3 }), {
  describeCertificate,
  updateCertificateStatus,
  createCertificateFromCsr,
  createKeysAndCertificate,
  createThing,
  addThingToThingGroup,
  attachThingPrincipal,
  detachThingPrincipal,
  listPrincipalThings,
  attachPolicy,
  detachPolicy,
  listAttachedPolicies,
  describeEndpoint,
});
const documents = createDocumentClient();
const deps: VendDeps = {
  iot,
  registry: bindCalls({ client: documents, tableName: config.registryTable }, { get: getDevice, claim: claimDevice, markBound, unbind: unbindDevice }),
  idempotency: bindCalls(
    { client: documents, tableName: config.ledgerTable },
    { begin: beginIdempotent, saveProgress, complete: completeIdempotent, abandon: abandonIdempotent },
  ),
  retirements: new SqsRetirementQueue(createSqsClient({ maxAttempts: 3 }), config.retirementQueueName),
  ...(config.timelineTable ? { timeline: bindCalls({ client: documents, tableName: config.timelineTable }, { append: appendTimelineEvent }) } : {}),
  // Looked up once per container.
  endpoints: memoizeAsync(async () => {
    const [data, credentials] = await Promise.all([iot.describeEndpoint('iot:Data-ATS'), iot.describeEndpoint('iot:CredentialProvider')]);
    return { data, credentials };
  }),
  settings: config.settings,
  now: () => new Date(),
  log: logger,
  metrics,
};

export const lambdaHandler = (event: unknown): Promise<HttpApiResult> => handleVendingRequest(event, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
