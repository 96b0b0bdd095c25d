import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { FunctionInvoker } from '../lambda/async-lambda';
import { JwtVerificationError, type LocalJwtIssuer } from './jwt';

/**
 * The local HTTP API: API Gateway HTTP API routes (payload format 2.0) to our handlers, with the JWT
 * authorizer in front. Unauthorized requests never reach a handler: 401 `{"message":"Unauthorized"}`, as
 * API Gateway answers.
 */

export interface HttpRoute {
  method: string;
  path: string;
  functionArn: string;
  authorizer?: { issuer: string; audience: string[] };
}


const INTEGRATION_TIMEOUT_MS = 30_000;

export class LocalHttpApi {
  private readonly server: Server;
  private readonly routes: HttpRoute[] = [];

  constructor(
    private readonly options: { invoke: FunctionInvoker; jwt: LocalJwtIssuer; accountId: string; now?: () => Date },
  ) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  addRoute(route: HttpRoute): void {
    this.routes.push(route);
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const send = (status: number, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
      response.writeHead(status, { ...headers, 'apigw-requestid': randomUUID() });
      response.end(body);
    };
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const route = this.routes.find((r) => r.method === method && r.path === url.pathname);
    if (!route) return send(404, JSON.stringify({ message: 'Not Found' }));

    let claims: Record<string, unknown> | undefined;
    if (route.authorizer) {
      const token = request.headers.authorization;
      try {
        if (!token) throw new JwtVerificationError('no token');
        claims = this.options.jwt.verify(token, route.authorizer);
      } catch (error) {
        if (error instanceof JwtVerificationError) return send(401, JSON.stringify({ message: 'Unauthorized' }));
        throw error;
      }
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const now = this.options.now?.() ?? new Date();
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
      requestContext: {
        accountId: this.options.accountId,
        apiId: 'local',
        // API Gateway passes JWT claims as strings.
        ...(claims
          ? { authorizer: { jwt: { claims: Object.fromEntries(Object.entries(claims).map(([k, v]) => [k, typeof v === 'string' ? v : String(v)])), scopes: null } } }
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
