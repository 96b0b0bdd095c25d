import { createHash, randomBytes, randomUUID, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { invalid } from '../iot-core/errors';

/**
 * The stand-in for the stack's Cognito user pool: its users (passwords hashed with scrypt, in memory only),
 * its groups and app clients (from the template: AWS::Cognito::UserPoolGroup, AWS::Cognito::UserPoolClient),
 * and its RS256 signing key, whose public half the JWKS endpoint serves. Tokens carry the claims Cognito puts
 * in its ID and access tokens
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html):
 * the hosted sign-in (local/cognito/hosted-ui.ts) and `issueToken` (tests, `local token`) issue the same.
 *
 * Not modelled: MFA (the local pool never asks for TOTP), password policies, account states and
 * verification; `cognito:groups` is the only authorization the API reads.
 */

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;

export interface UserPoolClient {
  clientId: string;
  /** CallbackURLs: where the hosted sign-in may send the browser back with a code. */
  callbackUrls: string[];
  logoutUrls: string[];
  /** AllowedOAuthFlows contains `code` (AllowedOAuthFlowsUserPoolClient): the hosted sign-in serves it. */
  oauth: boolean;
}

export interface UserPoolUser {
  username: string;
  sub: string;
  email: string;
  groups: string[];
}

interface StoredUser extends UserPoolUser {
  salt: Buffer;
  passwordHash: Buffer;
}

/** What one sign-in shares between its tokens: Cognito's `origin_jti`, `event_id` and `auth_time`. */
export interface SignInEvent {
  originJti: string;
  eventId: string;
  authTime: number;
}

/** A subject shaped like Cognito's (a UUID), stable per username so tests can predict it. */
export function subjectOf(username: string): string {
  const h = createHash('sha256').update(username.toLowerCase()).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The claims of a Cognito ID token beyond iss, aud, iat and exp (which the signer sets). */
export function idTokenClaims(user: UserPoolUser, signIn: SignInEvent): Record<string, unknown> {
  return {
    sub: user.sub,
    // Cognito leaves the claim out for a user of no group.
    ...(user.groups.length ? { 'cognito:groups': [...user.groups] } : {}),
    email_verified: true,
    'cognito:username': user.username,
    origin_jti: signIn.originJti,
    event_id: signIn.eventId,
    token_use: 'id',
    auth_time: signIn.authTime,
    jti: randomUUID(),
    email: user.email,
  };
}

/** The claims of a Cognito access token beyond iss, iat and exp. It has `client_id`, and no `aud`. */
export function accessTokenClaims(user: UserPoolUser, signIn: SignInEvent, clientId: string, scope: string): Record<string, unknown> {
  return {
    sub: user.sub,
    ...(user.groups.length ? { 'cognito:groups': [...user.groups] } : {}),
    version: 2,
    client_id: clientId,
    origin_jti: signIn.originJti,
    event_id: signIn.eventId,
    token_use: 'access',
    scope,
    auth_time: signIn.authTime,
    jti: randomUUID(),
    username: user.username,
  };
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;

export class LocalUserPool {
  private readonly users = new Map<string, StoredUser>();
  private readonly groups = new Set<string>();
  private readonly clients = new Map<string, UserPoolClient>();

  private constructor(
    /** The issuer the HTTP API's JWT authorizer expects: https://cognito-idp.<region>.amazonaws.com/<pool id>. */
    readonly issuer: string,
    private readonly signing: { privateJwk: JWK; publicJwk: JWK; privateKey: CryptoKey },
    private readonly now: () => Date,
  ) {}

  static async create(issuer: string, now: () => Date = () => new Date()): Promise<LocalUserPool> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
    return new LocalUserPool(issuer, { privateJwk, publicJwk, privateKey }, now);
  }

  /** The JWKS endpoint's document: the public key only. */
  get jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.signing.publicJwk }] };
  }

  /** The signing key as a JWK set, for the OpenID Connect server (never served). */
  get signingJwks(): { keys: JWK[] } {
    return { keys: [{ ...this.signing.privateJwk }] };
  }

  addGroup(name: string): void {
    this.groups.add(name);
  }

  get groupNames(): string[] {
    return [...this.groups].sort();
  }

  addClient(client: UserPoolClient): void {
    this.clients.set(client.clientId, { ...client, callbackUrls: [...client.callbackUrls], logoutUrls: [...client.logoutUrls] });
  }

  /** Lets a client's sign-in return to `url` too (the local console's address, say). */
  allowCallback(clientId: string, url: string): void {
    const client = this.clients.get(clientId);
    if (!client) throw invalid(`no app client ${clientId}`);
    for (const list of [client.callbackUrls, client.logoutUrls]) if (!list.includes(url)) list.push(url);
  }

  client(clientId: string): UserPoolClient | undefined {
    return this.clients.get(clientId);
  }

  get oauthClients(): UserPoolClient[] {
    return [...this.clients.values()].filter((c) => c.oauth);
  }

  /** AdminCreateUser + AdminSetUserPassword + AdminAddUserToGroup in one: the email is the username. */
  async addUser(email: string, password: string, groups: readonly string[]): Promise<UserPoolUser> {
    if (!EMAIL.test(email)) throw invalid('email must be an email address');
    if (typeof password !== 'string' || password.length < 8 || password.length > 256) throw invalid('password must be 8-256 characters');
    for (const group of groups) {
      if (!this.groups.has(group)) throw invalid(`group must be one of ${this.groupNames.join(', ') || '(none deployed)'}, not "${group}"`);
    }
    const username = email.toLowerCase();
    const salt = randomBytes(16);
    const user: StoredUser = { username, sub: subjectOf(username), email: username, groups: [...new Set(groups)], salt, passwordHash: await scrypt(password, salt, 32) };
    this.users.set(username, user);
    return this.view(user);
  }

  user(username: string): UserPoolUser | undefined {
    const user = this.users.get(username.toLowerCase());
    return user && this.view(user);
  }

  get userList(): UserPoolUser[] {
    return [...this.users.values()].map((u) => this.view(u));
  }

  /** The user when the password is theirs; undefined otherwise (the same for an unknown user). */
  async authenticate(email: string, password: string): Promise<UserPoolUser | undefined> {
    const user = this.users.get(String(email).toLowerCase());
    // An unknown user costs a hash too, so the answer's timing does not tell who exists.
    const hash = await scrypt(String(password), user?.salt ?? randomBytes(16), 32);
    return user && timingSafeEqual(hash, user.passwordHash) ? this.view(user) : undefined;
  }

  /** A sign-in's shared identifiers, at `now`. */
  signInEvent(): SignInEvent {
    return { originJti: randomUUID(), eventId: randomUUID(), authTime: Math.floor(this.now().getTime() / 1000) };
  }

  /**
   * An ID token as the hosted sign-in would issue it, for `username` (a user of the pool, or anyone: tests
   * sign tokens for users they never added), for `clientId`, with `groups` (a user's own groups by default).
   */
  async issueIdToken(username: string, clientId: string, options: { groups?: readonly string[]; ttlSeconds?: number; email?: string } = {}): Promise<string> {
    const known = this.user(username);
    const user: UserPoolUser = {
      username: known?.username ?? username,
      sub: known?.sub ?? subjectOf(username),
      email: options.email ?? known?.email ?? (username.includes('@') ? username : `${username}@example.com`),
      groups: [...(options.groups ?? known?.groups ?? [])],
    };
    const now = Math.floor(this.now().getTime() / 1000);
    return new SignJWT(idTokenClaims(user, this.signInEvent()))
      .setProtectedHeader({ alg: 'RS256', kid: this.signing.publicJwk.kid! })
      .setIssuer(this.issuer)
      .setAudience(clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + (options.ttlSeconds ?? 3600))
      .sign(this.signing.privateKey);
  }

  private view(user: StoredUser): UserPoolUser {
    return { username: user.username, sub: user.sub, email: user.email, groups: [...user.groups] };
  }
}
