import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { FunctionInvoker } from '../lambda/async-lambda';
import { invalid } from '../iot-core/errors';
import { HostedSignIn } from '../cognito/hosted-ui';
import { LocalUserPool, type UserPoolClient, type UserPoolUser } from '../cognito/user-pool';
import { LocalHttpApi, type HttpRoute } from './http-api';
import type { CorsConfiguration } from './cors';
import { JwtAuthorizer } from './jwt';

/**
 * The stack's HTTP API, started on first use: routes are collected while the stack deploys and served once
 * `start()` runs. JWT-authorized routes get the stand-in user pool (local/cognito/): its hosted sign-in is
 * served beside the API, and the API's authorizer verifies tokens with the pool's JWKS, fetched over HTTP as
 * API Gateway fetches it.
 */

export interface UserPoolSettings {
  issuer: string;
  groups: string[];
  clients: UserPoolClient[];
}

export class HttpApiHost {
  private readonly pendingRoutes: HttpRoute[] = [];
  private api?: { server: LocalHttpApi; url: string };
  private userPoolSettings?: UserPoolSettings;
  private userPool?: Promise<LocalUserPool>;
  private signIn?: { server: HostedSignIn; url: string; jwks: JWTVerifyGetKey };
  /** The client `issueToken` signs for: the first audience of the first JWT authorizer. */
  private tokenAudience?: string;

  constructor(
    private readonly options: { invoke: FunctionInvoker; accountId: string; region: string; host: string; port: number; userPoolPort?: number; now?: () => Date },
  ) {}

  /** Adds a route (served from the next `start()`). */
  addRoute(route: HttpRoute): void {
    if (route.authorizer && this.tokenAudience === undefined) this.tokenAudience = route.authorizer.audience[0] ?? '';
    this.pendingRoutes.push(route);
  }

  private cors: CorsConfiguration | undefined;

  /** The HTTP API's CorsConfiguration (the template's HttpApi resource); served from now on. */
  configureCors(cors: CorsConfiguration | undefined): void {
    this.cors = cors;
    if (this.api) this.api.server.cors = cors;
  }

  /** The user pool of the stack (its groups and app clients); the first deployed stack's, as with the routes. */
  configureUserPool(settings: UserPoolSettings): void {
    this.userPoolSettings ??= settings;
  }

  /** The stand-in user pool (created on first use). */
  pool(): Promise<LocalUserPool> {
    const settings = this.userPoolSettings;
    if (!settings) return Promise.reject(invalid('no user pool is deployed'));
    this.userPool ??= LocalUserPool.create(settings.issuer, this.options.now).then((pool) => {
      for (const group of settings.groups) pool.addGroup(group);
      for (const client of settings.clients) pool.addClient(client);
      return pool;
    });
    return this.userPool;
  }

  /** The hosted sign-in's URL (Cognito's https://<prefix>.auth.<region>.amazoncognito.com), once started. */
  get signInUrl(): string | undefined {
    return this.signIn?.url;
  }

  /** Starts the HTTP API (and the hosted sign-in) with the routes added so far (once), and serves routes added since; its URL. */
  async start(port = this.options.port): Promise<string> {
    if (!this.signIn && this.userPoolSettings) {
      const server = await HostedSignIn.create(await this.pool());
      const url = await server.listen(this.options.userPoolPort ?? 0, this.options.host);
      this.signIn = { server, url, jwks: createRemoteJWKSet(new URL('/.well-known/jwks.json', url)) };
    }
    if (!this.api) {
      const issuer = this.userPoolSettings?.issuer;
      const authorizer = new JwtAuthorizer((wanted) => (wanted === issuer ? this.signIn?.jwks : undefined), this.options.now);
      const server = new LocalHttpApi({
        invoke: this.options.invoke,
        jwt: authorizer,
        accountId: this.options.accountId,
        region: this.options.region,
        ...(this.options.now ? { now: this.options.now } : {}),
      });
      server.cors = this.cors;
      this.api = { server, url: await server.listen(port, this.options.host) };
    }
    for (const route of this.pendingRoutes.splice(0)) this.api.server.addRoute(route);
    return this.api.url;
  }

  /**
   * An ID token for a user, as the stack's Cognito user pool would issue it after sign-in (signed with the
   * pool's key, so the HTTP API verifies it by JWKS like any other): for a user of the pool, their groups
   * unless `groups` says otherwise; for anyone else, `groups` (none by default).
   */
  async issueToken(username: string, options: { groups?: readonly string[]; ttlSeconds?: number } = {}): Promise<string> {
    if (this.tokenAudience === undefined || !this.userPoolSettings) throw invalid('no JWT authorizer is deployed');
    return (await this.pool()).issueIdToken(username, this.tokenAudience, options);
  }

  /** `local user add`: a user of the stand-in pool, in `groups`. */
  async addUser(email: string, password: string, groups: readonly string[]): Promise<UserPoolUser> {
    return (await this.pool()).addUser(email, password, groups);
  }

  async close(): Promise<void> {
    await this.api?.server.close();
    await this.signIn?.server.close();
  }
}
