import type { FunctionInvoker } from '../lambda/async-lambda';
import { invalid } from '../iot-core/errors';
import { LocalHttpApi, type HttpRoute } from './http-api';
import { LocalJwtIssuer } from './jwt';

/**
 * The stack's HTTP API, started on first use: routes are collected while the stack deploys and served once
 * `start()` runs; JWT-authorized routes get a token issuer (the stand-in user pool).
 */
export class HttpApiHost {
  private readonly pendingRoutes: HttpRoute[] = [];
  private api?: { server: LocalHttpApi; url: string };
  private jwt?: LocalJwtIssuer;

  constructor(
    private readonly options: { invoke: FunctionInvoker; accountId: string; region: string; host: string; port: number; now?: () => Date },
  ) {}

  /** Adds a route (served from the next `start()`); the first JWT-authorized route sets the issuer. */
  addRoute(route: HttpRoute): void {
    if (route.authorizer && !this.jwt) {
      this.jwt = new LocalJwtIssuer(route.authorizer.issuer, route.authorizer.audience[0] ?? '', this.options.now);
    }
    this.pendingRoutes.push(route);
  }

  /** Starts the HTTP API with the routes added so far (once), and serves routes added since; its URL. */
  async start(port = this.options.port): Promise<string> {
    if (!this.api) {
      const server = new LocalHttpApi({
        invoke: this.options.invoke,
        jwt: this.jwt ?? new LocalJwtIssuer('https://local.invalid', 'none', this.options.now),
        accountId: this.options.accountId,
        region: this.options.region,
        ...(this.options.now ? { now: this.options.now } : {}),
      });
      this.api = { server, url: await server.listen(port, this.options.host) };
    }
    for (const route of this.pendingRoutes.splice(0)) this.api.server.addRoute(route);
    return this.api.url;
  }

  /** A JWT for a local user, as the stack's Cognito user pool would issue it after sign-in. */
  issueToken(username: string, options: { ttlSeconds?: number; groups?: readonly string[] } = {}): string {
    if (!this.jwt) throw invalid('no JWT authorizer is deployed');
    return this.jwt.issue(username, options);
  }

  async close(): Promise<void> {
    await this.api?.server.close();
  }
}
