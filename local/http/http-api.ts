import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { closeServer, listenOn } from '../net';
import type { FunctionInvoker } from '../lambda/async-lambda';
import { claimsAsPassed, JwtVerificationError, type JwtAuthorizer } from './jwt';
import { SignatureRejectedError, verifySigV4, type VerifiedCaller } from './sigv4';
import { corsHeaders, preflightAnswer, type CorsConfiguration } from './cors';

/**
 * The local HTTP API: API Gateway HTTP API routes (payload format 2.0, path parameters like `{deviceId}`)
 * to our handlers, with the route's authorization in front. Unauthorized requests never reach a handler,
 * and are answered as API Gateway answers them: a JWT route 401 `{"message":"Unauthorized"}`, an IAM route
 * 403 `{"message":"Forbidden"}` (or the SigV4 error).
 */

export interface HttpRoute {
  method: string;
  /** Route path; `{name}` matches one segment and becomes a path parameter. */
  path: string;
  functionArn: string;
  /** A JWT authorizer. */
  authorizer?: { issuer: string; audience: string[] };
  /** IAM authorization: the request must be signed with SigV4 (service execute-api). */
  iam?: boolean;
}

/** A JWT claim as the HTTP API's JWT authorizer hands it to the function. */

/** `/devices/{deviceId}/certificate` → a matcher giving `{ deviceId }`. */
function compileRoute(path: string): (rawPath: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = path
    .split('/')
    .map((segment) => {
      const parameter = /^\{([A-Za-z0-9_]+)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      names.push(parameter[1]!);
      return '([^/]+)';
    })
    .join('/');
  const regex = new RegExp(`^${pattern}$`);
  return (rawPath) => {
    const match = regex.exec(rawPath);
    if (!match) return undefined;
    try {
      return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
    } catch {
      return undefined;
    }
  };
}


const INTEGRATION_TIMEOUT_MS = 30_000;

export class LocalHttpApi {
  private readonly server: Server;
  private readonly routes: Array<HttpRoute & { match: (rawPath: string) => Record<string, string> | undefined }> = [];

  constructor(
    private readonly options: { invoke: FunctionInvoker; jwt: JwtAuthorizer; accountId: string; region: string; now?: () => Date },
  ) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  /** The API's CorsConfiguration (the template's HttpApi), applied as API Gateway applies it (./cors.ts). */
  cors: CorsConfiguration | undefined = undefined;

  addRoute(route: HttpRoute): void {
    this.routes.push({ ...route, match: compileRoute(route.path) });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return `http://${host}:${await listenOn(this.server, port, host)}`;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const cors = corsHeaders(this.cors, request.headers);
    const send = (status: number, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
      // With CORS configured, the integration's own CORS headers are ignored and the API's are added.
      const own = this.cors ? Object.fromEntries(Object.entries(headers).filter(([name]) => !name.toLowerCase().startsWith('access-control-'))) : headers;
      response.writeHead(status, { ...own, ...cors, 'apigw-requestid': randomUUID() });
      response.end(body);
    };
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const preflight = preflightAnswer(this.cors, method, request.headers);
    if (preflight) {
      response.writeHead(preflight.status, { ...preflight.headers, 'apigw-requestid': randomUUID() });
      response.end();
      return;
    }
    let pathParameters: Record<string, string> | undefined;
    const route = this.routes.find((r) => r.method === method && (pathParameters = r.match(url.pathname)) !== undefined);
    if (!route) return send(404, JSON.stringify({ message: 'Not Found' }));

    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks);
    const now = this.options.now?.() ?? new Date();

    let caller: VerifiedCaller | undefined;
    if (route.iam) {
      try {
        caller = verifySigV4(
          { method, url: request.url ?? '/', headers: request.headers, body: rawBody },
          { region: this.options.region, service: 'execute-api', now },
        );
      } catch (error) {
        if (error instanceof SignatureRejectedError) return send(403, JSON.stringify({ message: error.answer }));
        throw error;
      }
    }
    let claims: Record<string, unknown> | undefined;
    if (route.authorizer) {
      const token = request.headers.authorization;
      try {
        if (!token) throw new JwtVerificationError('no token');
        claims = await this.options.jwt.verify(token, route.authorizer);
      } catch (error) {
        if (error instanceof JwtVerificationError) return send(401, JSON.stringify({ message: 'Unauthorized' }));
        throw error;
      }
    }
    const body = rawBody.toString('utf8');
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(',') : String(v ?? '')]),
    );
    const event = {
      version: '2.0',
      routeKey: `${route.method} ${route.path}`,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
      ...(pathParameters && Object.keys(pathParameters).length ? { pathParameters } : {}),
      requestContext: {
        accountId: this.options.accountId,
        apiId: 'local',
        // API Gateway passes JWT claims as strings, arrays included (claimsAsPassed).
        ...(claims ? { authorizer: { jwt: { claims: claimsAsPassed(claims), scopes: null } } } : {}),
        ...(caller
          ? { authorizer: { iam: { ...caller, cognitoIdentity: null, principalOrgId: null } } }
          : {}),
        domainName: headers.host ?? 'localhost',
        http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        requestId: randomUUID(),
        routeKey: `${route.method} ${route.path}`,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(body ? { body, isBase64Encoded: false } : { isBase64Encoded: false }),
    };
    let result: unknown;
    try {
      result = await this.options.invoke(route.functionArn, event, INTEGRATION_TIMEOUT_MS);
    } catch {
      return send(500, JSON.stringify({ message: 'Internal Server Error' }));
    }
    // Payload 2.0: a result with statusCode is the response; anything else is a 200 JSON body.
    const shaped = result as { statusCode?: number; headers?: Record<string, string>; body?: string } | null;
    if (shaped && typeof shaped.statusCode === 'number') {
      return send(shaped.statusCode, shaped.body ?? '', shaped.headers ?? {});
    }
    return send(200, JSON.stringify(result ?? null));
  }
}
