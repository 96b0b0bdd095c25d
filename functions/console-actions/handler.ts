import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { lifecycleIotCalls } from '../../shared/aws/iot/lifecycle-calls';
import {
  allowDevice,
  beginRetirement,
  beginSuspension,
  blockDevice,
  completeResume,
  completeRetirement,
  getDevice,
  markBound,
} from '../../shared/aws/registry/entries';
import { rollBackRotation } from '../../shared/aws/registry/rotation-commit';
import { appendTimelineEvents } from '../../shared/aws/timeline/batch-events';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { loadConsoleActionsConfig } from '../../shared/config';
import type { HttpApiResult } from '../../shared/http/response';
import { logger } from '../../shared/logger';
import { importRows } from '../../shared/registry/import-devices';
import { handleConsoleAction, type ConsoleActionsDeps } from './http';

/** The console's write routes (HTTP API, operators' JWT): POST /devices/{deviceId}/actions, POST /devices/import. */

const config = loadConsoleActionsConfig();
const documents = createDocumentClient({ maxAttempts: 3 });
const registryTable = { client: documents, tableName: config.registryTable };
const timelineTable = { client: documents, tableName: config.timelineTable };
const registry = bindCalls(registryTable, {
  get: getDevice,
  markBound,
  beginSuspension,
  completeResume,
  beginRetirement,
  completeRetirement,
  allow: allowDevice,
  block: blockDevice,
  // Suspend and retire close an open certificate rotation (shared/lifecycle/actions.ts).
  rollBackRotation,
});

const deps: ConsoleActionsDeps = {
  lifecycle: {
    registry,
    iot: lifecycleIotCalls(createIotClient({ maxAttempts: 3 })),
    timeline: bindCalls(timelineTable, { append: appendTimelineEvent }),
    quarantineGroup: config.quarantineGroup,
    now: () => new Date(),
  },
  registry,
  importRows: (rows) => importRows(registryTable, rows),
  appendEvents: (events) => appendTimelineEvents(timelineTable, events),
  log: logger,
};

export const lambdaHandler = (event: unknown): Promise<HttpApiResult> => handleConsoleAction(event, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
