import { FilterLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { ConnectAttempt } from '../../diagnosis/facts';

/**
 * A certificate's recent MQTT CONNECTs, from AWS IoT's own log: the message broker writes a `Connect` entry
 * for each (clientId, principalId = the certificate id, status Success or Failure, with reason and details
 * on failure) to the `AWSIotLogsV2` log group, when AWS IoT logging is on (developer guide, "CloudWatch Logs
 * AWS IoT log entries", Connect log entry; `aws iot set-v2-logging-options`). One FilterLogEvents per page,
 * filtered on the server by a JSON filter pattern, newest last.
 */

export const IOT_LOG_GROUP = 'AWSIotLogsV2';

/** How far back, and how many entries at most, `devices why` looks. */
export const CONNECT_WINDOW_MS = 7 * 86_400_000;
export const MAX_CONNECTS = 50;
/** FilterLogEvents answers oldest first: at most this many pages are read to reach the newest entries. */
const MAX_PAGES = 20;

export class IotLoggingOffError extends Error {
  override name = 'IotLoggingOffError';
}

const CERTIFICATE_ID = /^[0-9a-f]{64}$/;

interface ConnectLogEntry {
  eventType?: unknown;
  status?: unknown;
  clientId?: unknown;
  principalId?: unknown;
  reason?: unknown;
  details?: unknown;
}

function attemptOf(timestamp: number | undefined, message: string | undefined, certificateId: string): ConnectAttempt | undefined {
  let entry: ConnectLogEntry;
  try {
    entry = JSON.parse(message ?? '') as ConnectLogEntry;
  } catch {
    return undefined;
  }
  if (entry.eventType !== 'Connect' || entry.principalId !== certificateId || typeof entry.clientId !== 'string' || timestamp === undefined) return undefined;
  const refused = entry.status !== 'Success';
  const reason = [entry.reason, entry.details].filter((part): part is string => typeof part === 'string' && part.length > 0).join(': ');
  return { at: new Date(timestamp).toISOString(), clientId: entry.clientId, outcome: refused ? 'refused' : 'connected', ...(refused && reason ? { reason } : {}) };
}

export async function recentConnects(client: CloudWatchLogsClient, certificateId: string, now: Date = new Date()): Promise<ConnectAttempt[]> {
  // The id goes into a filter pattern: only the 64 hex digits AWS IoT ids are made of.
  if (!CERTIFICATE_ID.test(certificateId)) throw new Error(`not a certificate id: ${certificateId}`);
  const attempts: ConnectAttempt[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  try {
    do {
      const page = await client.send(
        new FilterLogEventsCommand({
          logGroupName: IOT_LOG_GROUP,
          filterPattern: `{ $.eventType = "Connect" && $.principalId = "${certificateId}" }`,
          startTime: now.getTime() - CONNECT_WINDOW_MS,
          endTime: now.getTime(),
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      for (const event of page.events ?? []) {
        const attempt = attemptOf(event.timestamp, event.message, certificateId);
        if (attempt) attempts.push(attempt);
      }
      // Only the newest are kept.
      if (attempts.length > MAX_CONNECTS) attempts.splice(0, attempts.length - MAX_CONNECTS);
      nextToken = page.nextToken;
    } while (nextToken && ++pages < MAX_PAGES);
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') {
      throw new IotLoggingOffError(`AWS IoT logging is off here (no ${IOT_LOG_GROUP} log group): turn it on with aws iot set-v2-logging-options to see connects`);
    }
    throw error;
  }
  return attempts.sort((a, b) => a.at.localeCompare(b.at)).slice(-MAX_CONNECTS);
}
