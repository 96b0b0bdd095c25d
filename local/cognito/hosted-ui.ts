import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { default as Provider, Adapter, AdapterPayload, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { closeServer, listenOn } from '../net';
import { accessTokenClaims, type LocalUserPool, type SignInEvent, type UserPoolUser } from './user-pool';

/**
 * The local stand-in for the user pool's hosted sign-in (Cognito's managed login / hosted UI), built on
 * `oidc-provider`: the OAuth 2.0 authorization code grant with PKCE (S256, required), a sign-in page
 * (email + password) for the local users, and the endpoints at Cognito's paths
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-userpools-server-contract-reference.html):
 *
 *   GET  /oauth2/authorize                  → 303 to /login?uid=… (the sign-in page), then back to the
 *                                              redirect_uri with ?code=…&state=…
 *   GET|POST /login                          the sign-in form
 *   POST /oauth2/token                      code + code_verifier → id_token, access_token, refresh_token
 *   GET  /oauth2/userInfo, POST /oauth2/revoke
 *   GET  /logout?client_id=…&logout_uri=…   ends the session, back to logout_uri (one of the client's LogoutURLs)
 *   GET  /.well-known/openid-configuration, /.well-known/jwks.json
 *
 * The tokens are Cognito's: the issuer is the pool's (https://cognito-idp.<region>.amazonaws.com/<pool id>,
 * what the HTTP API's authorizer expects), the ID token has `aud` = the client id, and the claims of
 * local/cognito/user-pool.ts. One difference remains: oidc-provider refuses JWT access tokens without an
 * audience, so the access token's `aud` is the client id too (Cognito's has only `client_id`); API Gateway's
 * JWT authorizer checks `aud` when a token has one, so both pass the same authorizer.
 *
 * oidc-provider (and jose) are ECMAScript modules only: tsx and Node ≥ 20.19 load them from this CommonJS
 * module (import() here; require of ESM for jose), and jest transpiles them like @middy and aedes
 * (jest.config.js).
 */

/**
 * oidc-provider, loaded on first use. On Node 20 (this repository's floor, package.json engines) it warns at
 * load that it wants Node 22 LTS; it runs on 20.19+ (the suites here run it), so that one line is left out.
 */
async function loadProvider(): Promise<typeof Provider> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
    warn(...args);
  };
  try {
    return (await import('oidc-provider')).Provider;
  } finally {
    console.warn = warn;
  }
}

/** The resource (RFC 8707) every access token is for: the stack's API, whose audience is the client. */
const API_RESOURCE = 'urn:iot-provisioner:api';
const SCOPES = 'openid email profile';

/** oidc-provider's storage, in memory: codes, sessions, grants, tokens, each until it expires. */
class MemoryAdapter implements Adapter {
  private readonly items = new Map<string, { payload: AdapterPayload; expiresAt?: number }>();
  constructor(
    private readonly model: string,
    private readonly all: Map<string, MemoryAdapter>,
  ) {}

