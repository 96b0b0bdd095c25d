import type { LocalDynamoDb } from './dynamodb';
import type { LocalFunctions } from './local-functions';
import type { HttpApiHost } from './http/http-api-host';
import type { ResponseReceiver } from './cloudformation/response-receiver';
import type { LocalRoute, RawLocalRoute } from './iot-core/control-plane';
import type { DeviceGateway } from './iot-core/device-gateway';
import { invalid } from './iot-core/errors';
import type { FaultOptions, TrafficControl } from './iot-core/traffic';
import type { ConnectionLogEntry } from './iot-core/mqtt-endpoint';

/**
 * The local IoT Core's own API under /_local/ of the control plane (listed in local/README.md): health,
 * first connects without a socket, the failure queue, call statistics, traffic and DynamoDB outage
 * settings, JWTs for the HTTP API, and the CloudFormation ResponseURL receiver.
 */

export interface LocalApiParts {
  traffic: TrafficControl;
  functions: LocalFunctions;
  dynamo: LocalDynamoDb;
  http: HttpApiHost;
  gateway: DeviceGateway;
  /** The MQTT endpoint's connection outcomes (none when the core runs without MQTT). */
  connections: () => ConnectionLogEntry[];
}

/** Validates fault settings sent to POST /_local/traffic. */
function parseFaults(value: unknown): FaultOptions {
  if (!value || typeof value !== 'object') throw invalid('faults must be an object');
  const { throttleRate, errorRate, errorCode, operations } = value as Record<string, unknown>;
  const rate = (name: string, x: unknown) => {
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || x < 0 || x > 1) throw invalid(`faults.${name} must be a number from 0 to 1`);
    return x;
  };
  if (errorCode !== undefined && errorCode !== 'InternalFailureException' && errorCode !== 'ServiceUnavailableException') {
    throw invalid('faults.errorCode must be InternalFailureException or ServiceUnavailableException');
  }
  if (operations !== undefined && (!Array.isArray(operations) || operations.some((o) => typeof o !== 'string'))) {
    throw invalid('faults.operations must be a list of operation names');
  }
  const t = rate('throttleRate', throttleRate);
  const e = rate('errorRate', errorRate);
  return {
    ...(t !== undefined ? { throttleRate: t } : {}),
    ...(e !== undefined ? { errorRate: e } : {}),
    ...(errorCode ? { errorCode } : {}),
    ...(operations ? { operations: operations as string[] } : {}),
  };
}

export function localApi({ traffic, functions, dynamo, http, gateway, connections }: LocalApiParts): LocalRoute {
  return (method, path, body) => {
    if (method === 'GET' && path === '/health') return { ok: true };
    if (method === 'GET' && path === '/failures') return { messages: functions.failures };
    // What AWS IoT writes to CloudWatch Logs (AWSIotLogsV2) as Connect entries: the client id and certificate of each CONNECT.
    if (method === 'GET' && path === '/connections') return { connections: connections() };
    if (method === 'GET' && path === '/stats') return traffic.stats;
    if (method === 'POST' && path === '/traffic') {
      // e.g. {"throttling": false} or {"faults": {"throttleRate": 0.3, "errorRate": 0.05}}
      if (typeof body.throttling === 'boolean' || typeof body.timeScale === 'number') {
        traffic.configure({
          ...(typeof body.throttling === 'boolean' ? { throttling: body.throttling } : {}),
          ...(typeof body.timeScale === 'number' ? { timeScale: body.timeScale } : {}),
        });
      }
      if (body.faults !== undefined) traffic.setFaults(parseFaults(body.faults));
      return { ok: true };
    }
    if (method === 'POST' && path === '/dynamodb') {
      // e.g. {"outage": "unavailable", "durationMs": 5000}, or {"outage": null} to end it
      const { outage, durationMs } = body;
      if (outage !== null && outage !== 'unavailable' && outage !== 'reset' && outage !== 'stall') {
        throw invalid('outage must be "unavailable", "reset", "stall" or null');
      }
      if (durationMs !== undefined && (typeof durationMs !== 'number' || durationMs < 1 || durationMs > 3_600_000)) throw invalid('durationMs must be 1-3600000');
      dynamo.setOutage(outage ?? undefined, durationMs as number | undefined);
      return { ok: true };
    }
    if (method === 'POST' && path === '/token') {
      const username = body.username;
      if (typeof username !== 'string' || !/^[\w.@+-]{1,128}$/.test(username)) throw invalid('username must be 1-128 of [A-Za-z0-9_.@+-]');
      const ttl = body.ttlSeconds;
      if (ttl !== undefined && (typeof ttl !== 'number' || ttl < 1 || ttl > 86_400)) throw invalid('ttlSeconds must be 1-86400');
      const groups = body.groups;
      if (groups !== undefined && (!Array.isArray(groups) || groups.length > 10 || !groups.every((g) => typeof g === 'string' && /^[\w.@+-]{1,128}$/.test(g)))) {
        throw invalid('groups must be a list of up to 10 group names');
      }
      return { token: http.issueToken(username, { ...(typeof ttl === 'number' ? { ttlSeconds: ttl } : {}), ...(groups ? { groups: groups as string[] } : {}) }) };
    }
    if (method === 'POST' && path === '/connect') {
      const result = gateway.firstConnect(String(body.certificatePem ?? ''), typeof body.serverName === 'string' ? body.serverName : undefined);
      return result.accepted
        ? { accepted: true, certificateId: result.certificateId }
        : { accepted: false, stage: result.stage, reason: result.reason, certificateId: result.certificateId };
    }
    return undefined;
  };
}

/** PUT|GET /_local/cloudformation-responses/<id>: custom-resource answers, judged as CloudFormation would. */
export function cloudFormationResponses(receiver: ResponseReceiver): RawLocalRoute {
  return (method, path, raw, contentType) => {
    const id = decodeURIComponent(path.slice('/cloudformation-responses/'.length));
    if (!/^[\w.:-]{1,128}$/.test(id)) return undefined;
    if (method === 'PUT') return { received: receiver.receive(id, raw, contentType).problems.length === 0 };
    if (method === 'GET') return receiver.received(id).length ? { responses: receiver.received(id) } : undefined;
    return undefined;
  };
}
