import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { bindCalls } from '../../shared/aws/bind-calls';
import { iotCalls } from '../../shared/aws/iot/calls';
import { deleteCertificate, describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { detachPolicy } from '../../shared/aws/iot/policies';
import { detachThingPrincipal, listPrincipalThings } from '../../shared/aws/iot/things';
import { getDevice } from '../../shared/aws/registry/entries';
import { loadRetirementConfig } from '../../shared/config';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import { retireRotatedCertificate } from '../../shared/provisioning/vend-certificate';
import { processSqsBatch, type SqsBatchResponse } from '../../shared/lambda/sqs-batch';
import { retirementSchema } from '../../shared/schemas/sqs-event';

/**
 * Retires certificates rotated out by the vending API once their grace period is over (SQS delay queue).
 * A failing record is reported alone (batchItemFailures) and retried by SQS; a malformed one is dropped.
 */

const config = loadRetirementConfig();
const client = createIotClient();
const deps = {
  iot: iotCalls(client, { describeCertificate, updateCertificateStatus, listPrincipalThings, detachThingPrincipal }),
  registry: bindCalls({ client: createDocumentClient(), tableName: config.registryTable }, { get: getDevice }),
  log: logger,
  metrics,
  // The retireDelete stage parameter: INACTIVE, then DetachPolicy and DeleteCertificate.
  ...(config.deletion ? { deletion: { policyName: config.deletion.policyName, iot: iotCalls(client, { detachPolicy, deleteCertificate }) } } : {}),
};

export const lambdaHandler = (event: unknown): Promise<SqsBatchResponse> =>
  processSqsBatch(event, retirementSchema, (retirement) => retireRotatedCertificate(retirement, deps), logger);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
