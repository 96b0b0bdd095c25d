import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listenOn } from '../net';
import { accessKeyIdOf, accountOfAccessKey } from '../iam/access-keys';

/**
 * CloudWatch Logs, on loopback, for what AWS IoT writes there: the `AWSIotLogsV2` log group with the message
 * broker's `Connect` entries (developer guide, "CloudWatch Logs AWS IoT log entries": timestamp, logLevel,
 * traceId, accountId, status Success|Failure, eventType Connect, protocol MQTT, clientId, principalId =
 * the certificate id, sourceIp, sourcePort; on failure also reason and details), made from the MQTT
 * endpoint's connection log. It speaks the JSON 1.1 protocol the SDK's CloudWatchLogsClient sends
 * (`X-Amz-Target: Logs_20140328.<Operation>`) and serves `FilterLogEvents` only, with JSON filter patterns
 * that are conjunctions of string equalities (`{ $.eventType = "Connect" && $.principalId = "…" }`); any
 * other pattern is an InvalidParameterException rather than a silent mismatch. Each account sees its own
 * entries (the access key id names the account). Unlike AWS, logging is always on here: AWS IoT writes the
 * group only after `SetV2LoggingOptions`.
 */

export interface BrokerConnect {
  at: number;
  accountId: string;
  clientId: string;
  certificateId: string;
  outcome: 'connected' | 'refused';
  /** Why the broker refused it. */
  detail?: string;
}

export const IOT_LOG_GROUP = 'AWSIotLogsV2';
const PAGE_SIZE = 100;

import { accessDeniedMessage, EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE, type Authorize } from '../iam/local-iam';

class LogsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** A JSON filter pattern of `$.field = "value"` terms joined by `&&`, as a predicate on a parsed entry. */
export function jsonEqualityFilter(pattern: string | undefined): (entry: Record<string, unknown>) => boolean {
  if (pattern === undefined || pattern.trim() === '') return () => true;
  const body = /^\s*\{(.*)\}\s*$/s.exec(pattern)?.[1];
  if (body === undefined) throw new LogsError('InvalidParameterException', 'Invalid filter pattern: only JSON patterns { $.field = "value" && … } are served locally');
  const terms = body.split('&&').map((term) => {
    const match = /^\s*\$\.([A-Za-z0-9_]+)\s*=\s*"([^"]*)"\s*$/.exec(term);
    if (!match) throw new LogsError('InvalidParameterException', `Invalid filter pattern term: ${term.trim()}`);
    return { field: match[1]!, value: match[2]! };
  });
  return (entry) => terms.every(({ field, value }) => entry[field] === value);
}

function timestampText(at: number): string {
  // "2017-08-10 15:37:23.476", as AWS IoT writes it.
  return new Date(at).toISOString().replace('T', ' ').replace('Z', '');
}

/** The Connect log entry AWS IoT writes for a broker connect. */
export function connectLogEntry(connect: BrokerConnect): Record<string, unknown> {
  return {
    timestamp: timestampText(connect.at),
    logLevel: connect.outcome === 'connected' ? 'INFO' : 'ERROR',
    traceId: randomUUID(),
    accountId: connect.accountId,
    status: connect.outcome === 'connected' ? 'Success' : 'Failure',
    eventType: 'Connect',
    protocol: 'MQTT',
    clientId: connect.clientId,
    principalId: connect.certificateId,
    sourceIp: '127.0.0.1',
    sourcePort: 0,
    ...(connect.outcome === 'refused' ? { reason: 'AUTHORIZATION_FAILURE', details: connect.detail ?? 'Authorization Failure' } : {}),
  };
}

export class LocalLogs {
  private readonly server: Server;

  /** The local IAM's check of each call, and the region of its ARNs (set by the local IoT Core). */
  authorize: Authorize | undefined = undefined;
  region = 'us-east-1';

  constructor(private readonly connects: () => readonly BrokerConnect[]) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return `http://${host}:${await listenOn(this.server, port, host)}`;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  filterLogEvents(accountId: string, input: Record<string, unknown>): Record<string, unknown> {
    if (input.logGroupName !== IOT_LOG_GROUP) throw new LogsError('ResourceNotFoundException', 'The specified log group does not exist.');
    const matches = jsonEqualityFilter(typeof input.filterPattern === 'string' ? input.filterPattern : undefined);
    const startTime = typeof input.startTime === 'number' ? input.startTime : 0;
    const endTime = typeof input.endTime === 'number' ? input.endTime : Number.MAX_SAFE_INTEGER;
    const limit = typeof input.limit === 'number' ? Math.min(Math.max(1, input.limit), 10_000) : PAGE_SIZE;
    const offset = typeof input.nextToken === 'string' ? Number.parseInt(Buffer.from(input.nextToken, 'base64url').toString('utf8'), 10) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw new LogsError('InvalidParameterException', 'The specified nextToken is invalid.');
    const events = this.connects()
      .filter((c) => c.accountId === accountId && c.at >= startTime && c.at <= endTime)
      .map((c) => ({ at: c.at, entry: connectLogEntry(c) }))
      .filter(({ entry }) => matches(entry));
    const page = events.slice(offset, offset + limit);
    const next = offset + page.length < events.length ? Buffer.from(String(offset + page.length)).toString('base64url') : undefined;
    return {
      events: page.map(({ at, entry }, i) => ({
        logStreamName: `${accountId}-broker`,
        timestamp: at,
        ingestionTime: at,
        message: JSON.stringify(entry),
        eventId: String(offset + i),
      })),
      searchedLogStreams: [],
      ...(next ? { nextToken: next } : {}),
    };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
      response.end(JSON.stringify(body));
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      // A local key names its account (local/iam/access-keys.ts); any other key is taken as the account, as before.
      const accessKeyId = accessKeyIdOf(request.headers.authorization);
      const accountId = accountOfAccessKey(accessKeyId) ?? accessKeyId;
      if (!accountId) throw new LogsError('UnrecognizedClientException', INVALID_TOKEN_MESSAGE);
      const target = String(request.headers['x-amz-target'] ?? '');
      if (target !== 'Logs_20140328.FilterLogEvents') throw new LogsError('UnknownOperationException', `${target || '(no operation)'} is not served by the local CloudWatch Logs`);
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      // IAM (local/iam/): logs:FilterLogEvents on the log group (Service Authorization Reference, CloudWatch Logs).
      const group = `arn:aws:logs:${this.region}:${accountId}:log-group:${String(input.logGroupName ?? '')}`;
      const decision = await this.authorize?.(request.headers.authorization, 'logs:FilterLogEvents', [group]);
      if (decision?.kind === 'unknown-key') throw new LogsError('UnrecognizedClientException', INVALID_TOKEN_MESSAGE);
      if (decision?.kind === 'expired') throw new LogsError('ExpiredTokenException', EXPIRED_TOKEN_MESSAGE);
      if (decision?.kind === 'denied') throw new LogsError('AccessDeniedException', accessDeniedMessage(decision));
      answer(200, this.filterLogEvents(accountId, input));
    } catch (error) {
      const e = error instanceof LogsError ? error : new LogsError('ServiceUnavailableException', (error as Error).message);
      answer(e.type === 'ServiceUnavailableException' ? 500 : 400, { __type: e.type, message: e.message });
    }
  }
}
