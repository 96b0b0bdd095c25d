import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { loadActivationConfig } from '../../shared/config';
import { logger } from '../../shared/logger';
import {
  activateRegisteredCertificate,
  type ActivationDeps,
  type ActivationResult,
} from '../../shared/provisioning/activate-certificate';
import { cachedCaLookup } from '../../shared/provisioning/ca-lookup';
import { certificateRegisteredEventSchema } from '../../shared/schemas/certificate-registered-event';

/**
 * JITR: invoked asynchronously by the topic rule on `$aws/events/certificates/registered/+`.
 * Invalid events are dropped (returning, not throwing, so Lambda does not retry them); AWS failures are
 * thrown so that Lambda retries and finally sends the event to the on-failure destination.
 */

const config = loadActivationConfig();
const iot = new AwsIotDirectory(createIotClient());
const deps: ActivationDeps = {
  iot,
  registry: new DynamoDeviceRegistry(createDocumentClient(), config.registryTable),
  caLookup: cachedCaLookup(iot, { ttlMs: 5 * 60_000, now: Date.now }),
  settings: config.settings,
  now: () => new Date(),
  log: logger,
};

export type ActivateCertificateResult = ActivationResult | { outcome: 'dropped'; reason: 'invalid-event' };

export const lambdaHandler = async (event: unknown): Promise<ActivateCertificateResult> => {
  const parsed = certificateRegisteredEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.warn('event dropped: not a certificate-registered event', {
      issues: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
    return { outcome: 'dropped', reason: 'invalid-event' };
  }
  logger.appendKeys({ certificateId: parsed.data.certificateId, caCertificateId: parsed.data.caCertificateId });
  return activateRegisteredCertificate(parsed.data, deps);
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
