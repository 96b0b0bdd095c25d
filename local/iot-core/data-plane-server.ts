import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listenOn } from '../net';
import { accountOfRequest } from '../iam/access-keys';
import { isServiceTopic, type DataPlane } from './data-plane';
import type { IotAccount } from './registry/account';
import type { IotRegistry } from './registry/iot-registry';
import { ShadowError, type ShadowKey } from './shadows';

/**
 * AWS IoT's data plane over HTTP, speaking the REST-JSON protocol of the `iot-data` service model (the AWS
 * CLI's botocore data/iot-data/2015-05-28), so `@aws-sdk/client-iot-data-plane` and `aws iot-data` work with
 * only an endpoint URL (AWS_ENDPOINT_URL_IOT_DATA_PLANE): Publish, GetThingShadow, UpdateThingShadow,
 * DeleteThingShadow, ListNamedShadowsForThing, GetRetainedMessage, ListRetainedMessages.
 *
 * On AWS this is the account's data endpoint (`<prefix>-ats.iot.<region>.amazonaws.com`, HTTPS with SigV4), a
 * host apart from the control plane's, so it is a server apart here. As the control plane, it checks no
 * signature and takes the account from a 12-digit access key id.
 * IAM (iot:Publish, iot:GetThingShadow, iot:UpdateThingShadow, iot:DeleteThingShadow,
 * iot:ListNamedShadowsForThing, iot:GetRetainedMessage, iot:ListRetainedMessages on these calls) is NOT
 * evaluated here yet: that is the IAM evaluation's part of issue 13.
 */

interface Request {
  account: IotAccount;
  path: Record<string, string>;
  query: URLSearchParams;
  body: Buffer;
}

/** What a route answers: a JSON structure, or a blob payload (the shadow operations' `payload` member). */
type Answer = { json: unknown } | { blob: Buffer };
type Handler = (request: Request) => Answer;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** The model's error shapes by HTTP status (each `{message}`, named by x-amzn-ErrorType). */
const ERROR_TYPES = {
  400: 'InvalidRequestException',
  401: 'UnauthorizedException',
  403: 'ForbiddenException',
  404: 'ResourceNotFoundException',
  405: 'MethodNotAllowedException',
  409: 'ConflictException',
  413: 'RequestEntityTooLargeException',
  415: 'UnsupportedDocumentEncodingException',
  429: 'ThrottlingException',
  500: 'InternalFailureException',
} as const;

/** A request refused by the protocol layer (not by the Device Shadow service). */
class RequestError extends Error {
  constructor(
    readonly code: keyof typeof ERROR_TYPES,
    message: string,
  ) {
    super(message);
  }
}

function route(method: string, template: string, handler: Handler): Route {
  const names: string[] = [];
  const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`);
  return { method, pattern, names, handler };
}

const json = (value: unknown): Answer => ({ json: value });
const blob = (value: unknown): Answer => ({ blob: Buffer.from(JSON.stringify(value)) });

function shadowKey({ path, query }: Request): ShadowKey {
  const shadowName = query.get('name');
  return { thingName: path.thingName!, ...(shadowName !== null ? { shadowName } : {}) };
}

function integer(query: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new RequestError(400, `${name} must be an integer from ${min} to ${max}`);
  return value;
}

function routes(data: DataPlane): Route[] {
  return [
    route('POST', '/topics/{topic}', ({ account, path, query, body }) => {
      const qos = integer(query, 'qos', 0, 1) ?? 0;
      const retain = query.get('retain');
      if (retain !== null && retain !== 'true' && retain !== 'false') throw new RequestError(400, 'retain must be true or false');
      // Reserved topics the service alone publishes on (unsourced: AWS's answer to an HTTP publish there).
      if (isServiceTopic(path.topic!)) throw new RequestError(401, `Not authorized to publish to ${path.topic}`);
      if (/[#+]/.test(path.topic!)) throw new RequestError(400, 'A topic name may not contain wildcards');
      data.publish(account, path.topic!, body, { qos: qos as 0 | 1, retain: retain === 'true' });
      return json({});
    }),
    route('GET', '/things/{thingName}/shadow', (request) => blob(data.shadows.get(request.account.accountId, shadowKey(request)))),
    route('POST', '/things/{thingName}/shadow', (request) => blob(data.updateShadow(request.account, shadowKey(request), request.body))),
    route('DELETE', '/things/{thingName}/shadow', (request) => blob(data.deleteShadow(request.account, shadowKey(request)))),
    route('GET', '/api/things/shadow/ListNamedShadowsForThing/{thingName}', ({ account, path, query }) => {
      const pageSize = integer(query, 'pageSize', 1, 100);
      const nextToken = query.get('nextToken');
      return json(data.shadows.listNamed(account.accountId, path.thingName!, { ...(pageSize !== undefined ? { pageSize } : {}), ...(nextToken !== null ? { nextToken } : {}) }));
    }),
    route('GET', '/retainedMessage/{topic}', ({ account, path }) => {
      const message = data.retainedMessage(account, path.topic!);
      if (!message) throw new RequestError(404, `No retained message exists for topic: ${path.topic}`);
      return json({ topic: message.topic, payload: message.payload.toString('base64'), qos: message.qos, lastModifiedTime: message.lastModifiedTime });
    }),
    route('GET', '/retainedMessage', ({ account, query }) => {
      const maxResults = integer(query, 'maxResults', 1, 200) ?? 200;
      const after = query.get('nextToken');
      const all = data.retainedMessages(account).filter((m) => after === null || m.topic > after);
      const page = all.slice(0, maxResults);
      return json({
        retainedTopics: page.map((m) => ({ topic: m.topic, payloadSize: m.payload.length, qos: m.qos, lastModifiedTime: m.lastModifiedTime })),
        ...(all.length > page.length ? { nextToken: page.at(-1)!.topic } : {}),
      });
    }),
  ];
}

export class DataPlaneServer {
  private readonly server: Server;
  private readonly table: Route[];

  constructor(private readonly options: { registry: IotRegistry; data: DataPlane }) {
    this.table = routes(options.data);
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return `http://${host}:${await listenOn(this.server, port, host)}`;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const send = (status: number, body: Buffer, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, 'x-amzn-requestid': randomUUID(), ...headers });
      response.end(body);
    };
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      for (const candidate of this.table) {
        if (candidate.method !== method) continue;
        const match = candidate.pattern.exec(url.pathname);
        if (!match) continue;
        const path = Object.fromEntries(candidate.names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
        const account = this.options.registry.account(accountOfRequest(request.headers.authorization, this.options.registry.defaultAccountId));
        const answer = candidate.handler({ account, path, query: url.searchParams, body: Buffer.concat(chunks) });
        send(200, 'blob' in answer ? answer.blob : Buffer.from(JSON.stringify(answer.json)));
        return;
      }
      throw new RequestError(405, `The local data plane serves no ${method} ${url.pathname}`);
    } catch (error) {
      const known = error instanceof ShadowError || error instanceof RequestError;
      const status = known ? error.code : 500;
      const message = known ? error.message : 'An unexpected error has occurred.';
      if (!known) console.error('[local-iot] data plane internal error', error);
      const type = (ERROR_TYPES as Record<number, string>)[status] ?? 'InternalFailureException';
      send(status, Buffer.from(JSON.stringify({ message })), { 'x-amzn-errortype': type });
    }
  }
}
