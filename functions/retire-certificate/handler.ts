import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { loadRetirementConfig } from '../../shared/config';
import { logger } from '../../shared/logger';
import { retireRotatedCertificate } from '../../shared/provisioning/vend-certificate';
import { retirementSchema, sqsEventSchema } from '../../shared/schemas/sqs-event';

/**
 * Retires certificates rotated out by the vending API once their grace period is over (SQS delay queue).
 * A failing record is reported alone (batchItemFailures) and retried by SQS; a malformed one is dropped.
 */

const config = loadRetirementConfig();
const deps = {
  iot: new AwsIotDirectory(createIotClient()),
  registry: new DynamoDeviceRegistry(createDocumentClient(), config.registryTable),
  log: logger,
};

export const lambdaHandler = async (event: unknown): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }> => {
  const parsed = sqsEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.error('not an SQS event; dropped');
    return { batchItemFailures: [] };
  }
  const failures: Array<{ itemIdentifier: string }> = [];
  for (const record of parsed.data.Records) {
    let retirement;
    try {
      retirement = retirementSchema.parse(JSON.parse(record.body));
    } catch {
      logger.error('malformed retirement message; dropped', { messageId: record.messageId });
      continue;
    }
    try {
      await retireRotatedCertificate(retirement, deps);
    } catch (error) {
      logger.warn('retirement failed; SQS will retry', { messageId: record.messageId, error: (error as Error).name });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
