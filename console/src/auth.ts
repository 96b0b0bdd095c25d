import * as oauth from 'oauth4webapi';
import type { ConsoleConfig } from './config';

/**
 * Sign-in through the user pool's managed login: OAuth 2.0 authorization code with PKCE (S256), as a public
 * client. No password ever reaches this page. The tokens live in sessionStorage (this tab only, gone when it
 * closes); the PKCE verifier, state and nonce only for the round trip.
 */

export interface Session {
  idToken: string;
  expiresAt: number;
  email?: string;
  username?: string;
  groups: string[];
}

const SESSION_KEY = 'iot-provisioner.session';
const PENDING_KEY = 'iot-provisioner.sign-in';

const redirectUri = () => `${location.origin}${location.pathname}`;

function server(config: ConsoleConfig): oauth.AuthorizationServer {
  const domain = config.signIn.domain.replace(/\/+$/, '');
  return { issuer: config.signIn.issuer, authorization_endpoint: `${domain}/oauth2/authorize`, token_endpoint: `${domain}/oauth2/token` };
}

/** cognito:groups is an array in the token itself. */
function groupsOf(claim: unknown): string[] {
  return Array.isArray(claim) ? claim.filter((g): g is string => typeof g === 'string') : [];
}

export function currentSession(): Session | undefined {
  const text = sessionStorage.getItem(SESSION_KEY);
  if (!text) return undefined;
  const session = JSON.parse(text) as Session;
  if (Date.now() >= session.expiresAt - 30_000) {
    sessionStorage.removeItem(SESSION_KEY);
    return undefined;
  }
  return session;
}

export async function signIn(config: ConsoleConfig): Promise<never> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ codeVerifier, state, nonce, returnTo: location.hash }));
  const url = new URL(server(config).authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.signIn.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid email profile',
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }).toString();
  location.assign(url.href);
  return new Promise<never>(() => {});
}

/** After the managed login redirected back with `?code=…&state=…`: the code for tokens. */
export async function completeSignIn(config: ConsoleConfig): Promise<Session | undefined> {
  const here = new URL(location.href);
  if (!here.searchParams.has('code') && !here.searchParams.has('error')) return undefined;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as { codeVerifier: string; state: string; nonce: string; returnTo: string } | null;
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', `${location.pathname}${pending?.returnTo ?? ''}`);
  if (!pending) throw new Error('the sign-in was not started from this tab; sign in again');
  const as = server(config);
  const client: oauth.Client = { client_id: config.signIn.clientId };
  const params = oauth.validateAuthResponse(as, client, here, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri(), pending.codeVerifier, {
    [oauth.allowInsecureRequests]: as.token_endpoint!.startsWith('http://'),
  });
  const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: pending.nonce, requireIdToken: true });
  const claims = oauth.getValidatedIdTokenClaims(result)!;
  const session: Session = {
    idToken: result.id_token!,
    expiresAt: (claims.exp ?? 0) * 1000,
    groups: groupsOf(claims['cognito:groups']),
    ...(typeof claims.email === 'string' ? { email: claims.email } : {}),
    ...(typeof claims['cognito:username'] === 'string' ? { username: claims['cognito:username'] as string } : {}),
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function signOut(config: ConsoleConfig): void {
  sessionStorage.removeItem(SESSION_KEY);
  const url = new URL(`${config.signIn.domain.replace(/\/+$/, '')}/logout`);
  url.search = new URLSearchParams({ client_id: config.signIn.clientId, logout_uri: redirectUri() }).toString();
  location.assign(url.href);
}
