import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, Provider, SourceData } from '@smithy/types';

/**
 * SigV4 for the IAM-authorized HTTP API (service `execute-api`): the request is signed with the caller's
 * AWS credentials exactly as API Gateway verifies them. @smithy/signature-v4 wants a SHA-256 (and HMAC)
 * constructor; node:crypto provides both.
 */

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data as ArrayBuffer);

export class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }

  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

export interface SignedResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Sends an HTTP request signed with SigV4 for `execute-api` (or `service`) in `region`. */
export async function signedFetch(
  url: URL,
  request: {
    method: string;
    body?: string;
    headers?: Record<string, string>;
    region: string;
    credentials: Provider<AwsCredentialIdentity>;
    timeoutMs?: number;
    service?: string;
  },
): Promise<SignedResponse> {
  const signer = new SignatureV4({ service: request.service ?? 'execute-api', region: request.region, credentials: request.credentials, sha256: NodeSha256 });
  const headers: Record<string, string> = {
    host: url.host,
    ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...request.headers,
  };
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    ...(request.body !== undefined ? { body: request.body } : {}),
  });
  const response = await fetch(url, {
    method: request.method,
    // fetch sets Host itself from the URL, which is what was signed.
    headers: Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name.toLowerCase() !== 'host')),
    ...(request.body !== undefined ? { body: request.body } : {}),
    signal: AbortSignal.timeout(request.timeoutMs ?? 30_000),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}
