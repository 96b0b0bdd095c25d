import { createHash, randomBytes } from 'node:crypto';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { LOCAL_CONSOLE_CLIENT_ID, LOCAL_USER_POOL_ID } from '../../local/deploy-stack';

/**
 * The console's sign-in against the local user pool, over HTTP with fetch only, as the page and a browser
 * do it: the authorization code grant with PKCE (S256) at the hosted sign-in, the tokens it issues, and
 * those tokens at the HTTP API's JWT authorizer and the claim route's group check.
 */

let stack: LocalStack;
let signIn: string;
let clockOffsetMs = 0;
const CALLBACK = 'http://localhost:4577/';
const ISSUER = `https://cognito-idp.us-east-1.amazonaws.com/${LOCAL_USER_POOL_ID}`;
const PASSWORD = 'correct horse battery staple';

beforeAll(async () => {
  stack = await startLocalStack({ core: { now: () => new Date(Date.now() + clockOffsetMs) } });
  signIn = stack.core.endpoints.userPool!;
  const pool = await stack.core.userPool();
  await pool.addUser('tech@example.com', PASSWORD, ['technicians']);
  await pool.addUser('op@example.com', PASSWORD, ['operators', 'technicians']);
  await pool.addUser('visitor@example.com', PASSWORD, []);
});

afterAll(async () => {
  await stack.close();
});

afterEach(() => {
  clockOffsetMs = 0;
});

/** A browser's cookies for the sign-in's origin (Set-Cookie in, Cookie out). */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  get header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/** The browser's part: /oauth2/authorize → the sign-in form → POST credentials → back at the callback with a code. */
async function authorize(email: string, password: string, challenge: string, jar = new CookieJar()): Promise<{ code?: string; state?: string; page?: Response }> {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: LOCAL_CONSOLE_CLIENT_ID,
    redirect_uri: CALLBACK,
    scope: 'openid email profile',
    state: 'state-123',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  let response = await fetch(`${signIn}/oauth2/authorize?${query}`, { redirect: 'manual' });
  jar.take(response);
  expect(response.status).toBe(303);
  const loginUrl = new URL(response.headers.get('location')!, signIn);
  expect(loginUrl.pathname).toBe('/login');

  response = await fetch(loginUrl, { headers: { cookie: jar.header } });
  jar.take(response);
  expect(response.status).toBe(200);
  const form = await response.text();
  expect(form).toContain('<form method="post" action="/login">');
  const uid = /name="uid" value="([^"]+)"/.exec(form)![1]!;

  response = await fetch(`${signIn}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ uid, email, password }).toString(),
  });
  jar.take(response);
  if (response.status !== 303) return { page: response };
  // oidc-provider resumes the authorization, then answers at the callback.
  for (let hops = 0; hops < 5; hops += 1) {
    const location = new URL(response.headers.get('location')!, signIn);
    if (location.href.startsWith(CALLBACK)) {
      return { ...(location.searchParams.get('code') ? { code: location.searchParams.get('code')! } : {}), state: location.searchParams.get('state') ?? '' };
    }
    response = await fetch(location, { redirect: 'manual', headers: { cookie: jar.header } });
    jar.take(response);
  }
  throw new Error('no redirect to the callback');
}

function redeem(code: string, verifier: string): Promise<Response> {
  return fetch(`${signIn}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: LOCAL_CONSOLE_CLIENT_ID, code_verifier: verifier }).toString(),
  });
}

async function signInAs(email: string): Promise<{ id_token: string; access_token: string; refresh_token?: string }> {
  const { verifier, challenge } = pkce();
  const { code } = await authorize(email, PASSWORD, challenge);
  const response = await redeem(code!, verifier);
  expect(response.status).toBe(200);
  return (await response.json()) as { id_token: string; access_token: string; refresh_token?: string };
}

const claim = (authorization?: string) =>
  fetch(`${stack.core.endpoints.http}/provisioning-claims`, { method: 'POST', headers: authorization ? { authorization } : {}, body: '{}' });

