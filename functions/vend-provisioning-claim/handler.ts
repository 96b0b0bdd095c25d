import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { DynamoProvisioningLedger } from '../../shared/aws/provisioning-ledger';
import { loadClaimVendingConfig } from '../../shared/config';
import type { HttpApiResult } from '../../shared/http/response';
import { logger } from '../../shared/logger';
import { vendProvisioningClaim, type ClaimVendingDeps } from '../../shared/provisioning/vend-claim';

/** POST /provisioning-claims behind the Cognito JWT authorizer: a claim certificate for a trusted user. */

const config = loadClaimVendingConfig();
const iot = new AwsIotDirectory(createIotClient());
let endpoint: Promise<string> | undefined;
const deps: ClaimVendingDeps = {
  iot,
  dataEndpoint: () => {
    endpoint ??= iot.describeEndpoint('iot:Data-ATS').catch((error: unknown) => {
      endpoint = undefined;
      throw error;
    });
    return endpoint;
  },
  ledger: new DynamoProvisioningLedger(createDocumentClient(), config.ledgerTable),
  templateName: config.templateName,
  now: () => new Date(),
  log: logger,
};

export const lambdaHandler = (event: unknown): Promise<HttpApiResult> => vendProvisioningClaim(event, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
