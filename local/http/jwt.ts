import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';

/**
 * The HTTP API's JWT authorizer, as API Gateway runs it: the token (with or without `Bearer `) must be an
 * RS256 JWT signed by a key of the issuer's JWKS (fetched, as API Gateway fetches it through the issuer's
 * discovery), from the configured issuer, unexpired and already valid (`exp`, `nbf`, `iat`), and its `aud` —
 * or, when it has none, its `client_id` (an access token) — one of the configured audiences
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
 */

export class JwtVerificationError extends Error {
  override name = 'JwtVerificationError';
}

export class JwtAuthorizer {
  constructor(
    /** The JWKS of an issuer this API trusts; undefined for any other issuer (401). */
    private readonly keysOf: (issuer: string) => JWTVerifyGetKey | undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async verify(token: string, expected: { issuer: string; audience: readonly string[] }): Promise<Record<string, unknown>> {
    const keys = this.keysOf(expected.issuer);
    if (!keys) throw new JwtVerificationError('no JWKS for the issuer');
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token.replace(/^Bearer\s+/i, ''), keys, {
        issuer: expected.issuer,
        algorithms: ['RS256'],
        currentDate: this.now(),
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError || error instanceof TypeError) throw new JwtVerificationError(error.message);
      throw error;
    }
    if (typeof claims.iat === 'number' && claims.iat > Math.floor(this.now().getTime() / 1000) + 60) throw new JwtVerificationError('issued in the future');
    const audience = claims.aud ?? claims.client_id;
    const audiences = Array.isArray(audience) ? audience : [audience];
    if (!audiences.some((a) => typeof a === 'string' && expected.audience.includes(a))) throw new JwtVerificationError('wrong audience');
    return claims;
  }
}

/**
 * The claims as the JWT authorizer hands them to the integration (payload 2.0,
 * `requestContext.authorizer.jwt.claims`): every value a string — numbers and booleans as their text, and an
 * array as its values space-separated in brackets (`"cognito:groups": "[operators technicians]"`), the form
 * API Gateway is seen to pass (https://github.com/floci-io/floci/pull/2011, measured against a real HTTP API;
 * https://github.com/aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock/issues/802).
 */
export function claimsAsPassed(claims: Record<string, unknown>): Record<string, string> {
  const text = (value: unknown): string => (Array.isArray(value) ? `[${value.map(text).join(' ')}]` : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));
  return Object.fromEntries(Object.entries(claims).map(([key, value]) => [key, text(value)]));
}