describe('the local user pool’s hosted sign-in (authorization code + PKCE)', () => {
  it('signs a technician in and issues Cognito-shaped ID and access tokens that vend a claim (201)', async () => {
    const { verifier, challenge } = pkce();
    const { code, state } = await authorize('tech@example.com', PASSWORD, challenge);
    expect(state).toBe('state-123');
    const response = await redeem(code!, verifier);
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as Record<string, string>;
    expect(tokens).toMatchObject({ token_type: 'Bearer', id_token: expect.any(String), access_token: expect.any(String), refresh_token: expect.any(String) });

    const id = decode(tokens.id_token!);
    expect(id).toMatchObject({
      iss: ISSUER,
      aud: LOCAL_CONSOLE_CLIENT_ID,
      token_use: 'id',
      'cognito:groups': ['technicians'],
      'cognito:username': 'tech@example.com',
      email: 'tech@example.com',
      email_verified: true,
      sub: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      origin_jti: expect.any(String),
      event_id: expect.any(String),
      jti: expect.any(String),
      auth_time: expect.any(Number),
      iat: expect.any(Number),
      exp: expect.any(Number),
    });
    const access = decode(tokens.access_token!);
    expect(access).toMatchObject({
      iss: ISSUER,
      client_id: LOCAL_CONSOLE_CLIENT_ID,
      token_use: 'access',
      'cognito:groups': ['technicians'],
      username: 'tech@example.com',
      scope: 'openid email profile',
      sub: id.sub,
      origin_jti: id.origin_jti,
      event_id: id.event_id,
    });

    const vended = await claim(tokens.id_token);
    expect(vended.status).toBe(201);
    expect(await vended.json()).toMatchObject({ certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), templateName: expect.any(String) });
    expect((await claim(`Bearer ${tokens.access_token}`)).status).toBe(201);
  });

  it('lets an operator vend a claim too', async () => {
    const { id_token } = await signInAs('op@example.com');
    expect(decode(id_token)['cognito:groups']).toEqual(['operators', 'technicians']);
    expect((await claim(id_token)).status).toBe(201);
  });

  it('refuses a signed-in user of no group with 403 and the reason, and mints nothing', async () => {
    const { id_token } = await signInAs('visitor@example.com');
    expect(decode(id_token)).not.toHaveProperty('cognito:groups');
    const response = await claim(id_token);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'This needs a member of technicians or operators.', reason: 'group-not-allowed' });
  });

  it('refuses a wrong code_verifier, and a code used once already', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await authorize('tech@example.com', PASSWORD, challenge);
    const wrong = await redeem(code!, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await redeem(code!, verifier)).status).toBe(200);
    const again = await redeem(code!, verifier);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('requires PKCE: an authorization request without code_challenge goes back with an error', async () => {
    const query = new URLSearchParams({ response_type: 'code', client_id: LOCAL_CONSOLE_CLIENT_ID, redirect_uri: CALLBACK, scope: 'openid', state: 's' });
    const response = await fetch(`${signIn}/oauth2/authorize?${query}`, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    expect(location.href.startsWith(CALLBACK)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('refuses a wrong password and an unknown user alike, on the sign-in page', async () => {
    for (const [email, password] of [
      ['tech@example.com', 'not the password'],
      ['nobody@example.com', PASSWORD],
    ] as const) {
      const { page } = await authorize(email, password, pkce().challenge);
      expect(page?.status).toBe(401);
      expect(await page!.text()).toContain('Incorrect username or password.');
    }
  });

  it('serves the discovery document and the JWKS at Cognito’s paths', async () => {
    const discovery = (await (await fetch(`${signIn}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({
      issuer: ISSUER,
      authorization_endpoint: `${signIn}/oauth2/authorize`,
      token_endpoint: `${signIn}/oauth2/token`,
      jwks_uri: `${signIn}/.well-known/jwks.json`,
      code_challenge_methods_supported: ['S256'],
    });
    const jwks = (await (await fetch(`${signIn}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) })]);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('signs out at /logout to one of the client’s LogoutURLs, and refuses any other', async () => {
    const ok = await fetch(`${signIn}/logout?client_id=${LOCAL_CONSOLE_CLIENT_ID}&logout_uri=${encodeURIComponent(CALLBACK)}`, { redirect: 'manual' });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe(CALLBACK);
    const elsewhere = await fetch(`${signIn}/logout?client_id=${LOCAL_CONSOLE_CLIENT_ID}&logout_uri=${encodeURIComponent('https://evil.example/')}`, { redirect: 'manual' });
    expect(elsewhere.status).toBe(400);
  });
});

describe('tokens at the HTTP API’s JWT authorizer', () => {
  it('answers 401 to an expired ID token', async () => {
    const { id_token } = await signInAs('tech@example.com');
    clockOffsetMs = 2 * 3600_000;
    const response = await claim(id_token);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
  });

  it('answers 401 to a tampered token (groups rewritten, signature kept)', async () => {
    const { id_token } = await signInAs('visitor@example.com');
    const [header, payload, signature] = id_token.split('.');
    const claims = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')), 'cognito:groups': ['operators'] };
    const tampered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    expect((await claim(tampered)).status).toBe(401);
  });

  it('answers 401 to a token of another issuer’s key, though its claims are right', async () => {
    const { SignJWT, generateKeyPair } = await import('jose');
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ sub: 'x', token_use: 'id', 'cognito:groups': ['technicians'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'someone-else' })
      .setIssuer(ISSUER)
      .setAudience(LOCAL_CONSOLE_CLIENT_ID)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    expect((await claim(forged)).status).toBe(401);
  });

  it('issues tokens for tests with core.issueToken (same keys), with groups', async () => {
    const token = await stack.core.issueToken('bench@example.com', { groups: ['technicians'] });
    expect(decode(token)).toMatchObject({ iss: ISSUER, token_use: 'id', 'cognito:groups': ['technicians'] });
    expect((await claim(token)).status).toBe(201);
    expect((await claim(await stack.core.issueToken('bench@example.com'))).status).toBe(403);
  });
});
