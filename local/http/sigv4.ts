import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isOperatorKey, OPERATOR_SECRET_KEY } from '../iam/access-keys';

/**
 * Signature Version 4 verification, as API Gateway does it for routes with IAM authorization
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html): the
 * canonical request is rebuilt from what arrived on the wire — path segments URI-encoded again, query
 * sorted, the signed headers only — and the signature recomputed with the caller's secret key.
 *
 * Locally an access key id is a 12-digit account id and its secret key is `local` (the same dummy
 * credentials the control plane takes); anything else is an unknown key.
 */

export class SignatureRejectedError extends Error {
  override name = 'SignatureRejectedError';
  constructor(
    message: string,
    /** What API Gateway answers for it. */
    readonly answer: string,
  ) {
    super(message);
  }
}

export interface VerifiedCaller {
  accessKey: string;
  accountId: string;
  callerId: string;
  userArn: string;
  userId: string;
}

export interface SignedRequest {
  method: string;
  /** Path and query exactly as received (`request.url`). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60 * 1000;
const FORBIDDEN = 'Forbidden';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const escape = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The local secret key of an access key id, or undefined when it is not one of ours. */
export function localSecretKey(accessKeyId: string): string | undefined {
  return isOperatorKey(accessKeyId) ? OPERATOR_SECRET_KEY : undefined;
}

export function verifySigV4(
  request: SignedRequest,
  expected: { region: string; service: string; now: Date; secretKey?: (accessKeyId: string) => string | undefined },
): VerifiedCaller {
  const authorization = headerValue(request.headers, 'authorization');
  if (!authorization) throw new SignatureRejectedError('no Authorization header', FORBIDDEN);
  const match = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(authorization.trim());
  if (!match) throw new SignatureRejectedError('the Authorization header is not SigV4', `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.`);
  const [, credential, signedHeaderList, signature] = match as unknown as [string, string, string, string];
  const [accessKeyId, day, region, service, terminator] = credential.split('/');
  if (!accessKeyId || !day || terminator !== 'aws4_request') throw new SignatureRejectedError('malformed credential scope', MISMATCH);
  if (region !== expected.region || service !== expected.service) {
    throw new SignatureRejectedError(`credential scope ${region}/${service}, expected ${expected.region}/${expected.service}`, MISMATCH);
  }
  const secret = (expected.secretKey ?? localSecretKey)(accessKeyId);
  if (secret === undefined) throw new SignatureRejectedError(`unknown access key ${accessKeyId}`, 'The security token included in the request is invalid.');

  const amzDate = headerValue(request.headers, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(day)) throw new SignatureRejectedError('missing or inconsistent X-Amz-Date', MISMATCH);
  const signedAt = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (Math.abs(expected.now.getTime() - signedAt) > MAX_SKEW_MS) throw new SignatureRejectedError('signature expired', 'Signature expired');

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) throw new SignatureRejectedError('host is not signed', MISMATCH);
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${(headerValue(request.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const queryAt = request.url.indexOf('?');
  const rawPath = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
  const rawQuery = queryAt < 0 ? '' : request.url.slice(queryAt + 1);
  // Non-S3 services encode each path segment once more than it arrived.
  const canonicalPath = rawPath.split('/').map(escape).join('/') || '/';
  const canonicalQuery = rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      return [escape(decode(at < 0 ? pair : pair.slice(0, at))), escape(decode(at < 0 ? '' : pair.slice(at + 1)))] as const;
    })
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const payloadHash = headerValue(request.headers, 'x-amz-content-sha256') ?? sha256Hex(request.body);
  const canonicalRequest = [request.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  const computed = createHmac('sha256', signingKey).update(stringToSign).digest();
  if (!timingSafeEqual(computed, Buffer.from(signature, 'hex'))) throw new SignatureRejectedError('signature mismatch', MISMATCH);

  const accountId = accessKeyId;
  return { accessKey: accessKeyId, accountId, callerId: accessKeyId, userArn: `arn:aws:iam::${accountId}:user/local-operator`, userId: accessKeyId };
}