  static factory(): { adapter: (model: string) => MemoryAdapter; sessions: () => MemoryAdapter | undefined } {
    const all = new Map<string, MemoryAdapter>();
    return {
      adapter: (model) => {
        let adapter = all.get(model);
        if (!adapter) all.set(model, (adapter = new MemoryAdapter(model, all)));
        return adapter;
      },
      sessions: () => all.get('Session'),
    };
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    this.items.set(id, { payload: { ...payload }, ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}) });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const item = this.items.get(id);
    if (!item) return undefined;
    if (item.expiresAt !== undefined && item.expiresAt <= Date.now()) {
      this.items.delete(id);
      return undefined;
    }
    return item.payload;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return [...this.items.values()].find((i) => i.payload.userCode === userCode)?.payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return [...this.items.values()].find((i) => i.payload.uid === uid)?.payload;
  }

  async consume(id: string): Promise<void> {
    const item = this.items.get(id);
    if (item) item.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.items.delete(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const adapter of this.all.values()) {
      for (const [id, item] of adapter.items) if (item.payload.grantId === grantId) adapter.items.delete(id);
    }
  }
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The sign-in page: small, phone-sized, no script (the CSP below allows none). */
function signInPage(uid: string, error?: string, email = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — iot-provisioner (local)</title>
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:3rem auto;padding:0 1rem}label{display:block;margin:.8rem 0 .2rem}
input{width:100%;padding:.55rem;font-size:1rem;box-sizing:border-box}button{margin-top:1.2rem;width:100%;padding:.65rem;font-size:1rem}
.error{color:#b00020}.note{color:#555;font-size:.85rem;margin-top:1.5rem}</style></head>
<body><h1>Sign in</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="uid" value="${escapeHtml(uid)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(email)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="note">Local user pool: no MFA is asked here (the stack's pool asks for TOTP).</p>
</body></html>`;
}

async function formOf(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 16_384) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const cookieOf = (request: IncomingMessage, name: string): string | undefined =>
  (request.headers.cookie ?? '')
    .split(';')
    .map((part) => part.trim().split('='))
    .find(([key]) => key === name)?.[1];

export class HostedSignIn {
  private readonly server: Server;
  private readonly provider: Provider;
  private readonly sessions: () => MemoryAdapter | undefined;
  /** One sign-in's origin_jti, event_id and auth_time, shared by the tokens of its grant. */
  private readonly signIns = new Map<string, SignInEvent>();

  static async create(pool: LocalUserPool): Promise<HostedSignIn> {
    return new HostedSignIn(pool, await loadProvider());
  }

  private constructor(
    private readonly pool: LocalUserPool,
    ProviderClass: typeof Provider,
  ) {
    const storage = MemoryAdapter.factory();
    this.sessions = storage.sessions;
    const signInOf = (grantId: string | undefined): SignInEvent => {
      const key = grantId ?? 'none';
      let event = this.signIns.get(key);
      if (!event) this.signIns.set(key, (event = pool.signInEvent()));
      return event;
    };
    const userOf = (sub: string): UserPoolUser | undefined => pool.userList.find((u) => u.sub === sub);

    const configuration: Configuration = {
      adapter: storage.adapter,
      clients: pool.oauthClients.map((client) => ({
        client_id: client.clientId,
        // A public client: no secret, PKCE instead.
        token_endpoint_auth_method: 'none',
        redirect_uris: client.callbackUrls,
        post_logout_redirect_uris: client.logoutUrls,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        require_auth_time: true,
        id_token_signed_response_alg: 'RS256',
      })),
      jwks: pool.signingJwks as Configuration['jwks'],
      async findAccount(_ctx, sub, token) {
        const user = userOf(sub);
        if (!user) return undefined;
        const signIn = signInOf((token as { grantId?: string } | undefined)?.grantId);
        return {
          accountId: sub,
          // The ID token's Cognito claims (iss, aud, iat, exp and auth_time are oidc-provider's).
          claims: (use) => ({
            sub: user.sub,
            ...(user.groups.length ? { 'cognito:groups': [...user.groups] } : {}),
            email: user.email,
            email_verified: true,
            'cognito:username': user.username,
            ...(use === 'id_token' ? { token_use: 'id', origin_jti: signIn.originJti, event_id: signIn.eventId, jti: randomBytes(16).toString('hex') } : {}),
          }),
        };
      },
      claims: {
        openid: ['sub', 'cognito:groups', 'cognito:username', 'token_use', 'origin_jti', 'event_id', 'jti'],
        email: ['email', 'email_verified'],
        profile: [],
      },
      // Cognito's ID token carries the user's claims even beside an access token.
      conformIdTokenClaims: false,
      scopes: ['openid', 'email', 'profile'],
      // Cognito issues a refresh token with every code grant.
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      pkce: { required: () => true },
      // A browser app calls the token endpoint from its own origin: CORS for the origins of the client's
      // callback URLs only (Cognito's token endpoint answers browser apps' CORS requests).
      clientBasedCORS: (_ctx, origin, client) => client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
      routes: {
        authorization: '/oauth2/authorize',
        token: '/oauth2/token',
        userinfo: '/oauth2/userInfo',
        revocation: '/oauth2/revoke',
        jwks: '/.well-known/jwks.json',
        end_session: '/oauth2/session/end',
      },
      interactions: { url: (_ctx, interaction) => `/login?uid=${encodeURIComponent(interaction.uid)}` },
      // The console is the pool's own client: no consent screen (Cognito shows none); the grant is made here.
      async loadExistingGrant(ctx: KoaContextWithOIDC) {
        const { session, client } = ctx.oidc;
        if (!session?.accountId || !client) return undefined;
        const existing = session.grantIdFor(client.clientId);
        if (existing) {
          const grant = await ctx.oidc.provider.Grant.find(existing);
          if (grant) return grant;
        }
        const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
        grant.addOIDCScope(SCOPES);
        grant.addResourceScope(API_RESOURCE, SCOPES);
        await grant.save();
        session.ensureClientContainer(client.clientId);
        session.grantIdFor(client.clientId, grant.jti);
        return grant;
      },
      features: {
        devInteractions: { enabled: false },
        revocation: { enabled: true },
        userinfo: { enabled: true },
        // JWT access tokens, for the stack's API.
        resourceIndicators: {
          enabled: true,
          defaultResource: () => API_RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, _resource, client) => ({
            scope: SCOPES,
            audience: client.clientId,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 3600,
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      formats: {
        customizers: {
          // The access token's Cognito claims: token_use, username, cognito:groups, origin_jti, …
          jwt(_ctx, token, jwt) {
            const user = userOf(String((token as { accountId?: string }).accountId));
            if (!user) return;
            const claims = accessTokenClaims(user, signInOf((token as { grantId?: string }).grantId), String(jwt.payload.client_id), SCOPES);
            Object.assign(jwt.payload, claims, { iss: pool.issuer });
          },
        },
      },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      ttl: { AuthorizationCode: 300, IdToken: 3600, AccessToken: 3600, RefreshToken: 43_200, Session: 3600, Interaction: 600, Grant: 43_200 },
    };
    this.provider = new ProviderClass(pool.issuer, configuration);
    // The sign-in is served over plain HTTP on localhost; oidc-provider reads the protocol from the request.
    this.provider.proxy = false;
    const providerHandler = this.provider.callback();
    this.server = createServer((request, response) => {
      void this.handle(request, response, providerHandler).catch(() => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('Internal error');
      });
    });
  }

  /** The origins the app clients' sign-ins may return to. */
  private callbackOrigins(): string[] {
    return [...new Set(this.pool.oauthClients.flatMap((client) => client.callbackUrls).map((url) => new URL(url).origin))];
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return `http://${host === '127.0.0.1' ? 'localhost' : host}:${await listenOn(this.server, port, host)}`;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse, providerHandler: (req: IncomingMessage, res: ServerResponse) => unknown): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const html = (status: number, body: string) => {
      response.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // form-action also governs the redirects after the form is sent: the sign-in ends at a callback URL.
        'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${this.callbackOrigins().join(' ')}; frame-ancestors 'none'`,
        'x-frame-options': 'DENY',
      });
      response.end(body);
    };
    if (url.pathname === '/login' && request.method === 'GET') {
      const uid = url.searchParams.get('uid');
      if (!uid) return html(400, signInPage('', 'Start the sign-in from the application (GET /oauth2/authorize).'));
      return html(200, signInPage(uid));
    }
    if (url.pathname === '/login' && request.method === 'POST') {
      let form: URLSearchParams;
      try {
        form = await formOf(request);
      } catch {
        return html(400, signInPage('', 'The form is too large.'));
      }
      const uid = form.get('uid') ?? '';
      let details;
      try {
        details = await this.provider.interactionDetails(request, response);
      } catch {
        return html(400, signInPage('', 'This sign-in has expired: start again from the application.'));
      }
      if (details.uid !== uid) return html(400, signInPage('', 'This sign-in has expired: start again from the application.'));
      const email = form.get('email') ?? '';
      const user = await this.pool.authenticate(email, form.get('password') ?? '');
      // Cognito's answer for an unknown user and a wrong password alike.
      if (!user) return html(401, signInPage(uid, 'Incorrect username or password.', email));
      return this.provider.interactionFinished(request, response, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
    }
    if (url.pathname === '/logout' && request.method === 'GET') return this.logout(url, request, response);
    await providerHandler(request, response);
  }

  /** Cognito's /logout: client_id and a logout_uri among the client's LogoutURLs, else an error page. */
  private async logout(url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const client = this.pool.client(url.searchParams.get('client_id') ?? '');
    const logoutUri = url.searchParams.get('logout_uri') ?? '';
    if (!client || !client.logoutUrls.includes(logoutUri)) {
      response.writeHead(400, { 'content-type': 'text/plain' });
      response.end('Required String parameter client_id or logout_uri is not valid');
      return;
    }
    const sessionId = cookieOf(request, '_session');
    if (sessionId) await this.sessions()?.destroy(sessionId);
    response.writeHead(302, {
      location: logoutUri,
      'set-cookie': ['_session', '_session.sig', '_session.legacy', '_session.legacy.sig'].map((name) => `${name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`),
    });
    response.end();
  }
}
