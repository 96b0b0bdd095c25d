import { createHash, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';

/**
 * A stand-in for the Cognito user pool behind the HTTP API's JWT authorizer: it issues RS256 ID tokens
 * for local users, and verifies them as API Gateway's JWT authorizer does (signature, issuer, audience or
 * client_id, expiry, not-before).
 */

const b64url = (input: Buffer | string) => Buffer.from(input).toString('base64url');

export class JwtVerificationError extends Error {
  override name = 'JwtVerificationError';
}

export class LocalJwtIssuer {
  private readonly keyId = randomUUID();
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(
    readonly issuerUrl: string,
    readonly audience: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicKey = publicKey;
  }

  /** An ID token like Cognito's for `username`, valid for `ttlSeconds`; `groups` become `cognito:groups` (absent when none, as Cognito). */
  issue(username: string, options: { ttlSeconds?: number; email?: string; groups?: readonly string[] } = {}): string {
    const now = Math.floor(this.now().getTime() / 1000);
    // A stable, UUID-shaped subject per username, as Cognito gives each user one.
    const h = createHash('sha256').update(username).digest('hex');
    const sub = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    const claims = {
      sub,
      iss: this.issuerUrl,
      aud: this.audience,
      token_use: 'id',
      'cognito:username': username,
      ...(options.groups?.length ? { 'cognito:groups': [...options.groups] } : {}),
      email: options.email ?? `${username}@example.com`,
      auth_time: now,
      iat: now,
      exp: now + (options.ttlSeconds ?? 3600),
    };
    const header = { alg: 'RS256', typ: 'JWT', kid: this.keyId };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), this.privateKey))}`;
  }

  /** Verifies a token for an authorizer configured with `issuer` and `audience`; returns its claims. */
  verify(token: string, expected: { issuer: string; audience: readonly string[] }): Record<string, unknown> {
    const parts = token.replace(/^Bearer\s+/i, '').split('.');
    if (parts.length !== 3) throw new JwtVerificationError('not a JWT');
    const [header, payload, signature] = parts as [string, string, string];
    let decodedHeader: { alg?: string };
    let claims: Record<string, unknown>;
    try {
      decodedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string };
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new JwtVerificationError('malformed JWT');
    }
    if (decodedHeader.alg !== 'RS256') throw new JwtVerificationError('unsupported algorithm');
    if (!verify('sha256', Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'))) {
      throw new JwtVerificationError('bad signature');
    }
    const now = Math.floor(this.now().getTime() / 1000);
    if (claims.iss !== expected.issuer) throw new JwtVerificationError('wrong issuer');
    const audience = claims.aud ?? claims.client_id;
    if (typeof audience !== 'string' || !expected.audience.includes(audience)) throw new JwtVerificationError('wrong audience');
    if (typeof claims.exp !== 'number' || claims.exp <= now) throw new JwtVerificationError('expired');
    if (typeof claims.nbf === 'number' && claims.nbf > now) throw new JwtVerificationError('not yet valid');
    return claims;
  }
}
