import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeEndpoint } from '../../shared/aws/iot/endpoints';
import { createProvisioningClaim } from '../../shared/aws/iot/issuance';
import { bindCalls } from '../../shared/aws/bind-calls';
import { recordClaim } from '../../shared/aws/ledger/claims';
import { loadClaimVendingConfig } from '../../shared/config';
import type { HttpApiResult } from '../../shared/http/response';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import { memoizeAsync } from '../../shared/lambda/memoize';
import type { ClaimVendingDeps } from '../../shared/provisioning/vend-claim';
import { handleClaimRequest } from './http';

/** POST /provisioning-claims behind the Cognito JWT authorizer: a claim certificate for a trusted user. */

const config = loadClaimVendingConfig();
const iot = iotCalls(createIotClient(), { createProvisioningClaim, describeEndpoint });
const deps: ClaimVendingDeps = {
  iot,
  dataEndpoint: memoizeAsync(() => iot.describeEndpoint('iot:Data-ATS')),
  ledger: bindCalls({ client: createDocumentClient(), tableName: config.ledgerTable }, { recordClaim }),
  templateName: config.templateName,
  now: () => new Date(),
  log: logger,
  metrics,
};

export const lambdaHandler = (event: unknown): Promise<HttpApiResult> => handleClaimRequest(event, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
