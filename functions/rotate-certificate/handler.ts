import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { bindCalls } from '../../shared/aws/bind-calls';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { describeEndpoint } from '../../shared/aws/iot/endpoints';
import { createCertificateFromCsr } from '../../shared/aws/iot/issuance';
import { describeJobExecution } from '../../shared/aws/iot/job-executions';
import { attachPolicy } from '../../shared/aws/iot/policies';
import { attachThingPrincipal } from '../../shared/aws/iot/things';
import { createIotDataClient } from '../../shared/aws/iot-data/client';
import { publishJson } from '../../shared/aws/iot-data/publish';
import { getDevice } from '../../shared/aws/registry/entries';
import { beginRotationIssue, markRotationIssued, recordRotationCertificate, recordRotationRefusal } from '../../shared/aws/registry/rotation-issue';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadRotationIssueConfig } from '../../shared/config';
import { memoizeAsync } from '../../shared/lambda/memoize';
import { logger } from '../../shared/logger';
import { metrics, metricsMiddleware } from '../../shared/metrics';
import { certificateTopic } from '../../shared/rotation/model';
import { issueRotationCertificate, type RotationIssueDeps, type RotationIssueResult } from '../../shared/rotation/issue';
import { issuesOf } from '../../shared/schemas/issues';
import { rotationCsrEventSchema } from '../../shared/schemas/rotation-csr-event';

/**
 * The rotation's CSR step: invoked asynchronously by the topic rule on `device/+/rotation/csr`
 * (functions/rotate-certificate/resources.cjs). An event without a thing, jobId or clientToken cannot be
 * answered and is dropped (returning, so Lambda does not retry it); AWS failures and registry races are
 * thrown, so that Lambda retries the whole, idempotent, step and finally sends the event to the failure queue.
 */

const config = loadRotationIssueConfig();
const client = createIotClient();
// Exactly the IoT calls the CSR step makes (its role grants these).
const iot = iotCalls(client, { describeCertificate, createCertificateFromCsr, attachPolicy, attachThingPrincipal, updateCertificateStatus, describeJobExecution, describeEndpoint });
const dataClient = memoizeAsync(async () => createIotDataClient(config.dataEndpointFromEnvironment ? undefined : await iot.describeEndpoint('iot:Data-ATS')));
const documents = createDocumentClient();
const registryTable = { client: documents, tableName: config.registryTable };
const deps: RotationIssueDeps = {
  iot,
  registry: {
    ...bindCalls(registryTable, { get: getDevice }),
    ...bindCalls(registryTable, { beginIssue: beginRotationIssue, recordNewCertificate: recordRotationCertificate, markIssued: markRotationIssued, recordRefusal: recordRotationRefusal }),
  },
  answer: async (thingName, answer) => publishJson(await dataClient(), certificateTopic(thingName), answer),
  timeline: bindCalls({ client: documents, tableName: config.timelineTable }, { append: appendTimelineEvent }),
  settings: { devicePolicyName: config.devicePolicyName, functionName: 'rotateCertificate' },
  now: () => new Date(),
  log: logger,
  metrics,
};

export type RotateCertificateResult = RotationIssueResult | { outcome: 'dropped'; reason: 'invalid-event' };

export const lambdaHandler = async (event: unknown): Promise<RotateCertificateResult> => {
  const parsed = rotationCsrEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.warn('event dropped: not a rotation CSR', { issues: issuesOf(parsed.error) });
    return { outcome: 'dropped', reason: 'invalid-event' };
  }
  // Keys only: the CSR holds no secret, but it is not logged either (it is large and says nothing new).
  logger.appendKeys({ deviceId: parsed.data.thingName, jobId: parsed.data.jobId, clientToken: parsed.data.clientToken });
  return issueRotationCertificate(parsed.data, deps);
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
