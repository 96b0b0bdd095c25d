import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createCloudWatchClient, createDocumentClient, createIotClient, createLogsClient, createSqsClient } from '../../shared/aws/clients';
import { readProvisioningMetrics } from '../../shared/aws/cloudwatch/provisioning-metrics';
import { recentConnects } from '../../shared/aws/iot-logs/connects';
import { receiveFailures } from '../../shared/aws/failure-queue';
import { iotCalls } from '../../shared/aws/iot/calls';
import { describeCaCertificate, describeCertificate } from '../../shared/aws/iot/certificates';
import { describeEndpoint } from '../../shared/aws/iot/endpoints';
import { listAttachedPolicies } from '../../shared/aws/iot/policies';
import { describeThing } from '../../shared/aws/iot/thing-facts';
import { listPrincipalThings, listThingGroupsForThing } from '../../shared/aws/iot/things';
import { getDevice } from '../../shared/aws/registry/entries';
import { listDevices } from '../../shared/aws/registry/list-index';
import { decisionChart, listDecisions } from '../../shared/aws/timeline/decisions';
import { listTimelineEvents, pageTimelineEvents } from '../../shared/aws/timeline/events';
import { loadConsoleReadConfig, loadMetricsConfig } from '../../shared/config';
import type { QueuedFailure } from '../../shared/diagnosis/failure-messages';
import type { HttpApiResult } from '../../shared/http/response';
import { memoizeAsync } from '../../shared/lambda/memoize';
import { logger } from '../../shared/logger';
import { handleConsoleRead, type ConsoleReadDeps } from './http';

/** The console's read routes (HTTP API, operators' JWT): GET /devices, /devices/{deviceId}, /devices/{deviceId}/why, /decisions, /metrics. */

const config = loadConsoleReadConfig();
// The stage's own metrics: the namespace and `stage` dimension every function writes them with (shared/metrics.ts).
const metricsConfig = loadMetricsConfig();
const cloudWatch = createCloudWatchClient({ maxAttempts: 3 });
const logs = createLogsClient();
const documents = createDocumentClient({ maxAttempts: 3 });
const registry = { client: documents, tableName: config.registryTable };
const timeline = { client: documents, tableName: config.timelineTable };
const iot = iotCalls(createIotClient({ maxAttempts: 3 }), {
  describeCertificate,
  describeCaCertificate,
  describeThing,
  listThingGroupsForThing,
  listPrincipalThings,
  listAttachedPolicies,
  describeEndpoint,
});
const failureQueue = { client: createSqsClient({ maxAttempts: 3 }), queueUrl: config.failureQueueUrl };

// As `devices why` reads it (cli/failure-queue.ts): a few receives with VisibilityTimeout 0, nothing consumed.
const PEEK_RECEIVES = 5;
async function peekFailures(): Promise<QueuedFailure[]> {
  const seen = new Map<string, QueuedFailure>();
  for (let i = 0; i < PEEK_RECEIVES; i++) {
    const messages = await receiveFailures(failureQueue, { max: 10, visibilitySeconds: 0 });
    for (const m of messages) seen.set(m.messageId, { body: m.body, ...(m.sentAt ? { sentAt: m.sentAt } : {}) });
    if (messages.length === 0) break;
  }
  return [...seen.values()];
}

const deps: ConsoleReadDeps = {
  listDevices: (query) => listDevices(registry, query),
  getDevice: (deviceId) => getDevice(registry, deviceId, { consistent: false }),
  timelinePage: (deviceId, options) => pageTimelineEvents(timeline, deviceId, options),
  describeCertificate: iot.describeCertificate,
  describeThing: iot.describeThing,
  listThingGroupsForThing: iot.listThingGroupsForThing,
  why: {
    ports: {
      registry: bindCalls(registry, { get: getDevice }),
      timeline: bindCalls(timeline, { list: listTimelineEvents }),
      iot: { describeCertificate: iot.describeCertificate, listPrincipalThings: iot.listPrincipalThings, listAttachedPolicies: iot.listAttachedPolicies, describeCaCertificate: iot.describeCaCertificate },
      failureQueue: { peek: peekFailures },
      // As `devices why` reads them (cli/devices-why.ts): AWS IoT's Connect log entries in CloudWatch Logs
      // (AWSIotLogsV2, when its logging is on; developer guide, "CloudWatch Logs AWS IoT log entries").
      connections: { recent: (certificateId: string) => recentConnects(logs, certificateId) },
    },
    devicePolicy: config.devicePolicyName,
    dataEndpoint: memoizeAsync(() => iot.describeEndpoint('iot:Data-ATS')),
  },
  listDecisions: (query) => listDecisions(timeline, query),
  decisionChart: (window, maxItems) => decisionChart(timeline, window, maxItems),
  readMetrics: (window) => readProvisioningMetrics(cloudWatch, { namespace: metricsConfig.namespace, stage: metricsConfig.stage, ...window }),
  now: () => new Date(),
  log: logger,
};

export const lambdaHandler = (event: unknown): Promise<HttpApiResult> => handleConsoleRead(event, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
